"""Decoding: every format and source kind, librosa-equal resampling, and each bad input's error."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soxr
from synthesised import KnownNote, encode_pyav, encode_soundfile, synthesise

from midiscribe.engine.audio import AudioStream, resampled_length
from midiscribe.engine.constants import MODEL_SAMPLE_RATE
from midiscribe.engine.errors import (
    AudioDecodeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyInputError,
    NoAudioError,
    NotAudioError,
)

TONE = synthesise([KnownNote(69, 0.1, 1.4)], 1.5)  # A4, 1.5 s, stereo 44.1 kHz


def decode(source, **kwargs) -> tuple[np.ndarray, AudioStream]:
    with AudioStream(source, **kwargs) as stream:
        blocks = list(stream.blocks())
    return (np.concatenate(blocks) if blocks else np.zeros(0, np.float32)), stream


def dominant_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1 / MODEL_SAMPLE_RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate"),
    [
        ("WAV", "PCM_16", 44100),
        ("WAV", "PCM_24", 48000),
        ("WAV", "FLOAT", 22050),
        ("WAV", "PCM_U8", 8000),
        ("FLAC", "PCM_16", 44100),
        ("OGG", "VORBIS", 44100),
        ("OGG", "OPUS", 48000),
        ("MP3", "MPEG_LAYER_III", 44100),
        ("AIFF", "PCM_16", 32000),
    ],
)
def test_soundfile_formats_decode_to_22050_mono(fmt, subtype, rate):
    samples = synthesise([KnownNote(69, 0.1, 1.4)], 1.5, sample_rate=rate)
    audio, stream = decode(encode_soundfile(samples, rate, fmt, subtype))
    assert stream.info.decoder == "soundfile"
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / MODEL_SAMPLE_RATE - 1.5) < 0.08  # codecs add a little priming
    assert audio.size == resampled_length(stream.decoded_frames, rate)
    assert abs(dominant_hz(audio) - 440.0) < 3.0


@pytest.mark.parametrize(("container", "codec", "rate"), [("ipod", "aac", 44100), ("webm", "libopus", 48000)])
def test_containers_libsndfile_cannot_read_go_through_pyav(container, codec, rate):
    samples = synthesise([KnownNote(69, 0.1, 1.4)], 1.5, sample_rate=rate)
    data = encode_pyav(samples, rate, container, codec)
    audio, stream = decode(data)
    assert stream.info.decoder == "pyav"
    assert stream.info.channels == 2
    assert abs(audio.size / MODEL_SAMPLE_RATE - 1.5) < 0.1
    assert abs(dominant_hz(audio) - 440.0) < 3.0


def test_resampling_equals_librosas_one_shot_soxr_hq():
    """basic-pitch's loader: channel mean, one-shot soxr HQ, then length ceil(n * 22050 / rate)."""
    audio, _ = decode(encode_soundfile(TONE, 44100, "WAV", "FLOAT"))
    mono = TONE.mean(axis=1, dtype=np.float32)
    expected = soxr.resample(mono, 44100, MODEL_SAMPLE_RATE, quality="HQ")
    wanted = int(np.ceil(mono.size * MODEL_SAMPLE_RATE / 44100))
    expected = np.pad(expected, (0, max(0, wanted - expected.size)))[:wanted]
    np.testing.assert_array_equal(audio, expected)


def test_path_bytes_file_object_and_pipe_give_the_same_samples(tmp_path):
    data = encode_soundfile(TONE, 44100, "FLAC", "PCM_16")
    path = tmp_path / "tone.flac"
    path.write_bytes(data)

    class Pipe(io.RawIOBase):  # readable, not seekable: like a socket or stdin
        def __init__(self, payload: bytes):
            self._source = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            chunk = self._source.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    results = [decode(source)[0] for source in (path, str(path), data, io.BytesIO(data), Pipe(data))]
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_long_input_is_streamed_in_bounded_blocks():
    minute = np.zeros((60 * 44100, 1), dtype=np.float32)
    with AudioStream(encode_soundfile(minute, 44100, "WAV", "PCM_16")) as stream:
        sizes = [block.size for block in stream.blocks()]
    assert len(sizes) > 20
    assert max(sizes) < 50_000


def test_non_finite_samples_are_replaced_by_silence():
    samples = TONE.copy()
    samples[1000:1100] = np.nan
    samples[5000] = np.inf
    samples[6000] = -np.inf
    audio, _ = decode(encode_soundfile(samples, 44100, "WAV", "FLOAT"))
    assert np.isfinite(audio).all()
    assert abs(dominant_hz(audio) - 440.0) < 3.0


def test_empty_input():
    with pytest.raises(EmptyInputError, match="empty"):
        AudioStream(b"")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"title,artist\nSong,Someone\n" * 20, "text"),
        ('{"audio": "not really", "note": "é"}'.encode(), "text"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG"),
        (b"\xff\xd8\xff\xe0" + bytes(200), "JPEG"),
        (b"%PDF-1.7\n" + bytes(200), "PDF"),
        (b"MThd\x00\x00\x00\x06" + bytes(30), "MIDI"),
    ],
)
def test_not_audio_is_named(payload, kind):
    with pytest.raises(NotAudioError, match=kind) as caught:
        AudioStream(payload)
    assert caught.value.code == "NOT_AUDIO"


