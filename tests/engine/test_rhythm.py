"""Beat, metre and key tracking on rhythms the tests write: known tempo, a tempo change, 3/4 against
4/4, and a synthesised recording through the whole engine whose MIDI beats read back where they are."""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest
from synthesised import KnownNote, encode_soundfile, synthesise

from midiscribe.engine import metre
from midiscribe.engine.beats import track_pulse
from midiscribe.engine.key import Key, estimate_key
from midiscribe.engine.metre import NoteArrays, find_metre
from midiscribe.engine.notes import frame_times
from midiscribe.engine.rhythm import track_rhythm
from midiscribe.engine.transcription import NoteEvent

FRAMES_PER_SECOND = 22050 / 256


def beat_times(bpm_per_beat: list[float], start_s: float) -> np.ndarray:
    return start_s + np.concatenate(([0.0], np.cumsum(60.0 / np.asarray(bpm_per_beat))))


def accompaniment(beats: np.ndarray, beats_per_bar: int, tonic: int = 48) -> list[NoteEvent]:
    """A bass note on each downbeat, a chord on the other beats, a melody note in between: a piano left
    hand under a simple tune. The chord changes every bar (I, IV, V, I)."""
    roots = [0, 5, 7, 0]
    notes = []
    for index, (beat, next_beat) in enumerate(zip(beats[:-1], beats[1:], strict=True)):
        bar, position = divmod(index, beats_per_bar)
        root = tonic + roots[bar % len(roots)]
        period = next_beat - beat
        if position == 0:
            notes.append(NoteEvent(beat, beat + period * 0.9 * beats_per_bar / 2, root - 12, 0.9))
        else:
            notes += [NoteEvent(beat, beat + period * 0.5, root + step, 0.5) for step in (12, 16, 19)]
        notes.append(NoteEvent(beat + period / 2, beat + period * 0.9, root + 24 + (index * 2) % 7, 0.6))
    return sorted(notes, key=lambda note: note.start_s)


def onset_strength(notes: list[NoteEvent], duration_s: float) -> np.ndarray:
    """What the model's onset posteriorgram sums to per frame: a peak at each note start, a low floor."""
    frames = int(duration_s * FRAMES_PER_SECOND)
    times = frame_times(np.arange(frames))
    strength = np.full(frames, 0.3) + np.random.default_rng(0).uniform(0, 0.1, frames)
    for note in notes:
        frame = min(frames - 1, int(np.searchsorted(times, note.start_s)))
        strength[frame] += note.amplitude
        strength[min(frames - 1, frame + 1)] += note.amplitude / 2
    return strength


def hit_rate(truth: np.ndarray, found, window_s: float = 0.07) -> float:
    found = np.asarray(found)
    return float(np.mean([np.min(np.abs(found - t)) <= window_s for t in truth]))


# 3/4 at 72 BPM, a slow beat with a melody in eighths, was read at twice its tempo (a known limit, marked as an
# expected failure) until the second look (engine/metre.py ``second_look``).
@pytest.mark.parametrize(("beats_per_bar", "bpm"), [(4, 100.0), (3, 100.0), (4, 150.0), (2, 120.0), (3, 72.0)])
def test_known_tempo_and_metre(beats_per_bar, bpm):
    beats = beat_times([bpm] * (beats_per_bar * 12), start_s=0.5)
    notes = accompaniment(beats, beats_per_bar)
    rhythm = track_rhythm(onset_strength(notes, beats[-1] + 1.0), notes, beats[-1] + 1.0)
    assert rhythm is not None
    assert rhythm.tempo_bpm == pytest.approx(bpm, rel=0.04)
    assert rhythm.time_signature == (beats_per_bar, 4)
    assert hit_rate(beats[:-1], rhythm.beats) >= 0.95
    assert hit_rate(beats[:-1:beats_per_bar], rhythm.downbeats) >= 0.9
    assert hit_rate(np.asarray(rhythm.downbeats), beats[:-1:beats_per_bar]) >= 0.9


