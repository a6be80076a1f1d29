"""The MIDI tempo map and quantisation: beats read back with mido land on the music's beats, notes keep
their seconds, and quantisation puts a jittered rhythm back on its grid."""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.quantize import quantize_notes
from midiscribe.engine.rhythm import Rhythm
from midiscribe.engine.tempo_map import rhythm_tempo_map, tempo_map_for
from midiscribe.engine.transcription import NoteEvent, Transcription


def accelerating_beats(count: int = 40, start_s: float = 0.8) -> np.ndarray:
    """Beats at 90 BPM for 16 beats, then a step to 120 BPM, then a gradual slowing to 100 BPM."""
    periods = np.concatenate((np.full(16, 60 / 90), np.full(12, 60 / 120), 60 / np.linspace(120, 100, count - 28)))
    return start_s + np.concatenate(([0.0], np.cumsum(periods[: count - 1])))


def read_back(midi_bytes: bytes) -> tuple[mido.MidiFile, list[tuple[float, int, str]], list[tuple[float, int]]]:
    """(file, [(seconds, tick, type) of tempo-track events], [(seconds, pitch) of note-ons]) as mido plays it."""
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes))
    tempo_events, note_ons = [], []
    seconds, tick = 0.0, 0
    for message in mido.merge_tracks(midi.tracks):
        seconds += mido.tick2second(message.time, midi.ticks_per_beat, current_tempo(tempo_events))
        tick += message.time
        if message.is_meta and message.type in ("set_tempo", "time_signature"):
            tempo_events.append((seconds, tick, message))
        elif message.type == "note_on" and message.velocity > 0:
            note_ons.append((seconds, message.note))
    return midi, tempo_events, note_ons


def current_tempo(tempo_events) -> int:
    tempos = [message.tempo for _, _, message in tempo_events if message.type == "set_tempo"]
    return tempos[-1] if tempos else 500_000


def tick_seconds(midi: mido.MidiFile, ticks: list[int]) -> list[float]:
    """Seconds at absolute ticks, walking the file's own tempo map as a player does."""
    changes = sorted((tick, message.tempo) for tick, message in _absolute(midi.tracks[0]) if message.type == "set_tempo")
    result = []
    for target in ticks:
        seconds, last_tick, tempo = 0.0, 0, 500_000
        for tick, new_tempo in changes:
            if tick > target:
                break
            seconds += mido.tick2second(tick - last_tick, midi.ticks_per_beat, tempo)
            last_tick, tempo = tick, new_tempo
        result.append(seconds + mido.tick2second(target - last_tick, midi.ticks_per_beat, tempo))
    return result


def _absolute(track):
    tick = 0
    for message in track:
        tick += message.time
        yield tick, message


def midi_of(transcription: Transcription) -> bytes:
    buffer = io.BytesIO()
    transcription.write_midi(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("compound", [False, True])
def test_beats_read_back_with_mido_land_on_the_tracked_beats(compound):
    beats = accelerating_beats()
    # The first downbeat is the second tracked beat (4/4) or the first (6/8).
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=2 if compound else 4, first_downbeat=0 if compound else 1,
                    compound=compound, key=None)
    notes = [NoteEvent(float(t) + 0.013, float(t) + 0.3, 60 + i % 12, 0.8) for i, t in enumerate(beats)]
    midi = mido.MidiFile(file=io.BytesIO(midi_of(Transcription(notes, 40.0, TranscriptionOptions(), rhythm=rhythm))))
    ticks_per_beat = round(midi.ticks_per_beat * rhythm.quarters_per_beat)
    # Time 0 starts a lead-in beat, so tracked beat k is the file's beat k + 1.
    file_beats = tick_seconds(midi, [(k + 1) * ticks_per_beat for k in range(len(beats))])
    assert np.max(np.abs(np.array(file_beats) - beats)) < 0.020
    # The lead-in makes a pickup (one beat in 6/8, two in 4/4): a short first bar, then the metre.
    signatures = [(tick, m.numerator, m.denominator) for tick, m in _absolute(midi.tracks[0]) if m.type == "time_signature"]
    if compound:
        assert signatures == [(0, 3, 8), (ticks_per_beat, 6, 8)]
    else:
        assert signatures == [(0, 2, 4), (2 * ticks_per_beat, 4, 4)]
    # The metronome clicks on the beat: every dotted quarter (36 MIDI clocks) in 6/8, every quarter in 4/4.
    clicks = {m.clocks_per_click for m in midi.tracks[0] if m.type == "time_signature"}
    assert clicks == ({36} if compound else {24})
    # A tempo change per stretch of steady beats, not one per beat: 90, 120, then the gradual part.
    tempi = [m.tempo for _, m in _absolute(midi.tracks[0]) if m.type == "set_tempo"]
    assert 3 <= len(tempi) < len(beats)


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_beat_found_on_frames_is_one_tempo(seed):
    # A metronomic take at 130 BPM: its beats are found on the model's 11.6-ms frames, each up to a frame off.
    # A line through a stretch's end beats tilted with their errors and wrote tempos from 126 to 136 BPM.
    rng = np.random.default_rng(seed)
    frame = 256 / 22050
    beats = np.round((np.arange(1, 41) * 60 / 130) / frame + rng.uniform(-0.5, 0.5, 40)) * frame  # from 1 beat in
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=0, compound=False, key=None)
    tempo_map = rhythm_tempo_map(rhythm)
    [(tick, tempo)] = tempo_map.tempo_changes
    assert tick == 0 and abs(60e6 / tempo - 130) < 0.5
    # Every beat of the file is within the tolerance of the one it was found at.
    assert np.max(np.abs(tempo_map.seconds_at(np.arange(40) + 1.0) - beats)) <= 0.015


