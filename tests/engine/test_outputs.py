"""MIDI, CSV and JSON writers: what they write reads back as the notes that went in."""

from __future__ import annotations

import csv
import io
import json

import mido
import numpy as np
import pytest

from midiscribe.engine.errors import InvalidOptionsError
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.outputs import (
    CSV_COLUMNS,
    DRUM_CHANNEL,
    INSTRUMENT_NAME,
    INSTRUMENT_PROGRAM,
    bend_values,
    notes_overlapping_others,
)
from midiscribe.engine.tempo_map import tempo_microseconds
from midiscribe.engine.transcription import NoteEvent, Transcription


def solo_and_chord() -> list[NoteEvent]:
    """A bent solo note, then two overlapping notes (whose bends cannot share a channel)."""
    return [
        NoteEvent(0.5, 1.0, 60, 0.8, (0, 1, 3, 3, -2, 0, 0, 7, 9)),
        NoteEvent(1.25, 2.0, 64, 0.5, (1, 1, 1)),
        NoteEvent(1.5, 2.5, 67, 0.25, (-1, -1)),
        NoteEvent(3.0, 3.4, 72, 1.0, ()),
    ]


def midi_bytes(transcription: Transcription) -> mido.MidiFile:
    buffer = io.BytesIO()
    transcription.write_midi(buffer)
    buffer.seek(0)
    return mido.MidiFile(file=buffer)


def timed_messages(midi: mido.MidiFile):
    """(seconds, message) for every message of the instrument track, with the file's tempo."""
    tempo = next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo")
    tick = 0
    for message in midi.tracks[1]:
        tick += message.time
        yield mido.tick2second(tick, midi.ticks_per_beat, tempo), message


def played_notes(midi: mido.MidiFile):
    """(start_s, end_s, pitch, velocity, channel) of every note, in start order."""
    sounding: dict[tuple[int, int], tuple[float, int]] = {}
    notes = []
    for seconds, message in timed_messages(midi):
        if message.type == "note_on" and message.velocity > 0:
            sounding[(message.channel, message.note)] = (seconds, message.velocity)
        elif message.type in ("note_off", "note_on"):
            start, velocity = sounding.pop((message.channel, message.note))
            notes.append((start, seconds, message.note, velocity, message.channel))
    assert not sounding, f"notes left hanging: {sounding}"
    return sorted(notes)


def bends_by_channel(midi: mido.MidiFile):
    bends: dict[int, list[tuple[float, int]]] = {}
    for seconds, message in timed_messages(midi):
        if message.type == "pitchwheel":
            bends.setdefault(message.channel, []).append((seconds, message.pitch))
    return bends


