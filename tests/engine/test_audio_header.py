"""What headers declare, read without decoding, and the limits every input is held to (API and decoder alike)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from synthesised import KnownNote, encode_pyav, encode_soundfile, synthesise

from midiscribe.engine.audio import AudioStream
from midiscribe.engine.audio_header import (
    HEADER_BYTES,
    MAX_CHANNELS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    DeclaredAudio,
    check_complete,
    check_declared,
    read_header,
)
from midiscribe.engine.errors import (
    AudioTooLongError,
    CorruptAudioError,
    NoAudioError,
    NotAudioError,
    UnsupportedAudioError,
)

TONE = synthesise([KnownNote(69, 0.1, 0.9)], 1.0)  # stereo 44.1 kHz
# What a decoding library says about itself, which users must never read.
LIBRARY_WORDS = ("pipe", "SF_INFO", "Errno", "struct", "libsndfile", "soundfile", "pyav", "ffmpeg", "av.error")


def samples(channels: int, frames: int = 4410) -> np.ndarray:
    return np.zeros((frames, channels), dtype=np.float32)


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate", "channels", "container"),
    [
        ("WAV", "PCM_16", 44100, 2, "WAV"),
        ("WAV", "FLOAT", 22050, 1, "WAV"),
        ("WAV", "PCM_24", 96000, 6, "WAV"),  # 6 channels: WAVE_FORMAT_EXTENSIBLE
        ("RF64", "PCM_16", 48000, 2, "WAV"),
        ("AIFF", "PCM_16", 32000, 2, "AIFF"),
        ("FLAC", "PCM_16", 88200, 2, "FLAC"),
    ],
)
def test_lossless_headers_declare_rate_channels_and_length(fmt, subtype, rate, channels, container):
    data = encode_soundfile(samples(channels, rate // 2), rate, fmt, subtype)
    assert read_header(data[:HEADER_BYTES], len(data)) == DeclaredAudio(container, rate, channels, rate // 2)


@pytest.mark.parametrize(("subtype", "rate", "declared_rate"), [("VORBIS", 44100, 44100), ("OPUS", 24000, 48000)])
def test_ogg_headers_declare_rate_and_channels_but_not_length(subtype, rate, declared_rate):
    data = encode_soundfile(TONE, rate, "OGG", subtype)
    assert read_header(data, len(data)) == DeclaredAudio("Ogg", declared_rate, 2, None)


def test_a_flac_behind_an_id3_tag_is_read():
    flac = encode_soundfile(TONE, 44100, "FLAC", "PCM_16")
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 20]) + bytes(20)
    assert read_header(tag + flac, None) == DeclaredAudio("FLAC", 44100, 2, 44100)


@pytest.mark.parametrize("data", [
    b"", b"RIFF", b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01", b"fLaC\x00", b"not audio at all",
    encode_soundfile(TONE, 44100, "MP3", "MPEG_LAYER_III"), encode_pyav(TONE, 44100, "ipod", "aac"),
])
def test_anything_else_or_cut_short_declares_nothing(data):
    assert read_header(data, len(data)) is None


def test_a_wav_written_while_streaming_takes_its_length_from_the_file_size():
    data = bytearray(encode_soundfile(samples(1, 1000), 8000, "WAV", "PCM_16"))
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # the data chunk's size, never filled in
    assert read_header(bytes(data), len(data)).frames == 1000


def test_a_wav_whose_size_was_never_written_has_an_unknown_length_until_the_file_size_is_known():
    data = bytearray(encode_soundfile(samples(1, 1000), 8000, "WAV", "PCM_16"))
    data[40:44] = struct.pack("<I", 0)  # the other "never filled in" size
    assert read_header(bytes(data), None).frames is None  # not 0: a stream is not empty for want of its size
    check_declared(read_header(bytes(data), None), "live.wav", max_duration_s=60)
    assert read_header(bytes(data), len(data)).frames == 1000


def test_a_header_with_no_samples_behind_it_is_refused_as_zero_length():
    empty = encode_soundfile(samples(2, 0), 44100, "WAV", "PCM_16")
    declared = read_header(empty, len(empty))
    assert declared.frames == 0
    with pytest.raises(NoAudioError) as caught:
        check_declared(declared, "blank.wav", max_duration_s=None)
    assert caught.value.code == "ZERO_LENGTH_AUDIO"
    assert caught.value.message == "blank.wav holds no audio samples (zero length). Send a recording with sound in it."


def test_an_aiff_whose_frame_count_was_never_written_has_an_unknown_length_and_decodes():
    # ffmpeg writing AIFF into a pipe leaves COMM's frame count (and SSND's size) at 0; libsndfile reads the
    # samples behind SSND. It was refused as ZERO_LENGTH_AUDIO, at submit and by the decoder.
    data = bytearray(encode_soundfile(samples(1, 1000), 8000, "AIFF", "PCM_16"))
    comm, ssnd = data.index(b"COMM"), data.index(b"SSND")
    data[comm + 10:comm + 14] = struct.pack(">I", 0)
    data[ssnd + 4:ssnd + 8] = struct.pack(">I", 0)
    declared = read_header(bytes(data), len(data))
    assert declared == DeclaredAudio("AIFF", 8000, 1, None)
    check_declared(declared, "piped.aiff", max_duration_s=60)
    with AudioStream(bytes(data), name="piped.aiff") as stream:
        assert stream.info.frames == 1000
    empty = encode_soundfile(samples(1, 0), 8000, "AIFF", "PCM_16")
    assert read_header(empty, len(empty)).frames == 0  # nothing behind SSND: refused as before
    with pytest.raises(NoAudioError):
        AudioStream(empty, name="blank.aiff")


def test_a_wav_cut_short_is_told_truncated_before_its_overstated_length_is_held_to_the_limit():
    # 100 MB of audio announced (6.9 hours at 8 kHz, 16-bit), 1000 frames present: the decoder said the file
    # was too long and should be trimmed, where the truth is that most of it is missing.
    data = bytearray(encode_soundfile(samples(1, 1000), 8000, "WAV", "PCM_16"))
    data[40:44] = struct.pack("<I", 100_000_000)
    with pytest.raises(CorruptAudioError, match="cut.wav is truncated: its header announces 100000000 bytes"):
        check_complete(bytes(data), len(data), "cut.wav")
    with pytest.raises(CorruptAudioError, match="is truncated: its header announces 100000000 bytes of audio but "
                                                 "only 2000 are present"):
        AudioStream(bytes(data), max_duration_s=3600)
    check_complete(bytes(data), None, "cut.wav")  # without the file's size, nothing to compare
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # written while streaming: complete
    check_complete(bytes(data), len(data), "streamed.wav")


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        (DeclaredAudio("WAV", 1, 1, 2000), "sample rate of 1 Hz"),
        (DeclaredAudio("FLAC", 384_000, 2, 384_000), "sample rate of 384000 Hz"),
        (DeclaredAudio("WAV", 768_000, 1, 10), "sample rate of 768000 Hz"),
        (DeclaredAudio("WAV", 44100, 9, 10), "9 channels"),
    ],
)
def test_rates_and_channels_outside_the_limits_are_refused_with_the_limit(declared, problem):
    with pytest.raises(UnsupportedAudioError) as caught:
        check_declared(declared, "song.wav", max_duration_s=None)
    message = caught.value.message
    assert caught.value.code == "UNSUPPORTED_AUDIO" and message.startswith("song.wav declares")
    assert problem in message
    assert f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz" in message or f"1 to {MAX_CHANNELS} channels" in message


@pytest.mark.parametrize("rate, channels", [(4_000_000_000, 1), (251_211_883, 2), (0, 2), (44100, 0), (44100, 5000)])
def test_a_header_declaring_what_no_audio_has_is_damaged_not_to_be_resampled(rate, channels):
    # Random bytes after "RIFF....WAVEfmt " were told to be resampled "to 44100 or 48000 Hz".
    with pytest.raises(CorruptAudioError) as caught:
        check_declared(DeclaredAudio("WAV", rate, channels, 10), "take.wav", max_duration_s=None)
    message = caught.value.message
    assert message.startswith("take.wav has a damaged header") and f"{rate} Hz and {channels} channels" in message
    assert "Resample" not in message and "Export or copy the file again" in message


def test_the_limits_themselves_are_accepted():
    for rate, channels in ((MIN_SAMPLE_RATE, 1), (MAX_SAMPLE_RATE, MAX_CHANNELS)):
        check_declared(DeclaredAudio("WAV", rate, channels, rate), "edge.wav", max_duration_s=1.0)


def test_a_declared_length_over_the_maximum_is_too_long():
    with pytest.raises(AudioTooLongError) as caught:
        check_declared(DeclaredAudio("FLAC", 22050, 1, 22050 * 7200), "long.flac", max_duration_s=3600)
    assert caught.value.message == ("long.flac is 120.0 minutes long; the maximum is 60.0 minutes. "
                                    "Trim it or split it into shorter parts.")


def flac_declaring(seconds: float, rate: int, channels: int) -> bytes:
    """A short FLAC whose STREAMINFO says ``seconds`` long (what a decoder trusts)."""
    data = bytearray(encode_soundfile(np.zeros((rate // 10, channels), dtype=np.int16), rate, "FLAC", "PCM_16"))
    packed = int.from_bytes(data[18:26], "big")
    data[18:26] = ((packed & ~((1 << 36) - 1)) | int(seconds * rate)).to_bytes(8, "big")
    return bytes(data)


def test_the_decoder_refuses_a_declared_bomb_before_decoding_a_sample():
    with pytest.raises(UnsupportedAudioError, match="384000 Hz"):
        AudioStream(flac_declaring(60, 384_000, 8))
    with pytest.raises(AudioTooLongError):
        AudioStream(flac_declaring(7200, 22050, 1), max_duration_s=3600)


def wav_claiming(rate: int) -> bytes:
    frames = bytes(4000)
    return (b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, (rate * 2) & 0xFFFFFFFF, 2, 16)
            + b"data" + struct.pack("<I", len(frames)) + frames)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (bytes(np.random.default_rng(8).integers(0, 256, 50_000, dtype=np.uint8)), (NotAudioError, CorruptAudioError)),
        (b"\xff\xfb\x90\x00" + bytes(np.random.default_rng(9).integers(0, 256, 5000, dtype=np.uint8)),
         (NotAudioError, CorruptAudioError)),
        (wav_claiming(4_000_000_000), CorruptAudioError),  # no audio has 4 GHz: a damaged header
        (b"fLaC" + bytes(range(256)) * 4, CorruptAudioError),
        (encode_soundfile(synthesise([KnownNote(69, 0.1, 3.9)], 4.0), 44100, "FLAC", "PCM_16")[:5000], CorruptAudioError),
    ],
    ids=["random-bytes", "mp3-sync-then-noise", "4-ghz-wav", "flac-garbage", "flac-cut"],
)
def test_decoder_failures_are_told_in_our_words(data, error):
    with pytest.raises(error) as caught:
        with AudioStream(data, name="upload.mp3") as stream:
            for _ in stream.blocks():
                pass
    message = caught.value.message
    assert message.startswith("upload.mp3 ") and not [w for w in LIBRARY_WORDS if w.lower() in message.lower()]