def test_random_binary_is_not_audio():
    noise = np.random.default_rng(3).integers(1, 255, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(NotAudioError, match="not an audio format"):
        AudioStream(b"\x00\x01" + noise)


def test_truncated_wav_is_reported_as_truncated():
    data = encode_soundfile(TONE, 44100, "WAV", "PCM_16")
    with pytest.raises(CorruptAudioError, match="truncated"):
        AudioStream(data[: len(data) // 2])


@pytest.mark.parametrize("as_path", [False, True])
def test_truncated_wav_whose_data_chunk_is_past_the_first_64_kb_is_reported_as_truncated(tmp_path, as_path):
    """A recorder's metadata (a LIST or bext chunk, cover art) can put the data chunk beyond the 64 KB the
    header is read from: such a file cut in half was transcribed as a shorter recording, without a word."""
    data = encode_soundfile(TONE, 44100, "WAV", "PCM_16")
    metadata = b"LIST" + struct.pack("<I", 200_000) + b"INFO" + bytes(199_996)
    fmt_end = 20 + struct.unpack("<I", data[16:20])[0]
    whole = data[:fmt_end] + metadata + data[fmt_end:]
    whole = b"RIFF" + struct.pack("<I", len(whole) - 8) + whole[8:]
    with AudioStream(whole) as complete:
        assert complete.info.frames == len(TONE)
    cut = whole[: len(whole) - 100_000]
    source = tmp_path / "cut.wav" if as_path else cut
    if as_path:
        source.write_bytes(cut)
    with pytest.raises(CorruptAudioError, match="is truncated: its header announces"):
        AudioStream(source)


def test_truncated_aiff_is_reported_as_truncated():
    data = encode_soundfile(TONE, 44100, "AIFF", "PCM_16")
    with pytest.raises(CorruptAudioError, match="truncated"):
        AudioStream(data[: len(data) // 3])


@pytest.mark.parametrize(("fmt", "subtype"), [("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_truncated_compressed_files_are_corrupt(fmt, subtype):
    data = encode_soundfile(synthesise([KnownNote(69, 0.1, 3.9)], 4.0), 44100, fmt, subtype)
    with pytest.raises(CorruptAudioError):
        decode(data[: len(data) // 2])


def test_truncated_m4a_is_corrupt():
    data = encode_pyav(TONE, 44100, "ipod", "aac")
    with pytest.raises(CorruptAudioError):
        decode(data[: len(data) // 2])


def test_audio_header_followed_by_garbage_is_corrupt():
    with pytest.raises(CorruptAudioError):
        AudioStream(b"fLaC" + bytes(range(256)) * 4)


def test_zero_length_audio():
    data = encode_soundfile(np.zeros((0, 2), dtype=np.float32), 44100, "WAV", "PCM_16")
    with pytest.raises(NoAudioError, match="zero length") as caught:
        AudioStream(data)
    assert caught.value.code == "ZERO_LENGTH_AUDIO"


@pytest.mark.parametrize("data_size", [0, 0xFFFFFFFF])
def test_a_wav_whose_data_size_was_never_written_decodes_all_its_samples(data_size, tmp_path):
    """A recorder writing into a pipe leaves the data chunk's size at 0 (or all ones). libsndfile reads 0 as
    no frames, and the task failed as ZERO_LENGTH_AUDIO in the worker, though submit had accepted it."""
    data = bytearray(encode_soundfile(TONE, 44100, "WAV", "PCM_16"))
    data[40:44] = struct.pack("<I", data_size)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    for source in (bytes(data), path):
        with AudioStream(source) as audio:
            decoded = np.concatenate(list(audio.blocks()))
            assert audio.decoded_frames == len(TONE)
        assert len(decoded) == resampled_length(len(TONE), 44100)


def test_longer_than_the_maximum_is_refused_before_decoding():
    data = encode_soundfile(TONE, 44100, "WAV", "PCM_16")
    with pytest.raises(AudioTooLongError, match="maximum") as caught:
        AudioStream(data, max_duration_s=1.0)
    assert caught.value.code == "AUDIO_TOO_LONG"


def test_the_limit_also_holds_while_decoding():
    """Containers may not say how long they are (or lie): decoded samples are counted too."""
    with AudioStream(encode_soundfile(TONE, 44100, "WAV", "PCM_16")) as stream:
        stream.max_duration_s = 1.0  # as if the header had announced nothing
        with pytest.raises(AudioTooLongError, match="at least"):
            for _ in stream.blocks():
                pass


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(AudioDecodeError, match="does not exist"):
        AudioStream(tmp_path / "nope.wav")


def test_many_channels_are_averaged_like_librosa():
    rng = np.random.default_rng(7)
    samples = (rng.standard_normal((22050, 6)) * 0.1).astype(np.float32)
    audio, _ = decode(encode_soundfile(samples, 22050, "WAV", "FLOAT"))
    np.testing.assert_array_equal(audio, samples.T.mean(axis=0))  # librosa.to_mono's expression


def test_a_video_without_sound_has_no_audio():
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), index * 40, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    with pytest.raises(NoAudioError, match="no audio track"):
        AudioStream(buffer.getvalue())