def test_notes_keep_their_seconds_under_the_tempo_map():
    beats = accelerating_beats()
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=3, first_downbeat=0, compound=False, key=None)
    rng = np.random.default_rng(3)
    starts = np.sort(rng.uniform(0.0, 25.0, 60))
    notes = [NoteEvent(float(s), float(s) + 0.25, int(rng.integers(40, 90)), 0.7) for s in starts]
    _, _, note_ons = read_back(midi_of(Transcription(notes, 30.0, TranscriptionOptions(), rhythm=rhythm)))
    heard = sorted(note_ons)
    assert len(heard) == len(notes)
    assert np.max(np.abs(np.array([s for s, _ in heard]) - starts)) < 0.002


def test_a_given_midi_tempo_forces_one_constant_tempo_in_four_four():
    beats = accelerating_beats()
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=3, first_downbeat=0, compound=False, key=None)
    transcription = Transcription([NoteEvent(1.0, 1.5, 60, 0.8)], 30.0, TranscriptionOptions(midi_tempo=120.0),
                                  rhythm=rhythm)
    midi, events, _ = read_back(midi_of(transcription))
    assert [m.tempo for _, _, m in events if m.type == "set_tempo"] == [500_000]
    assert [(m.numerator, m.denominator) for _, _, m in events if m.type == "time_signature"] == [(4, 4)]
    # Unset is not the same as 120: without the option the map follows the beats.
    follows = Transcription(transcription.notes, 30.0, TranscriptionOptions(), rhythm=rhythm)
    assert len(tempo_map_for(follows).tempo_changes) > 1



@pytest.mark.parametrize(("signature", "expected"), [("3/4", (3, 4)), ("6/8", (6, 8)), ("12/8", (12, 8))])
def test_a_given_midi_tempo_keeps_the_time_signature_the_user_gave(signature, expected):
    """midi_tempo writes one constant tempo (in quarters); its bars are 4/4 unless time_signature says."""
    rhythm = Rhythm(beats=tuple(accelerating_beats()), beats_per_bar=4, first_downbeat=0, compound=False, key=None)
    options = TranscriptionOptions(midi_tempo=90.0, time_signature=signature)
    midi, events, _ = read_back(midi_of(Transcription([NoteEvent(1.0, 1.5, 60, 0.8)], 30.0, options, rhythm=rhythm)))
    assert [m.tempo for _, _, m in events if m.type == "set_tempo"] == [round(60e6 / 90.0)]
    assert [(m.numerator, m.denominator) for _, _, m in events if m.type == "time_signature"] == [expected]

