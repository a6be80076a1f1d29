"""file_convert's audio conversion (the engine's decoder, soxr, libsndfile) on tiny generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from midiscribe.domain.conversions import ConvertSpec
from midiscribe.engine.errors import AudioTooLongError, EmptyInputError, NotAudioError
from midiscribe.service.worker.conversion import convert_file
from midiscribe.service.worker.errors import TaskInputError


@pytest.fixture
def stereo_wav(tmp_path: Path) -> Path:
    t = np.arange(4410) / 22050
    tone = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.4 * np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "in.wav"
    soundfile.write(path, tone, 22050, subtype="PCM_16")
    return path


@pytest.mark.parametrize(
    ("spec", "subtype", "rate"),
    [
        (ConvertSpec("wav", 44100, 24), "PCM_24", 44100),
        (ConvertSpec("flac", None, 24), "PCM_24", 22050),
        (ConvertSpec("aiff", 16000, 32), "PCM_32", 16000),
        (ConvertSpec("wav"), "PCM_16", 22050),
        (ConvertSpec("ogg", 48000), "VORBIS", 48000),
        (ConvertSpec("mp3", 44100), "MPEG_LAYER_III", 44100),
    ],
)
def test_conversions_write_the_asked_format(stereo_wav: Path, tmp_path: Path, spec, subtype, rate) -> None:
    out = tmp_path / f"out.{spec.target_format}"
    duration = convert_file(stereo_wav, out, spec, max_duration_s=60)
    assert duration == pytest.approx(0.2, abs=0.01)
    info = soundfile.info(out)
    assert info.subtype == subtype and info.samplerate == rate and info.channels == 2
    data, _ = soundfile.read(out)
    # Lossy codecs pad a little; the length stays about the same.
    assert data.shape[0] == pytest.approx(0.2 * rate, rel=0.2)


def test_container_libsndfile_cannot_read_is_decoded_with_pyav(tmp_path: Path) -> None:
    import av

    path = tmp_path / "clip.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=22050, layout="mono")
        samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(11025) / 22050)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = 22050
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    out = tmp_path / "clip.wav"
    duration = convert_file(path, out, ConvertSpec("wav"), max_duration_s=60)
    data, rate = soundfile.read(out, always_2d=True)
    assert rate == 22050 and data.shape[1] == 1
    assert data.shape[0] == pytest.approx(11025, rel=0.2) and duration == pytest.approx(0.5, rel=0.2)


def test_text_file_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio at all\n" * 20)
    with pytest.raises(NotAudioError) as caught:
        convert_file(path, tmp_path / "out.wav", ConvertSpec("wav"), max_duration_s=60, name="notes.txt")
    # The engine's own message, as a transcription of the same file gets it.
    assert caught.value.message.startswith("notes.txt is a text file, not audio.")


def test_empty_and_too_long_inputs(stereo_wav: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyInputError):
        convert_file(empty, tmp_path / "out.wav", ConvertSpec("wav"), max_duration_s=60)
    with pytest.raises(AudioTooLongError):
        convert_file(stereo_wav, tmp_path / "out.wav", ConvertSpec("wav"), max_duration_s=0.1)


def test_an_output_growing_past_the_bound_stops_the_conversion(stereo_wav: Path, tmp_path: Path) -> None:
    """The bound holds while writing too, for inputs whose header says nothing of their length."""
    spec = ConvertSpec("wav", 192_000, 32)  # 0.2 s of stereo becomes 0.2 * 192000 * 2 * 4 = 307 KB
    with pytest.raises(TaskInputError) as caught:
        convert_file(stereo_wav, tmp_path / "out.wav", spec, max_duration_s=60, max_output_bytes=100_000)
    assert caught.value.code == "OUTPUT_TOO_LARGE" and "1536 MB" in caught.value.message
    convert_file(stereo_wav, tmp_path / "fits.wav", spec, max_duration_s=60, max_output_bytes=400_000)


def test_a_format_that_cannot_hold_the_channels_is_refused_in_our_words(tmp_path: Path) -> None:
    path = tmp_path / "six.wav"
    soundfile.write(path, np.zeros((2205, 6)), 22050, subtype="PCM_16")
    with pytest.raises(TaskInputError) as caught:
        convert_file(path, tmp_path / "out.mp3", ConvertSpec("mp3", 22050), max_duration_s=60)
    assert caught.value.code == "UNSUPPORTED_CONVERSION" and "6-channel" in caught.value.message
    # No sample rate makes mp3 hold more than two channels: the way out is another format.
    assert "mp3 holds at most 2 channels" in caught.value.message and "target_sr" not in caught.value.message
    assert "ogg" in caught.value.message


@pytest.mark.parametrize("spec", [ConvertSpec("flac"), ConvertSpec("wav", 44100), ConvertSpec("mp3", 22050)])
def test_samples_that_are_not_numbers_are_converted_as_silence(tmp_path: Path, spec) -> None:
    """A float WAV holding NaN and infinities: FLAC's encoder failed with a bare AssertionError, which
    the worker took for a temporary error and retried until the queue gave up."""
    samples = 0.3 * np.sin(2 * np.pi * 440 * np.arange(4410) / 22050)
    samples[100:200], samples[300], samples[400] = np.nan, np.inf, -np.inf
    path = tmp_path / "nan.wav"
    soundfile.write(path, np.stack([samples, samples], axis=1), 22050, subtype="FLOAT")
    out = tmp_path / f"out.{spec.target_format}"
    assert convert_file(path, out, spec, max_duration_s=60) == pytest.approx(0.2)
    data, _ = soundfile.read(out)
    assert np.isfinite(data).all() and np.abs(data).max() > 0.1


def test_a_sample_rate_mp3_cannot_hold_says_to_give_target_sr(tmp_path: Path) -> None:
    path = tmp_path / "hires.wav"
    soundfile.write(path, np.zeros((9600, 1)), 96000, subtype="PCM_16")
    with pytest.raises(TaskInputError) as caught:
        convert_file(path, tmp_path / "out.mp3", ConvertSpec("mp3"), max_duration_s=60)
    assert caught.value.code == "UNSUPPORTED_CONVERSION" and "give target_sr" in caught.value.message


@pytest.mark.parametrize("spec", [ConvertSpec("flac", 22050), ConvertSpec("wav", 22050)])
def test_samples_that_overflow_the_resampler_are_converted_as_silence(tmp_path: Path, spec) -> None:
    """Samples near float32's largest are finite, but soxr's filter overflows them to NaN: FLAC failed
    with an AssertionError, and LAME (mp3) aborted the whole process, the local stack with it."""
    samples = np.full((4410, 2), 3e38, dtype=np.float32)
    samples[:2205] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(2205) / 44100)[:, None]
    path = tmp_path / "loud.wav"
    soundfile.write(path, samples, 44100, subtype="FLOAT")
    out = tmp_path / f"out.{spec.target_format}"
    convert_file(path, out, spec, max_duration_s=60)
    data, _ = soundfile.read(out)
    assert np.isfinite(data).all()