def test_a_slow_beat_with_a_melody_in_eighths_is_read_at_its_beat_by_the_second_look(monkeypatch):
    """The level scores read it at its eighths; the second look, weighing that reading against its half, reads its
    beat (the half has a clearer bar and two onsets a beat rather than one)."""
    beats = beat_times([72.0] * 36, start_s=0.5)
    notes = accompaniment(beats, 3)
    strength = onset_strength(notes, beats[-1] + 1.0)
    assert track_rhythm(strength, notes, beats[-1] + 1.0).tempo_bpm == pytest.approx(72.0, rel=0.04)
    monkeypatch.setattr(metre, "LOOK_WEIGHTS", ())
    assert track_rhythm(strength, notes, beats[-1] + 1.0).tempo_bpm == pytest.approx(144.0, rel=0.04)


def test_three_four_and_four_four_of_the_same_material_differ():
    found = {}
    for beats_per_bar in (3, 4):
        beats = beat_times([96.0] * (beats_per_bar * 12), start_s=0.3)
        notes = accompaniment(beats, beats_per_bar)
        found[beats_per_bar] = track_rhythm(onset_strength(notes, beats[-1] + 1), notes, beats[-1] + 1).time_signature
    assert found == {3: (3, 4), 4: (4, 4)}


def test_a_tempo_change_is_followed():
    tempi = [90.0] * 24 + [120.0] * 32
    beats = beat_times(tempi, start_s=0.4)
    notes = accompaniment(beats, 4)
    rhythm = track_rhythm(onset_strength(notes, beats[-1] + 1.0), notes, beats[-1] + 1.0)
    assert hit_rate(beats[:-1], rhythm.beats) >= 0.9
    found = np.asarray(rhythm.beats)
    before = found[(found > beats[2]) & (found < beats[20])]
    after = found[(found > beats[30]) & (found < beats[-3])]
    assert 60 / np.median(np.diff(before)) == pytest.approx(90.0, rel=0.04)
    assert 60 / np.median(np.diff(after)) == pytest.approx(120.0, rel=0.04)


def test_no_rhythm_without_enough_music():
    assert track_rhythm(np.zeros(40), [], 0.5) is None
    assert track_rhythm(np.zeros(400), [], 4.6) is None


def test_no_rhythm_without_notes():
    """Silence's onset posterior is a low, uneven floor, and the tracker finds a pulse in anything: the JSON
    of a silent recording gave a tempo (120.8 BPM), beats and 4/4, where the README promises nulls, and its
    MIDI file a tempo map of beats nobody played. No notes, no beats to hear."""
    from midiscribe.engine import transcribe

    floor = 0.01 + np.random.default_rng(0).uniform(0, 0.02, 400)
    assert track_rhythm(floor, [], 4.6) is None
    silent = transcribe(encode_soundfile(np.zeros((3 * 44100, 1), dtype=np.float32), 44100, "WAV"))
    assert silent.notes == [] and silent.rhythm is None
    buffer = io.BytesIO()
    silent.write_midi(buffer)
    tempo_track = mido.MidiFile(file=io.BytesIO(buffer.getvalue())).tracks[0]
    assert [m.tempo for m in tempo_track if m.type == "set_tempo"] == [500_000]


def test_key_of_major_and_minor_material():
    c_major = [60, 62, 64, 65, 67, 69, 71, 72, 60, 64, 67, 67, 65, 64, 62, 60]
    assert estimate_key(np.array(c_major), np.ones(16), np.ones(16)) == Key(0, "major")
    a_minor = [57, 59, 60, 62, 64, 65, 68, 69, 57, 60, 64, 64, 69, 68, 69, 57]
    assert estimate_key(np.array(a_minor), np.ones(16), np.ones(16)) == Key(9, "minor")
    assert Key(3, "minor").fifths == -6 and Key(3, "minor").name == "E-flat minor"
    assert Key(6, "major").fifths == 6 and Key(1, "minor").fifths == 4
    assert estimate_key(np.array([60]), np.ones(1), np.ones(1)) is None


