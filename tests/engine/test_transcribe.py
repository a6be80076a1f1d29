"""``transcribe`` end to end through the real model, on audio the tests synthesise."""

from __future__ import annotations

import io

import numpy as np
import pytest
from synthesised import PHRASE, PHRASE_DURATION_S, KnownNote, encode_pyav, encode_soundfile, synthesise

from midiscribe.engine import (
    AudioTooLongError,
    CorruptAudioError,
    InvalidOptionsError,
    ModelNotFoundError,
    NotAudioError,
    Transcription,
    TranscriptionOptions,
    transcribe,
)
from midiscribe.engine.audio import AudioStream
from midiscribe.engine.inference import INPUT_NAME, OUTPUT_NAMES, ModelRunner, kept_frame_count
from midiscribe.engine.model import get_session

HARMONIC_INTERVALS = {12, 19, 24, 28, 31}  # octave, twelfth, two octaves, …: the model's usual ghosts


def assert_phrase_recovered(result: Transcription, tolerance_s: float = 0.05, end_tolerance_s: float | None = 0.15) -> None:
    """Every known note has a detected note of the same pitch starting within ``tolerance_s``;
    anything else is a harmonic of a sounding note. Ends of decaying tones are checked on lossless input."""
    for known in PHRASE:
        matches = [n for n in result.notes if n.pitch == known.pitch and abs(n.start_s - known.start_s) <= tolerance_s]
        assert matches, f"{known} not found in {[(n.pitch, round(n.start_s, 3)) for n in result.notes]}"
        if end_tolerance_s is not None:
            assert abs(matches[0].end_s - known.end_s) < end_tolerance_s
    known_pitches = {k.pitch for k in PHRASE}
    for extra in (n for n in result.notes if n.pitch not in known_pitches):
        sounding = [k for k in PHRASE if k.start_s - 0.05 <= extra.start_s <= k.end_s]
        assert any(extra.pitch - k.pitch in HARMONIC_INTERVALS for k in sounding), extra


@pytest.fixture(scope="module")
def phrase_result(phrase_wav) -> Transcription:
    return transcribe(phrase_wav)


def test_known_notes_are_recovered_with_pitch_and_timing(phrase_result):
    assert_phrase_recovered(phrase_result)
    assert phrase_result.duration_s == pytest.approx(PHRASE_DURATION_S, abs=1e-6)
    assert phrase_result.model_name.startswith("basic-pitch-0.4.0")
    assert {"decode_s", "inference_s", "notes_s", "total_s"} <= set(phrase_result.timings)
    starts = [n.start_s for n in phrase_result.notes]
    assert starts == sorted(starts)
    for note in phrase_result.notes:
        assert note.end_s > note.start_s
        assert 0 < note.amplitude <= 1
        assert len(note.pitch_bends) > 0


def test_m4a_from_a_phone_gives_the_same_notes(phrase_samples):
    assert_phrase_recovered(transcribe(encode_pyav(phrase_samples, 44100, "ipod", "aac")), end_tolerance_s=None)


def test_path_file_object_and_bytes_agree(phrase_wav, phrase_result, tmp_path):
    path = tmp_path / "phrase.wav"
    path.write_bytes(phrase_wav)
    assert transcribe(path).notes == phrase_result.notes
    assert transcribe(io.BytesIO(phrase_wav)).notes == phrase_result.notes


def test_mono_48k_mp3_is_transcribed():
    samples = synthesise(PHRASE, PHRASE_DURATION_S, sample_rate=48000, channels=1)
    assert_phrase_recovered(transcribe(encode_soundfile(samples, 48000, "MP3", "MPEG_LAYER_III")), 0.06, None)


def test_silence_is_valid_and_gives_no_notes():
    result = transcribe(encode_soundfile(np.zeros((3 * 44100, 2), np.float32), 44100, "WAV", "PCM_16"))
    assert result.notes == []
    assert result.duration_s == pytest.approx(3.0)