def test_quantisation_snaps_a_jittered_rhythm_to_its_grid():
    beats = accelerating_beats()
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=0, compound=False, key=None)
    tempo_map = rhythm_tempo_map(rhythm)
    rng = np.random.default_rng(7)
    # Sixteenths, eighths and dotted values, written in quarter notes from the first beat (quarter 1).
    lengths = rng.choice([0.25, 0.5, 0.75, 1.0], 60)
    written = 1.0 + np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
    written = written[written < 38]
    true_s = tempo_map.seconds_at(written)
    true_end = tempo_map.seconds_at(written + 0.25)
    # Played late or early by up to 40 % of a sixteenth, as a person plays.
    sixteenth_s = np.diff(tempo_map.seconds_at(np.stack((written, written + 0.25))), axis=0)[0]
    jitter = rng.uniform(-0.4, 0.4, len(written)) * sixteenth_s
    notes = [NoteEvent(float(s + j), float(e + j * 0.5), 60 + i % 7, 0.8)
             for i, (s, e, j) in enumerate(zip(true_s, true_end, jitter, strict=True))]
    snapped = quantize_notes(notes, tempo_map, "1/16")
    assert np.allclose([n.start_s for n in snapped], true_s, atol=1e-6)
    assert np.allclose([n.end_s for n in snapped], true_end, atol=1e-6)
    # On an eighth-note grid, the same notes land on eighths only.
    eighths = tempo_map.quarters_at([n.start_s for n in quantize_notes(notes, tempo_map, "1/8")])
    assert np.allclose(eighths * 2, np.round(eighths * 2), atol=1e-6)


def test_triplet_grid_and_minimum_length():
    rhythm = Rhythm(beats=tuple(0.5 + 0.5 * np.arange(20)), beats_per_bar=4, first_downbeat=0, compound=False, key=None)
    tempo_map = rhythm_tempo_map(rhythm)
    # An eighth-note triplet (a third of a 0.5 s beat) played slightly off, and a grace-like short note.
    notes = [NoteEvent(1.0 + 0.5 / 3 + 0.02, 1.2, 64, 0.7), NoteEvent(2.01, 2.02, 67, 0.7)]
    triplet, short = quantize_notes(notes, tempo_map, "1/8t")
    assert triplet.start_s == pytest.approx(1.0 + 0.5 / 3, abs=1e-6)
    assert short.start_s == pytest.approx(2.0, abs=1e-6)
    assert short.end_s == pytest.approx(2.0 + 0.5 / 3, abs=1e-6)  # one grid step, never zero length


def test_quantised_midi_is_a_second_file_on_whole_grid_ticks():
    beats = accelerating_beats()
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=2, compound=False, key=None)
    rng = np.random.default_rng(11)
    notes = [NoteEvent(float(s), float(s) + 0.2, 62, 0.8) for s in np.sort(rng.uniform(1.0, 25.0, 40))]
    transcription = Transcription(notes, 30.0, TranscriptionOptions(quantize="1/16"), rhythm=rhythm)
    original, quantized = io.BytesIO(), io.BytesIO()
    transcription.write_midi(original)
    transcription.write_quantized_midi(quantized)
    assert original.getvalue() != quantized.getvalue()
    midi = mido.MidiFile(file=io.BytesIO(quantized.getvalue()))
    sixteenth = midi.ticks_per_beat // 4
    bar_start = 2 * midi.ticks_per_beat  # the two-beat pickup bar
    onsets = [tick for tick, m in _absolute(midi.tracks[1]) if m.type == "note_on"]
    assert onsets and all((tick - bar_start) % sixteenth == 0 for tick in onsets)
    # The original keeps the real times.
    _, _, heard = read_back(original.getvalue())
    assert np.allclose(sorted(s for s, _ in heard), [n.start_s for n in notes], atol=0.002)


@pytest.mark.parametrize("first_beat_s", [0.2, 0.25, 0.45])
def test_a_first_beat_near_time_zero_keeps_its_place_and_its_bar_line(first_beat_s):
    # A recording with a short lead-in: its first beat, a downbeat, comes before half a period (60 BPM),
    # but late enough that a beat from 0 to it is at most 300 BPM.
    beats = first_beat_s + np.arange(12.0)
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=0, compound=False, key=None)
    notes = [NoteEvent(float(t) + 0.01, float(t) + 0.5, 60, 0.8) for t in beats[::4]]
    transcription = Transcription(notes, 13.0, TranscriptionOptions(quantize="1/16"), rhythm=rhythm)
    midi = mido.MidiFile(file=io.BytesIO(midi_of(transcription)))
    signatures = [(tick, m.numerator, m.denominator)
                  for tick, m in _absolute(midi.tracks[0]) if m.type == "time_signature"]
    # Time 0 to the first beat is a one-beat pickup bar, so the first downbeat is a bar line.
    assert signatures == [(0, 1, 4), (midi.ticks_per_beat, 4, 4)]
    file_beats = tick_seconds(midi, [(k + 1) * midi.ticks_per_beat for k in range(len(beats))])
    assert np.max(np.abs(np.array(file_beats) - beats)) < 0.020
    # Quantised, the downbeat notes sit on the bar lines, not a sixteenth after them.
    quantized = mido.MidiFile(file=io.BytesIO(midi_of(transcription.quantized())))
    onsets = [tick for tick, m in _absolute(quantized.tracks[1]) if m.type == "note_on"]
    assert onsets == [(1 + 4 * k) * quantized.ticks_per_beat for k in range(len(notes))]


