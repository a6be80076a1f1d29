"""The sonified WAV: right format and length, the right pitches, silence where there are no notes, no clipping."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from midiscribe.engine import sonify
from midiscribe.engine.constants import SONIFY_SAMPLE_RATE
from midiscribe.engine.transcription import NoteEvent, Transcription

RATE = SONIFY_SAMPLE_RATE


def read_wav(data: bytes) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(io.BytesIO(data)) as reader:
        params = reader.getparams()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return params, samples


def wav_bytes(transcription: Transcription) -> bytes:
    buffer = io.BytesIO()
    transcription.write_wav(buffer)
    return buffer.getvalue()


def test_wav_is_mono_16_bit_44k1_and_as_long_as_the_audio():
    params, samples = read_wav(wav_bytes(Transcription([NoteEvent(0.2, 0.7, 69, 0.7)], 1.75)))
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 44_100)
    assert params.nframes == len(samples) == round(1.75 * RATE)


def test_zero_notes_give_a_silent_wav_of_the_input_duration(tmp_path):
    path = tmp_path / "silence.wav"
    Transcription([], 3.2).write_wav(path)
    params, samples = read_wav(path.read_bytes())
    assert params.nframes == round(3.2 * RATE)
    assert not samples.any()
    assert not list(tmp_path.glob("*.part"))


def test_a_note_sounds_at_its_pitch_and_only_while_it_plays():
    note = NoteEvent(0.5, 1.5, 69, 0.8)
    samples = sonify.render(Transcription([note], 2.5))
    assert not samples[: int(0.5 * RATE) - 1].any()
    release_end = int((1.5 + sonify.RELEASE_S) * RATE) + 2
    assert not samples[release_end:].any()
    held = samples[int(0.6 * RATE): int(1.4 * RATE)]
    spectrum = np.abs(np.fft.rfft(held * np.hanning(len(held))))
    peak_hz = np.argmax(spectrum) * RATE / len(held)
    assert peak_hz == pytest.approx(440.0, abs=2.0)


def test_louder_velocity_is_louder():
    soft = sonify.render(Transcription([NoteEvent(0.1, 0.9, 60, 0.2), NoteEvent(1.1, 1.9, 60, 0.9)], 2.0))
    first, second = soft[int(0.2 * RATE): int(0.8 * RATE)], soft[int(1.2 * RATE): int(1.8 * RATE)]
    assert np.sqrt(np.mean(second**2)) > 2 * np.sqrt(np.mean(first**2))


def test_a_dense_loud_passage_does_not_clip_and_is_not_silent():
    rng = np.random.default_rng(7)
    cluster = [NoteEvent(0.5, 2.0, int(p), 1.0) for p in range(36, 96)]  # 60 notes struck together
    cluster += [NoteEvent(float(s), float(s) + 0.3, int(p), 1.0)
                for s, p in zip(rng.uniform(2, 4, 300), rng.integers(21, 109, 300), strict=True)]
    params, samples = read_wav(wav_bytes(Transcription(cluster, 5.0)))
    assert np.abs(samples.astype(np.int32)).max() < 32767
    assert np.abs(samples.astype(np.int32)).max() > 0.3 * 32767


def test_blocks_join_seamlessly():
    notes = [NoteEvent(0.01 * i, 0.01 * i + 2.7, 40 + i % 40, 0.6) for i in range(0, 200, 7)]
    transcription = Transcription(notes, 5.0)
    whole = np.concatenate(list(sonify.render_blocks(transcription, block_samples=1 << 22)))
    pieces = np.concatenate(list(sonify.render_blocks(transcription, block_samples=3001)))
    assert len(whole) == len(pieces) == round(5.0 * RATE)
    np.testing.assert_allclose(whole, pieces, atol=1e-6)


def test_notes_longer_than_the_shared_start_continue_smoothly():
    split = int(sonify.SHARED_ATTACK_PART_S * RATE)
    joined = np.concatenate((sonify.voice(52, 0, split), sonify.voice(52, split, split + 5000)))
    np.testing.assert_allclose(joined, sonify.voice(52, 0, split + 5000), atol=2e-4)
    long_note = sonify.render(Transcription([NoteEvent(0.0, 4.0, 52, 0.8)], 4.0))
    around = long_note[split - 200: split + 200]
    assert np.max(np.abs(np.diff(around))) < 0.05


def test_writes_to_a_stream_that_cannot_seek():
    class WriteOnly:
        def __init__(self):
            self.chunks = []

        def write(self, data):
            self.chunks.append(bytes(data))
            return len(data)

        def flush(self):
            pass

    sink = WriteOnly()
    sonify.write_wav(Transcription([NoteEvent(0.0, 0.3, 60, 0.5)], 0.5), sink)
    params, samples = read_wav(b"".join(sink.chunks))
    assert params.nframes == len(samples) == round(0.5 * RATE)
    assert samples.any()