def test_options_are_applied_and_validated(phrase_wav, phrase_result):
    no_bends = transcribe(phrase_wav, {"include_pitch_bends": False})
    assert all(n.pitch_bends == () for n in no_bends.notes)
    assert [(n.start_s, n.pitch) for n in no_bends.notes] == [(n.start_s, n.pitch) for n in phrase_result.notes]
    limited = transcribe(phrase_wav, TranscriptionOptions(maximum_frequency=500.0))
    assert limited.notes and max(n.pitch for n in limited.notes) <= 71
    with pytest.raises(InvalidOptionsError, match="onset_threshold"):
        transcribe(phrase_wav, {"onset_threshold": 7})


def test_progress_reports_seconds_done_of_total(phrase_wav):
    calls = []
    transcribe(phrase_wav, progress=lambda done, total: calls.append((done, total)))
    assert calls
    assert all(total == pytest.approx(PHRASE_DURATION_S) for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == pytest.approx(PHRASE_DURATION_S, abs=0.01)


def test_maximum_duration_and_bad_input_errors(phrase_wav):
    with pytest.raises(AudioTooLongError):
        transcribe(phrase_wav, max_duration_s=2.0)
    with pytest.raises(NotAudioError):
        transcribe(b"<html><body>not a song</body></html>")


def naive_posteriorgrams(audio: np.ndarray) -> dict[str, np.ndarray]:
    """basic-pitch's framing written out plainly: one window per model call."""
    padded = np.concatenate([np.zeros(3840, np.float32), audio])
    outputs = {name: [] for name in OUTPUT_NAMES}
    for start in range(0, padded.size, 36164):
        window = np.zeros(43844, np.float32)
        piece = padded[start : start + 43844]
        window[: piece.size] = piece
        for name, value in zip(OUTPUT_NAMES, get_session().run(OUTPUT_NAMES, {INPUT_NAME: window[None, :, None]}),
                               strict=True):
            outputs[name].append(value[0, 15:-15])
    keep = kept_frame_count(audio.size)
    return {name: np.concatenate(parts)[:keep] for name, parts in outputs.items()}


@pytest.mark.parametrize(("batch_size", "overlap"), [(1, False), (3, True)])
def test_streamed_batched_framing_equals_the_plain_framing(batch_size, overlap):
    """Exact for one window per call; batched calls may round differently in the last bit."""
    samples = synthesise([KnownNote(57 + i % 12, 0.4 * i, 0.4 * i + 0.35) for i in range(20)], 8.3, channels=1)
    data = encode_soundfile(samples, 22050, "WAV", "FLOAT")
    with AudioStream(data) as stream:
        audio = np.concatenate(list(stream.blocks()))
    with AudioStream(data) as stream:
        runner = ModelRunner(batch_size=batch_size, overlap_decoding=overlap)
        chunks = list(runner.run(stream.blocks()))
    assert runner.audio_samples == audio.size
    streamed = {
        "note": np.concatenate([c.note for c in chunks])[: runner.frame_count],
        "onset": np.concatenate([c.onset for c in chunks])[: runner.frame_count],
        "contour": np.concatenate([c.contour for c in chunks])[: runner.frame_count],
    }
    plain = naive_posteriorgrams(audio)
    for key, name in zip(("note", "onset", "contour"), OUTPUT_NAMES, strict=True):
        if batch_size == 1:
            np.testing.assert_array_equal(streamed[key], plain[name])
        else:
            np.testing.assert_allclose(streamed[key], plain[name], rtol=0, atol=1e-5)


class CountingSession:
    """The model session, counting the windows it is asked to run."""

    def __init__(self):
        self.windows = 0

    def run(self, names, feeds):
        self.windows += feeds[INPUT_NAME].shape[0]
        return get_session().run(names, feeds)


def test_windows_of_digital_silence_reuse_one_model_call_and_give_the_same_posteriors():
    """A stem that rests for 14 s (exact zeros, as a DAW exports it): its all-zero windows run the model
    once; every posterior is still the same to the bit as running the model on each window."""
    phrase = [KnownNote(60 + i % 7, 0.3 * i, 0.3 * i + 0.25) for i in range(8)]
    first = synthesise(phrase, 3.0, sample_rate=22050, channels=1)[:, 0]
    rest = np.zeros(14 * 22050, dtype=np.float32)
    audio = np.concatenate([first, rest, first, rest[: 9 * 22050]]).astype(np.float32)
    # Near-silence is not silence: the windows holding this one quiet sample are run through the model.
    audio[-4 * 22050] = 1e-4
    data = encode_soundfile(audio, 22050, "WAV", "FLOAT")
    session = CountingSession()
    with AudioStream(data) as stream:
        runner = ModelRunner(session=session)
        chunks = list(runner.run(stream.blocks()))
    # basic-pitch's windows (3840 zeros in front, 43844 samples every 36164), counted plainly.
    padded = np.concatenate([np.zeros(3840, np.float32), audio, np.zeros(43844, np.float32)])
    starts = range(0, 3840 + audio.size, 36164)
    all_zero = [start for start in starts if not padded[start:start + 43844].any()]
    assert runner.windows == len(starts) and len(all_zero) >= 6
    assert runner.silent_windows_skipped == len(all_zero) - 1
    assert session.windows == runner.windows - runner.silent_windows_skipped
    plain = naive_posteriorgrams(audio)
    for key, name in zip(("note", "onset", "contour"), OUTPUT_NAMES, strict=True):
        streamed = np.concatenate([getattr(chunk, key) for chunk in chunks])[: runner.frame_count]
        np.testing.assert_array_equal(streamed, plain[name])


@pytest.mark.parametrize("frames", [1, 100, 300, 5000])
def test_very_short_input_gives_a_valid_empty_or_tiny_result(frames):
    samples = synthesise([KnownNote(69, 0.0, 1.0)], 1.0, sample_rate=22050, channels=1)[:frames]
    result = transcribe(encode_soundfile(samples, 22050, "WAV", "PCM_16"))
    assert result.duration_s == pytest.approx(frames / 22050)
    assert all(0 <= n.start_s < n.end_s for n in result.notes)


def test_damage_found_part_way_through_stops_cleanly():
    """The decoder's error reaches the caller from the decoding thread; nothing is left running."""
    import threading

    samples = synthesise([KnownNote(60 + i % 12, 0.5 * i, 0.5 * i + 0.4) for i in range(20)], 10.0)
    data = encode_soundfile(samples, 44100, "FLAC", "PCM_16")
    with pytest.raises(CorruptAudioError):
        transcribe(data[: len(data) * 2 // 3])
    assert not [t for t in threading.enumerate() if t.name.startswith("midiscribe-")]


def test_a_missing_model_is_reported_and_decoding_stops(monkeypatch, phrase_wav):
    import threading

    import midiscribe.engine.model as model

    def missing():
        raise ModelNotFoundError("The transcription model is missing. Run `midiscribe fetch-model`.")

    monkeypatch.setattr(model, "get_session", missing)
    with pytest.raises(ModelNotFoundError, match="fetch-model"):
        transcribe(phrase_wav)
    assert not [t for t in threading.enumerate() if t.name.startswith("midiscribe-")]


def test_a_melody_with_wide_vibrato_has_no_overlapping_notes_of_one_pitch():
    # ±60 cents at 5.5 Hz: the model hears the swings as neighbouring semitones, and tuning moves those
    # fragments back onto the held pitch; in a MIDI file the first note-off would end both.
    rate = 22050
    parts = []
    for pitch in (60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72):
        t = np.arange(int(0.55 * rate)) / rate
        phase = 2 * np.pi * np.cumsum(440 * 2 ** ((pitch - 69 + 0.6 * np.sin(2 * np.pi * 5.5 * t)) / 12)) / rate
        envelope = np.minimum(1, t / 0.03) * np.minimum(1, (t[-1] - t) / 0.05)
        parts.append(0.3 * envelope * sum(np.sin(k * phase) / k for k in (1, 2, 3)))
    notes = transcribe(encode_soundfile(np.concatenate(parts).astype(np.float32), rate, "WAV")).notes
    assert len(notes) >= 12
    last_end: dict[int, float] = {}
    for note in sorted(notes, key=lambda note: note.start_s):
        assert note.start_s >= last_end.get(note.pitch, 0.0) - 1e-9, f"two {note.pitch}s overlap at {note.start_s:.3f} s"
        last_end[note.pitch] = max(last_end.get(note.pitch, 0.0), note.end_s)
