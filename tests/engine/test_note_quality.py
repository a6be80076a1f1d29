"""The default note creation through the real model, on sounds the tests synthesise: slow attacks,
harmonic-rich tones and a detuned melody; and the compatibility flag, which must keep the old notes."""

from __future__ import annotations

import numpy as np
import pytest
from synthesised import encode_soundfile, midi_to_hz

from midiscribe.engine import transcribe
from midiscribe.engine.audio import AudioStream
from midiscribe.engine.inference import ModelRunner
from midiscribe.engine.notes import NoteSettings, Posteriors, create_notes, frame_times
from midiscribe.engine.options import TranscriptionOptions

RATE = 44100


def tone(pitch: int, start_s: float, end_s: float, total_s: float, *, attack_s: float, harmonics: list[float],
         cents: float = 0.0, vibrato_cents: float = 0.0) -> np.ndarray:
    """One note: harmonics at the given levels, a rising attack, optional vibrato, a 50 ms release."""
    out = np.zeros(int(total_s * RATE))
    first, last = int(start_s * RATE), int(end_s * RATE)
    t = np.arange(last - first) / RATE
    frequency = midi_to_hz(pitch + cents / 100)
    vibrato_hz = 5.5
    depth = frequency * (2 ** (vibrato_cents / 1200) - 1)
    phase = 2 * np.pi * frequency * t + depth / vibrato_hz * np.sin(2 * np.pi * vibrato_hz * t)
    envelope = np.minimum(t / attack_s, 1.0) ** 2 * np.clip((t[-1] - t) / 0.05, 0, 1)
    out[first:last] = envelope * sum(level * np.sin((k + 1) * phase) for k, level in enumerate(harmonics))
    return out


def wav(samples: np.ndarray) -> bytes:
    return encode_soundfile((0.3 * samples / np.abs(samples).max()).astype(np.float32)[:, None], RATE, "WAV", "PCM_16")


BOWED = [(67, 0.5), (64, 1.6), (72, 2.7), (60, 3.8)]  # (pitch, true onset)


@pytest.fixture(scope="module")
def bowed_wav() -> bytes:
    """Bowed-string-like notes: a 300 ms swell, vibrato, a full set of harmonics."""
    return wav(sum(tone(pitch, start, start + 0.9, 5.0, attack_s=0.3, harmonics=[1, 0.5, 0.3, 0.2],
                        vibrato_cents=15) for pitch, start in BOWED))


def test_a_slow_attack_starts_within_30_ms_of_the_truth(bowed_wav):
    result = transcribe(bowed_wav)
    assert [n.pitch for n in result.notes] == [pitch for pitch, _ in BOWED]
    errors = [note.start_s - start for note, (_, start) in zip(result.notes, BOWED, strict=True)]
    assert max(abs(error) for error in errors) <= 0.030, errors


def test_basic_pitch_starts_slow_attacks_late(bowed_wav):
    """The control: the old note creation puts at least one of these onsets far too late."""
    old = transcribe(bowed_wav, {"basic_pitch_compat": True})
    firsts = [min((n.start_s for n in old.notes if n.pitch == pitch), default=np.inf) for pitch, _ in BOWED]
    assert max(first - start for first, (_, start) in zip(firsts, BOWED, strict=True)) > 0.05


@pytest.fixture(scope="module")
def organ_like_wav() -> bytes:
    """One C3 with eight strong harmonics (the octave at 70 %, the twelfth at half), like a reed stop."""
    return wav(tone(48, 0.5, 2.5, 3.0, attack_s=0.02, harmonics=[1, 0.7, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15]))


def test_a_note_with_strong_harmonics_is_one_note(organ_like_wav):
    notes = transcribe(organ_like_wav).notes
    assert [(n.pitch, round(n.start_s, 1), round(n.end_s, 1)) for n in notes] == [(48, 0.5, 2.5)]


def test_basic_pitch_hears_the_harmonics_as_notes(organ_like_wav):
    assert len(transcribe(organ_like_wav, {"basic_pitch_compat": True}).notes) >= 3


MELODY = [60, 62, 64, 65, 67, 69, 71, 72]


@pytest.fixture(scope="module")
def flat_melody_wav() -> bytes:
    """A scale 30 cents flat of A4 = 440 Hz, as a piano tuned down a little would play it."""
    return wav(sum(tone(pitch, 0.3 + 0.5 * index, 0.75 + 0.5 * index, 4.8, attack_s=0.01, harmonics=[1, 0.5, 0.25],
                        cents=-30) for index, pitch in enumerate(MELODY)))


def test_a_detuned_melody_lands_on_its_semitones_and_reports_its_tuning(flat_melody_wav):
    result = transcribe(flat_melody_wav)
    assert [n.pitch for n in result.notes] == MELODY
    assert result.tuning_cents == pytest.approx(-30, abs=6)
    # Bends are measured from the recording's tuning: a steady note does not bend.
    assert all(np.median(n.pitch_bends) == 0 for n in result.notes)


def test_compat_reports_no_tuning(flat_melody_wav):
    assert transcribe(flat_melody_wav, {"basic_pitch_compat": True}).tuning_cents is None


def test_silence_has_no_tuning_to_report():
    """Nothing pitched, no tuning: null in the JSON and no fine-tuning RPN, not a claim of A4 = 440 Hz."""
    import io
    import json

    import mido

    result = transcribe(encode_soundfile(np.zeros((3 * RATE, 1), np.float32), RATE, "WAV", "PCM_16"))
    assert len(result.notes) == 0 and result.tuning_cents is None
    result.write_json(document := io.BytesIO())
    assert json.loads(document.getvalue())["tuning_cents"] is None
    result.write_midi(midi := io.BytesIO())
    midi.seek(0)
    controls = [(m.control, m.value) for track in mido.MidiFile(file=midi).tracks for m in track
                if m.type == "control_change"]
    assert (100, 0) in controls and (100, 1) not in controls  # the bend range (RPN 0) is set; fine tuning (RPN 1) not


def test_the_compat_flag_gives_basic_pitchs_notes(organ_like_wav, bowed_wav):
    """basic_pitch_compat is the note creation that reproduces basic-pitch 0.4.0 (tests/engine/test_notes.py
    checks it against a step-by-step reference), run on the model's posteriorgrams as they come."""
    for audio in (organ_like_wav, bowed_wav):
        runner = ModelRunner()
        with AudioStream(audio) as stream:
            chunks = list(runner.run(stream.blocks()))
        arrays = [np.concatenate([getattr(c, name) for c in chunks])[: runner.frame_count]
                  for name in ("note", "onset", "contour")]
        settings = NoteSettings.from_options(TranscriptionOptions(basic_pitch_compat=True))
        raw = create_notes(Posteriors.from_arrays(*arrays, settings), settings)
        expected = sorted(zip(frame_times(np.array([n.start for n in raw])).tolist(),
                              [n.pitch for n in raw], frame_times(np.array([n.end for n in raw])).tolist(),
                              strict=True))
        got = [(n.start_s, n.pitch, n.end_s) for n in transcribe(audio, {"basic_pitch_compat": True}).notes]
        assert got == expected
        assert got != [(n.start_s, n.pitch, n.end_s) for n in transcribe(audio).notes]