@pytest.mark.slow
def test_a_synthesised_recording_gets_a_tempo_map_on_its_beats():
    """Through the model: the MIDI file's beats, read back with mido, are within 20 ms of the real ones."""
    from midiscribe.engine import transcribe

    beats = beat_times([108.0] * 40, start_s=0.6)
    known = []
    for index, beat in enumerate(beats[:-1]):
        root = [48, 53, 55, 48][(index // 4) % 4]
        if index % 4 == 0:
            known.append(KnownNote(root - 12, beat, beat + 1.0))
        else:
            known += [KnownNote(root + step, beat, beat + 0.25) for step in (12, 16, 19)]
        known.append(KnownNote(root + 24 + (index * 2) % 7, beat + 0.278, beat + 0.5))
    audio = encode_soundfile(synthesise(known, beats[-1] + 1.0), 44100, "WAV")
    transcription = transcribe(io.BytesIO(audio))
    rhythm = transcription.rhythm
    assert rhythm is not None and rhythm.time_signature == (4, 4)
    assert rhythm.tempo_bpm == pytest.approx(108.0, rel=0.04)
    buffer = io.BytesIO()
    transcription.write_midi(buffer)
    midi = mido.MidiFile(file=io.BytesIO(buffer.getvalue()))
    # Every quarter-note tick of the file, played back by mido's own tempo handling.
    tempo, seconds, tick, file_beats = 500_000, 0.0, 0, []
    changes = []
    for message in midi.tracks[0]:
        tick += message.time
        if message.type == "set_tempo":
            changes.append((tick, message.tempo))
    last_tick = 0
    for quarter in range(int(beats[-1] * 4)):
        target = quarter * midi.ticks_per_beat
        for change_tick, change_tempo in [c for c in changes if last_tick <= c[0] <= target]:
            seconds += mido.tick2second(change_tick - last_tick, midi.ticks_per_beat, tempo)
            last_tick, tempo = change_tick, change_tempo
        seconds += mido.tick2second(target - last_tick, midi.ticks_per_beat, tempo)
        last_tick = target
        file_beats.append(seconds)
    file_beats = np.array(file_beats)
    errors = [np.min(np.abs(file_beats - beat)) for beat in beats[:-1]]
    assert max(errors) < 0.020
    # A bar line of the file (from its time signatures) falls on the music's first downbeat, beats[0].
    signatures, tick = [], 0
    for message in midi.tracks[0]:
        tick += message.time
        if message.type == "time_signature":
            signatures.append((tick, message.numerator * 4 / message.denominator))
    bar_line_quarters = []
    for index, (start, quarters_per_bar) in enumerate(signatures):
        end = signatures[index + 1][0] if index + 1 < len(signatures) else len(file_beats) * midi.ticks_per_beat
        bar_line_quarters += list(np.arange(start / midi.ticks_per_beat, end / midi.ticks_per_beat, quarters_per_bar))
    bar_lines = file_beats[np.array(bar_line_quarters, dtype=int)]
    assert np.min(np.abs(bar_lines - beats[0])) < 0.020


def test_no_beat_falls_before_the_recording_starts():
    # Music from the first instant, its first beat a little short: the beats continued back from the
    # steady ones at their period put the first one 46 ms before 0. It is the first note's beat, at 0.
    beats = beat_times([108.0] + [100.0] * 47, start_s=0.0)
    notes = accompaniment(beats, 4)
    rhythm = track_rhythm(onset_strength(notes, beats[-1] + 1.0), notes, beats[-1] + 1.0)
    assert min(rhythm.beats) >= 0.0 and min(rhythm.downbeats) >= 0.0
    assert hit_rate(beats[:-1:4], rhythm.downbeats) >= 0.9
    assert rhythm.beats[0] == pytest.approx(0.0, abs=0.03)


def test_beats_before_zero_are_moved_to_zero_or_dropped():
    from midiscribe.engine.rhythm import from_time_zero

    beats, dropped = from_time_zero(np.array([-0.7, -0.1, 0.5, 1.1]))  # a period of 0.6 s
    assert dropped == 1 and beats.tolist() == [0.0, 0.5, 1.1]
    beats, dropped = from_time_zero(np.array([0.1, 0.6]))
    assert dropped == 0 and beats.tolist() == [0.1, 0.6]


def clicks(times: np.ndarray, accents: dict[int, float] | None = None) -> list[NoteEvent]:
    """One short note at each time, 0.5 loud, or as ``accents`` says by index."""
    accents = accents or {}
    return [NoteEvent(t, t + 0.1, 60, accents.get(index, 0.5)) for index, t in enumerate(times)]


def test_a_short_loop_with_one_loud_beat_keeps_its_other_beats():
    # A 4-s loop at 120 BPM with one accent. The beats are kept between the first and last frames above
    # the beats' RMS score; that RMS was the accent's, so the loop kept that one beat and got no tempo.
    times = np.arange(0.25, 4.0, 0.5)
    notes = clicks(times, {4: 2.5})
    strength = onset_strength(notes, 4.2)
    assert hit_rate(times[1:-1], track_pulse(strength)) == 1.0
    rhythm = track_rhythm(strength, notes, 4.2)
    assert rhythm is not None and rhythm.tempo_bpm == pytest.approx(120.0, rel=0.04)


def test_a_short_melody_clip_gets_its_tempo():
    """End to end: eight notes in 4 s (a sampled phrase at 8 kHz) were transcribed, but the beats were trimmed
    to one, so the JSON said no tempo and the MIDI file was written at 120 BPM by default, not by finding it."""
    from midiscribe.engine import transcribe

    rate = 8000
    t = np.arange(4 * rate) / rate
    frequency = 440.0 * 2.0 ** (np.floor(t * 2) % 5 / 12)
    phrase = (0.3 * np.sin(2 * np.pi * np.cumsum(frequency) / rate)).astype(np.float32)[:, None]
    result = transcribe(encode_soundfile(phrase, rate, "WAV", "PCM_16"))
    assert len(result.notes) == 8
    assert result.rhythm is not None and result.rhythm.tempo_bpm == pytest.approx(120.0, rel=0.04)


def test_the_beats_stop_where_the_music_does():
    # 12 s of clicks, then 6 s of the posterior's floor: the tracker keeps time through the silence, and
    # those beats are dropped, even with a loud beat among the clicks (the trim's hysteresis stops at the floor).
    times = np.arange(0.5, 12.5, 0.5)
    strength = onset_strength(clicks(times, {10: 2.5}), 18.0)
    pulse = track_pulse(strength)
    assert hit_rate(times[1:-1], pulse) == 1.0
    assert pulse.max() <= times[-1] + 0.1


@pytest.mark.parametrize("empty_beats", [1, 2])
def test_beats_after_the_last_note_do_not_change_the_bars(empty_beats):
    # Four bars of 4/4 (a low note on each downbeat, higher ones between) and a beat or two the tracker kept
    # after the last note: counted as would-be downbeats with nothing on them, one empty beat read it as 3/4.
    beats = beat_times([112.0] * (16 + empty_beats), start_s=0.5)
    notes = [NoteEvent(b, b + 0.4, 43 if i % 4 == 0 else 67 + i % 4 * 2, 0.8) for i, b in enumerate(beats[:16])]
    metre = find_metre(beats, NoteArrays.of(notes))
    assert (metre.beats_per_bar, metre.first_downbeat) == (4, 0)