def test_midi_reads_back_with_tempo_name_program_and_notes():
    notes = solo_and_chord()
    midi = midi_bytes(Transcription(notes, 4.0, TranscriptionOptions(midi_tempo=97.0)))

    assert midi.type == 1 and len(midi.tracks) == 2
    assert [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"] == [tempo_microseconds(97.0)]
    assert round(mido.tempo2bpm(tempo_microseconds(97.0)), 3) == 97.0
    names = [m.name for m in midi.tracks[1] if m.type == "track_name"]
    assert names == [INSTRUMENT_NAME]
    assert [(m.channel, m.program) for m in midi.tracks[1] if m.type == "program_change"] == [(0, INSTRUMENT_PROGRAM)]
    tick = 1 / (midi.ticks_per_beat * 1e6 / tempo_microseconds(97.0))
    played = played_notes(midi)
    assert [(p, v, c) for _, _, p, v, c in played] == [(n.pitch, n.velocity, 0) for n in notes]
    for (start, end, *_), note in zip(played, notes, strict=True):
        assert start == pytest.approx(note.start_s, abs=tick)
        assert end == pytest.approx(note.end_s, abs=tick)
    # The file lasts as long as the audio.
    assert midi.length == pytest.approx(4.0, abs=tick)


def test_bend_range_is_set_with_rpn_zero():
    midi = midi_bytes(Transcription(solo_and_chord(), 4.0))
    controls = [(m.control, m.value) for m in midi.tracks[1] if m.type == "control_change" and m.channel == 0]
    assert controls[:4] == [(101, 0), (100, 0), (6, 2), (38, 0)]
    assert controls[4:] == [(101, 127), (100, 127)]  # RPN closed so later data entry changes nothing


# RPN 1's value is 8192 + cents / 100 * 8192, sent as data entry MSB and LSB: -30 cents is 5734 = 44 * 128 + 102.
@pytest.mark.parametrize(("tuning_cents", "data_entry"), [(None, None), (0.0, None), (-30.0, (44, 102)),
                                                          (49.9, (95, 120))])
def test_the_recordings_tuning_is_stated_with_rpn_one(tuning_cents, data_entry):
    midi = midi_bytes(Transcription(solo_and_chord(), 4.0, tuning_cents=tuning_cents))
    controls = [(m.control, m.value) for m in midi.tracks[1] if m.type == "control_change" and m.channel == 0]
    if data_entry is None:
        assert (100, 1) not in controls
    else:
        msb, lsb = data_entry
        assert controls[6:] == [(101, 0), (100, 1), (6, msb), (38, lsb), (101, 127), (100, 127)]


def test_bends_of_a_lone_note_are_written_and_reset_overlapping_notes_are_not_bent():
    notes = solo_and_chord()
    midi = midi_bytes(Transcription(notes, 4.0))
    bends = bends_by_channel(midi)[0]
    solo = notes[0]
    during = [(t, value) for t, value in bends if solo.start_s - 1e-3 <= t < solo.end_s - 1e-3]
    values = bend_values(solo.pitch_bends)
    step = (solo.end_s - solo.start_s) / len(values)
    # One value per model frame spread over the note; only changes are written (the wheel starts centred).
    expected = [
        (pytest.approx(solo.start_s + i * step, abs=2e-3), int(value))
        for i, value in enumerate(values)
        if value != (values[i - 1] if i else 0)
    ]
    assert during == expected
    # Back to centre when the note ends, and nothing else bends (the others overlap each other).
    assert bends[-1] == (pytest.approx(solo.end_s, abs=2e-3), 0)
    assert len(bends) == len(expected) + 1


def test_bend_values_match_basic_pitch_scaling_and_clip_at_two_semitones():
    assert list(bend_values([0, 1, -1, 3, 6, 7, -6, -7])) == [0, 1365, -1365, 4096, 8191, 8191, -8192, -8192]


def test_no_bends_and_no_rpn_when_pitch_bends_are_off():
    midi = midi_bytes(Transcription(solo_and_chord(), 4.0, TranscriptionOptions(include_pitch_bends=False)))
    kinds = {m.type for m in midi.tracks[1]}
    assert "pitchwheel" not in kinds and "control_change" not in kinds
    assert len(played_notes(midi)) == 4


def test_multiple_pitch_bends_spreads_overlapping_notes_over_channels():
    notes = solo_and_chord()
    midi = midi_bytes(Transcription(notes, 4.0, TranscriptionOptions(multiple_pitch_bends=True)))
    played = played_notes(midi)
    channel_of = {pitch: channel for _, _, pitch, _, channel in played}
    assert channel_of[64] != channel_of[67]
    assert DRUM_CHANNEL not in channel_of.values()
    used = set(channel_of.values())
    programs = {m.channel: m.program for m in midi.tracks[1] if m.type == "program_change"}
    assert programs == {channel: INSTRUMENT_PROGRAM for channel in used}
    for channel in used:
        controls = [(m.control, m.value) for m in midi.tracks[1] if m.type == "control_change" and m.channel == channel]
        assert controls[:3] == [(101, 0), (100, 0), (6, 2)]
    bends = bends_by_channel(midi)
    # Now each overlapping note keeps its own bend on its own channel.
    assert (pytest.approx(1.25, abs=2e-3), 1365) in bends[channel_of[64]]
    assert (pytest.approx(1.5, abs=2e-3), -1365) in bends[channel_of[67]]


def test_more_overlapping_notes_than_channels_share_a_channel_without_bends():
    chord = [NoteEvent(1.0, 2.0 + i * 0.01, 40 + i, 0.5, (3,)) for i in range(17)]
    midi = midi_bytes(Transcription(chord, 3.0, TranscriptionOptions(multiple_pitch_bends=True)))
    played = played_notes(midi)
    channels = [channel for *_, channel in played]
    assert len(played) == 17 and DRUM_CHANNEL not in channels
    assert len(set(channels)) == 15
    shared = {c for c in channels if channels.count(c) > 1}
    bends = bends_by_channel(midi)
    assert shared and not shared & set(bends)
    assert len(bends) == 15 - len(shared)


def test_timing_does_not_drift_over_an_hour():
    late = [NoteEvent(3599.123, 3599.789, 70, 0.5, ()), NoteEvent(1800.0005, 1800.4, 50, 0.5, ())]
    for tempo in (120.0, 97.3, 4.0, 999.0):
        midi = midi_bytes(Transcription(late, 3600.0, TranscriptionOptions(midi_tempo=tempo)))
        played = played_notes(midi)
        assert played[1][0] == pytest.approx(3599.123, abs=1e-3)
        assert played[1][1] == pytest.approx(3599.789, abs=1e-3)
        assert played[0][0] == pytest.approx(1800.0005, abs=1e-3)


def test_a_note_shorter_than_a_tick_still_ends_after_it_starts():
    midi = midi_bytes(Transcription([NoteEvent(1.0, 1.0, 60, 0.5, ())], 2.0))
    (start, end, *_), = played_notes(midi)
    assert end > start


def test_zero_notes_make_a_valid_midi_file_as_long_as_the_audio(tmp_path):
    path = tmp_path / "silence.mid"
    Transcription([], 12.5).write_midi(path)
    midi = mido.MidiFile(path)
    assert played_notes(midi) == []
    assert midi.length == pytest.approx(12.5, abs=1e-3)
    assert not list(tmp_path.glob("*.part"))


def test_a_tempo_midi_cannot_store_is_refused_with_the_slowest_allowed():
    with pytest.raises(InvalidOptionsError, match="midi_tempo.*3.58"):
        TranscriptionOptions.parse({"midi_tempo": 1.0})
    # The writer checks too, for options built without validation.
    unchecked = TranscriptionOptions.model_construct(midi_tempo=1.0)
    with pytest.raises(InvalidOptionsError, match="midi_tempo.*at least 3.58 BPM"):
        midi_bytes(Transcription([], 1.0, unchecked))


def test_overlap_detection_matches_pairwise_check():
    rng = np.random.default_rng(3)
    starts = rng.uniform(0, 20, 200)
    ends = starts + rng.uniform(0.05, 0.6, 200)
    pairwise = [
        any(j != i and starts[j] < ends[i] and starts[i] < ends[j] for j in range(200)) for i in range(200)
    ]
    assert list(notes_overlapping_others(starts, ends)) == pairwise


def test_csv_is_rectangular_with_basic_pitch_columns(tmp_path):
    notes = solo_and_chord()
    path = tmp_path / "notes.csv"
    Transcription(notes, 4.0).write_csv(path)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {len(row) for row in rows} == {5}
    with open(path, newline="") as handle:
        records = list(csv.DictReader(handle))
    for record, note in zip(records, notes, strict=True):
        assert float(record["start_time_s"]) == pytest.approx(note.start_s, abs=1e-6)
        assert float(record["end_time_s"]) == pytest.approx(note.end_s, abs=1e-6)
        assert int(record["pitch_midi"]) == note.pitch
        assert int(record["velocity"]) == note.velocity
        assert tuple(int(b) for b in record["pitch_bend"].split()) == note.pitch_bends


def test_csv_to_a_file_object_leaves_it_open():
    buffer = io.BytesIO()
    Transcription([], 1.0).write_csv(buffer)
    assert not buffer.closed
    assert buffer.getvalue().decode() == ",".join(CSV_COLUMNS) + "\n"


def test_json_holds_per_instrument_notes_and_what_they_mean():
    notes = solo_and_chord()
    options = TranscriptionOptions(onset_threshold=0.6, midi_tempo=90.0)
    buffer = io.BytesIO()
    Transcription(notes, 4.0, options, model_name="test-model").write_json(buffer)
    document = json.loads(buffer.getvalue())
    assert document["duration_s"] == 4.0
    # tempo_bpm is the music's tracked tempo (none here); the forced MIDI tempo is an option.
    assert document["tempo_bpm"] is None and document["options"]["midi_tempo"] == 90.0
    assert document["model"] == "test-model"
    assert TranscriptionOptions.parse(document["options"]) == options
    assert document["tuning_cents"] is None  # not estimated (the engine's compat mode)
    Transcription(notes, 4.0, options, tuning_cents=-31.26).write_json(buffer := io.BytesIO())
    assert json.loads(buffer.getvalue())["tuning_cents"] == -31.3
    (instrument,) = document["instruments"]
    assert instrument["program"] == INSTRUMENT_PROGRAM and instrument["name"] == INSTRUMENT_NAME
    assert instrument["notes"] == [
        {"pitch": n.pitch, "start": n.start_s, "end": n.end_s, "velocity": n.velocity,
         "pitch_bends": list(n.pitch_bends)}
        for n in notes
    ]


@pytest.mark.parametrize(("tonic", "mode", "name"), [(3, "major", "Eb"), (9, "minor", "Am"), (6, "major", "F#"),
                                                     (1, "minor", "C#m"), (10, "minor", "Bbm")])
def test_the_estimated_key_is_the_midi_files_key_signature(tonic, mode, name):
    """DAWs' notation views and MIDI imports (MuseScore's) read the key from the file; without one they
    spell every transcription in C."""
    from midiscribe.engine.key import Key
    from midiscribe.engine.rhythm import Rhythm

    rhythm = Rhythm(beats=tuple(0.5 * np.arange(1, 20)), beats_per_bar=4, first_downbeat=0, compound=False,
                    key=Key(tonic, mode))
    notes = [NoteEvent(1.0, 1.5, 60, 0.8)]
    midi = midi_bytes(Transcription(notes, 10.0, TranscriptionOptions(), rhythm=rhythm))
    keys = [(message.key, message.time) for message in midi.tracks[0] if message.type == "key_signature"]
    assert keys == [(name, 0)]
    unknown = midi_bytes(Transcription(notes, 10.0, TranscriptionOptions()))
    assert not [message for message in unknown.tracks[0] if message.type == "key_signature"]