@pytest.mark.parametrize(("first_beat_s", "period_s"), [(0.008, 0.5), (0.05, 0.5), (0.19, 1.0), (0.1, 0.3)])
def test_a_first_beat_too_soon_for_a_beat_of_its_own_is_moved_to_time_zero(first_beat_s, period_s):
    """A beat from 0 to a first beat 50 ms in would be 1200 BPM, a tempo event a DAW may not take as
    written: under 0.2 s (300 BPM) the first beat is moved to 0, and the file's tempi stay at 300 BPM or
    below."""
    beats = first_beat_s + period_s * np.arange(12)
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=0, compound=False, key=None)
    tempo_map = rhythm_tempo_map(rhythm)
    assert tempo_map.bars == ((0.0, 4, 4),)
    assert tempo_map.times[0] == 0.0 and tempo_map.times[1] == pytest.approx(beats[1], abs=0.015)
    assert all(60e6 / tempo <= 300 for _, tempo in tempo_map.tempo_changes)


def test_quantised_notes_of_one_pitch_never_overlap_and_end_on_the_grid():
    # 6/8 at a dotted quarter of 0.6 s, starting with a one-beat (3/8) pickup bar: a crotchet grid does not
    # divide that bar, so a short note near its end was stretched a crotchet across the bar line, off the
    # grid and over the next note of its pitch (note-on, note-on, note-off, note-off: a DAW ends the second
    # note at the first one's note-off).
    rhythm = Rhythm(beats=tuple(0.6 + 0.6 * np.arange(20)), beats_per_bar=2, first_downbeat=0, compound=True,
                    key=None)
    notes = [NoteEvent(0.36, 0.40, 60, 0.8), NoteEvent(0.64, 1.0, 60, 0.8)]
    transcription = Transcription(notes, 12.0, TranscriptionOptions(quantize="1/4"), rhythm=rhythm)
    tempo_map = tempo_map_for(transcription)
    assert tempo_map.bars == ((0.0, 3, 8), (1.5, 6, 8))
    quantized = transcription.quantized()
    spans = [(float(tempo_map.quarters_at(n.start_s)), float(tempo_map.quarters_at(n.end_s))) for n in quantized.notes]
    # The pickup's note ends at the bar line (its next grid point), where the next one starts.
    assert spans == [(pytest.approx(1.0), pytest.approx(1.5)), (pytest.approx(1.5), pytest.approx(2.5))]
    midi = mido.MidiFile(file=io.BytesIO(midi_of(quantized)))
    sounding: set[int] = set()
    for _, message in _absolute(midi.tracks[1]):
        if message.type == "note_on" and message.velocity:
            assert message.note not in sounding
            sounding.add(message.note)
        elif message.type in ("note_on", "note_off"):
            sounding.discard(message.note)


def test_a_short_note_on_a_bars_last_grid_point_ends_at_the_bar_line():
    # 9/8 bars are 4.5 crotchets: the last crotchet of a bar is half a crotchet long.
    rhythm = Rhythm(beats=tuple(0.6 * np.arange(30)), beats_per_bar=3, first_downbeat=0, compound=True, key=None)
    tempo_map = rhythm_tempo_map(rhythm)
    assert tempo_map.bars == ((0.0, 9, 8),)
    short = NoteEvent(float(tempo_map.seconds_at(4.0)) + 0.01, float(tempo_map.seconds_at(4.0)) + 0.05, 67, 0.8)
    (snapped,) = quantize_notes([short], tempo_map, "1/4")
    assert tempo_map.quarters_at(snapped.start_s) == pytest.approx(4.0)
    assert tempo_map.quarters_at(snapped.end_s) == pytest.approx(4.5)  # not 5.0, half a crotchet into the next bar
