"""Writers for a :class:`Transcription`: a standard MIDI file, a note CSV and a note JSON document.

Each writer takes a path or a writable binary file object (an S3 upload buffer, ``io.BytesIO``…).
The MIDI file follows basic-pitch 0.4.0's conventions (one Electric Piano 1 instrument, velocity
from amplitude, pitch bends in thirds of a semitone turned into 14-bit values over a ±2 semitone
range) with three differences a MIDI reader benefits from: the bend range is stated with RPN 0
instead of assumed (and the recording's tuning with RPN 1, fine tuning, when it is not A4 = 440 Hz),
bends return to centre after each bent note, and ``multiple_pitch_bends``
spreads overlapping notes over MIDI channels (one instrument track) instead of writing one
instrument per pitch. A transcription of stems gets one track per stem, named after it, with its
instrument's General MIDI program on channels of its own; drums play on channel 10. The piano model's
transcriptions go on an Acoustic Grand Piano track with their sustain and soft pedals as control
changes, and the JSON lists the pedals. The tempo track is the tempo map of engine/tempo_map.py: the
tracked beats and bars, or one constant tempo when ``midi_tempo`` is given. The JSON carries the
tracked rhythm.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, BinaryIO

import mido
import numpy as np

from .instruments import FAMILY_PROGRAM, Family, program_name
from .tempo_map import tempo_map_for

if TYPE_CHECKING:
    from .rhythm import Rhythm
    from .transcription import NoteEvent, PedalEvent, Track, Transcription

# General MIDI program 5, "Electric Piano 1" (0-based 4): the instrument basic-pitch writes, and ours
# when nothing says what the instrument is.
INSTRUMENT_PROGRAM = FAMILY_PROGRAM[Family.AUTO]
INSTRUMENT_NAME = program_name(INSTRUMENT_PROGRAM)
# The pitch contour has 3 bins per semitone; NoteEvent.pitch_bends counts in those bins.
BEND_STEPS_PER_SEMITONE = 3
# ±2 semitones is General MIDI's default range and the one basic-pitch's bend values assume;
# stating it with RPN 0 makes synthesizers with another default play the bends correctly.
BEND_RANGE_SEMITONES = 2
BEND_UNITS_PER_SEMITONE = 8192 // BEND_RANGE_SEMITONES
# Channel 10 (index 9) is percussion in General MIDI: a pitched note sent there plays a drum.
DRUM_CHANNEL = 9
MELODIC_CHANNELS = tuple(channel for channel in range(16) if channel != DRUM_CHANNEL)

CSV_COLUMNS = ("start_time_s", "end_time_s", "pitch_midi", "velocity", "pitch_bend")
CSV_INSTRUMENT_COLUMN = "instrument"
JSON_FORMAT_VERSION = 1

# The value of a pedal-down control change (transkun trains on 127).
PEDAL_DOWN = 127

# Events sharing a tick are written in this order, so that a note ending exactly where the next one
# starts is released first (and its pedal lifted before it is pressed again), and a bent note's
# first bend is in place before its note-on.
_NOTE_OFF, _PEDAL_UP, _PEDAL_DOWN, _BEND_RESET, _BEND, _NOTE_ON = range(6)


# --------------------------------------------------------------------------------------------------
# Destinations


@contextmanager
def binary_destination(destination) -> Iterator[BinaryIO]:
    """Yield a binary stream for ``destination``; a path is written whole or not at all."""
    if hasattr(destination, "write"):
        yield destination
        return
    path = os.fspath(destination)
    partial = f"{path}.part"
    try:
        with open(partial, "wb") as handle:
            yield handle
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


@contextmanager
def _text_sink(destination) -> Iterator[IO[str]]:
    with binary_destination(destination) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
        finally:
            # Detach so that closing the wrapper never closes a caller's file object.
            text.detach()


# --------------------------------------------------------------------------------------------------
# MIDI


def bend_values(pitch_bends: tuple[int, ...] | list[int]) -> np.ndarray:
    """Contour bins (thirds of a semitone) to 14-bit pitch-wheel values, clipped to the ±2 semitone range."""
    values = np.rint(np.asarray(pitch_bends, dtype=np.float64) * BEND_UNITS_PER_SEMITONE / BEND_STEPS_PER_SEMITONE)
    return np.clip(values, -8192, 8191).astype(np.int64)


def fine_tuning_value(tuning_cents: float | None) -> int | None:
    """The 14-bit RPN 1 (channel fine tuning, ±100 cents) value for a tuning; None when there is none to state."""
    if tuning_cents is None:
        return None
    value = 8192 + round(tuning_cents / 100 * 8192)
    return None if value == 8192 else max(0, min(16383, value))


def notes_overlapping_others(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each note, whether it overlaps another note in time (O(n log n), any order)."""
    count = len(starts)
    overlapping = np.zeros(count, dtype=bool)
    if count < 2:
        return overlapping
    order = np.lexsort((ends, starts))
    sorted_starts, sorted_ends = starts[order], ends[order]
    # A note overlaps an earlier-starting one if any earlier note is still sounding at its start,
    # and a later-starting one if the very next start comes before its end.
    latest_end_before = np.maximum.accumulate(sorted_ends)[:-1]
    hit = np.zeros(count, dtype=bool)
    hit[1:] |= latest_end_before > sorted_starts[1:]
    hit[:-1] |= sorted_starts[1:] < sorted_ends[:-1]
    overlapping[order] = hit
    return overlapping


def assign_channels(notes: list[NoteEvent], spread: bool, pool: tuple[int, ...] = MELODIC_CHANNELS) -> np.ndarray:
    """A MIDI channel per note from ``pool``: all on its first, or overlapping notes spread over the pool.

    Spreading gives each sounding note a channel of its own (so its pitch bends do not bend its
    neighbours), reusing the lowest free channel. When more notes sound at once than there are
    melodic channels, the extra note shares the channel that frees up first; notes sharing a channel
    at the same time then lose their bends, as in the single-channel case.
    """
    channels = np.full(len(notes), pool[0], dtype=np.int64)
    if not spread or not notes:
        return channels
    order = sorted(range(len(notes)), key=lambda index: (notes[index].start_s, notes[index].end_s))
    free = list(pool)
    heapq.heapify(free)
    busy: list[tuple[float, int]] = []  # (end time, channel) of notes still sounding
    for index in order:
        note = notes[index]
        while busy and busy[0][0] <= note.start_s:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            channel = heapq.heappop(free)
        else:
            _, channel = heapq.heappop(busy)
        channels[index] = channel
        heapq.heappush(busy, (note.end_s, channel))
    return channels


def channel_pools(tracks: tuple[Track, ...]) -> list[tuple[int, ...]]:
    """The MIDI channels each track may use: channel 10 for drums, the other 15 shared out among the
    pitched tracks (so each keeps its own program, and ``multiple_pitch_bends`` has its share to spread over)."""
    pitched = [index for index, track in enumerate(tracks) if not track.is_drum]
    if len(pitched) > len(MELODIC_CHANNELS):
        raise ValueError(f"{len(pitched)} pitched tracks do not fit in one MIDI file's {len(MELODIC_CHANNELS)} "
                         "non-drum channels")
    share = len(MELODIC_CHANNELS) // max(1, len(pitched))
    pools: list[tuple[int, ...]] = [(DRUM_CHANNEL,)] * len(tracks)
    for order, index in enumerate(pitched):
        pools[index] = MELODIC_CHANNELS[order * share:(order + 1) * share]
    return pools


def build_midi(transcription: Transcription) -> mido.MidiFile:
    """The transcription as a type-1 :class:`mido.MidiFile`: a tempo track, then one named track per
    instrument with its General MIDI program (drums on channel 10, without one)."""
    options = transcription.options
    tempo_map = tempo_map_for(transcription)
    to_tick = tempo_map.ticks

    bad_pitches = sorted({note.pitch for note in transcription.notes if not 0 <= note.pitch <= 127})
    if bad_pitches:
        raise ValueError(f"MIDI pitches must be 0..127; these notes have {bad_pitches[:5]}")

    tempo_track = mido.MidiTrack()
    tempo_track.append(mido.MetaMessage("track_name", name="tempo", time=0))
    key = transcription.rhythm.key if transcription.rhythm is not None else None
    if key is not None:  # the estimated key, for the notation views of DAWs and MIDI imports
        tempo_track.append(mido.MetaMessage("key_signature", key=midi_key_name(key), time=0))
    last_tick = 0
    for tick, message in tempo_map.meta_messages():
        tempo_track.append(message.copy(time=tick - last_tick))
        last_tick = tick
    tempo_track.append(mido.MetaMessage("end_of_track", time=0))

    midi = mido.MidiFile(type=1, ticks_per_beat=tempo_map.ticks_per_quarter)
    midi.tracks.append(tempo_track)
    tracks = transcription.instrument_tracks()
    # The file lasts as long as the audio, so players and DAWs line it up with the recording.
    duration_tick = int(to_tick(transcription.duration_s))
    for track, pool in zip(tracks, channel_pools(tracks), strict=True):
        midi.tracks.append(_instrument_track(track, pool, options, to_tick, duration_tick,
                                             named_instrument=bool(transcription.tracks)))
    return midi


def _instrument_track(track: Track, pool: tuple[int, ...], options, to_tick, duration_tick: int,
                      named_instrument: bool) -> mido.MidiTrack:
    notes = list(track.notes)
    with_bends = options.include_pitch_bends and not track.is_drum
    channels = assign_channels(notes, spread=options.multiple_pitch_bends and with_bends, pool=pool)
    starts = np.array([note.start_s for note in notes], dtype=np.float64)
    ends = np.array([note.end_s for note in notes], dtype=np.float64)
    start_ticks = to_tick(starts)
    # A note keeps at least one tick so that its note-off cannot precede its own note-on.
    end_ticks = np.maximum(to_tick(ends), start_ticks + 1)

    shares_channel = np.zeros(len(notes), dtype=bool)
    for channel in np.unique(channels):
        members = np.flatnonzero(channels == channel)
        shares_channel[members] = notes_overlapping_others(starts[members], ends[members])

    # Each event: (tick, order within the tick, note index, position in the note, status, data 1, data 2).
    events: list[tuple[int, int, int, int, int, int, int]] = []
    for index, note in enumerate(notes):
        channel, pitch = int(channels[index]), int(note.pitch)
        start_tick, end_tick = int(start_ticks[index]), int(end_ticks[index])
        events.append((start_tick, _NOTE_ON, index, 0, 0x90 | channel, pitch, note.velocity))
        events.append((end_tick, _NOTE_OFF, index, 0, 0x80 | channel, pitch, 0))
        if not with_bends or shares_channel[index] or not note.pitch_bends:
            continue
        values = bend_values(note.pitch_bends)
        # One bend per model frame, spread evenly over the note as basic-pitch spreads them.
        bend_ticks = start_tick + np.floor(
            np.arange(len(values)) * (end_tick - start_tick) / len(values)
        ).astype(np.int64)
        # A repeated value changes nothing: only changes are written, which keeps files small.
        previous = np.concatenate(([0], values[:-1]))
        changed = np.flatnonzero(values != previous)
        for position in changed:
            value = int(values[position]) + 8192
            events.append((int(bend_ticks[position]), _BEND, index, int(position), 0xE0 | channel, value & 0x7F, value >> 7))
        if values[-1] != 0:
            events.append((end_tick, _BEND_RESET, index, 0, 0xE0 | channel, 0x00, 0x40))
    used_channels = sorted({int(channel) for channel in channels}) or [pool[0]]
    for pedal in track.pedals:
        down, up = int(to_tick(pedal.start_s)), int(to_tick(pedal.end_s))
        for channel in used_channels:
            events.append((down, _PEDAL_DOWN, 0, 0, 0xB0 | channel, pedal.controller, PEDAL_DOWN))
            events.append((max(up, down + 1), _PEDAL_UP, 0, 0, 0xB0 | channel, pedal.controller, 0))
    events.sort()

    midi_track = mido.MidiTrack()
    midi_track.append(mido.MetaMessage("track_name", name=meta_text(track.name), time=0))
    if named_instrument:
        midi_track.append(mido.MetaMessage("instrument_name", name=meta_text(track.instrument_name), time=0))
    if not track.is_drum:  # channel 10's sounds are chosen by key, not by program
        fine_tuning = fine_tuning_value(track.tuning_cents)
        for channel in used_channels:
            midi_track.append(mido.Message("program_change", channel=channel, program=track.program, time=0))
            if with_bends:
                for control, value in ((101, 0), (100, 0), (6, BEND_RANGE_SEMITONES), (38, 0), (101, 127), (100, 127)):
                    midi_track.append(mido.Message("control_change", channel=channel, control=control, value=value,
                                                   time=0))
            if fine_tuning is not None:
                # RPN 1, channel fine tuning: the notes play at the recording's own pitch.
                for control, value in ((101, 0), (100, 1), (6, fine_tuning >> 7), (38, fine_tuning & 0x7F),
                                       (101, 127), (100, 127)):
                    midi_track.append(mido.Message("control_change", channel=channel, control=control, value=value,
                                                   time=0))

    last_tick = 0
    for tick, _, _, _, status, data1, data2 in events:
        kind, channel = status & 0xF0, status & 0x0F
        # The values were range-checked above; mido's per-message checks would double the write time.
        if kind == 0xE0:
            message = mido.Message("pitchwheel", skip_checks=True, channel=channel,
                                   pitch=(data1 | data2 << 7) - 8192, time=tick - last_tick)
        elif kind == 0xB0:
            message = mido.Message("control_change", skip_checks=True, channel=channel, control=data1,
                                   value=data2, time=tick - last_tick)
        else:
            message = mido.Message("note_on" if kind == 0x90 else "note_off", skip_checks=True,
                                   channel=channel, note=data1, velocity=data2, time=tick - last_tick)
        midi_track.append(message)
        last_tick = tick
    midi_track.append(mido.MetaMessage("end_of_track", time=max(0, duration_tick - last_tick)))
    return midi_track


def midi_key_name(key) -> str:
    """mido's name of a key signature ("Eb", "F#m") for an estimated :class:`~.key.Key`."""
    fifths = max(-7, min(7, key.fifths))
    tonic = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")[fifths + 7]
    if key.mode == "major":
        return tonic
    relative = ("Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#")[fifths + 7]
    return f"{relative}m"


def meta_text(text: str) -> str:
    """Text for a MIDI meta event. mido writes it as Latin-1, which cannot hold a stem named "ドラム" or
    "бас"; such text is written as its UTF-8 bytes (what DAWs read in track names) instead of failing."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8").decode("latin-1")
    return text


def write_midi(transcription: Transcription, destination) -> None:
    """Write the transcription as a standard MIDI file to a path or binary file object."""
    midi = build_midi(transcription)
    with binary_destination(destination) as sink:
        midi.save(file=sink)


# --------------------------------------------------------------------------------------------------
# CSV and JSON


def _seconds(value: float) -> float:
    # Microseconds are far finer than the model's 11.6 ms frames; more digits only add noise.
    return round(float(value), 6)


def write_csv(transcription: Transcription, destination) -> None:
    """Write one row per note with basic-pitch's columns, the bends space-separated in one field.

    basic-pitch appends each bend as an extra column, which makes rows of different lengths that
    many CSV readers refuse; keeping them in one field keeps the table rectangular. A multi-track
    transcription adds a sixth column, ``instrument``: the name of the stem the note came from (unique,
    where General MIDI program names may repeat), rows in time order across stems.
    """
    tracks = transcription.instrument_tracks()
    multitrack = transcription.is_multitrack
    rows = sorted(((note, index) for index, track in enumerate(tracks) for note in track.notes),
                  key=lambda row: (row[0].start_s, row[1], row[0].pitch, row[0].end_s))
    with _text_sink(destination) as text:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS + (CSV_INSTRUMENT_COLUMN,) * multitrack)
        for note, index in rows:
            row = (
                _seconds(note.start_s),
                _seconds(note.end_s),
                note.pitch,
                note.velocity,
                " ".join(map(str, map(int, note.pitch_bends))),
            )
            writer.writerow(row + (tracks[index].name,) * multitrack)


def note_dict(note: NoteEvent) -> dict:
    return {
        "pitch": int(note.pitch),
        "start": _seconds(note.start_s),
        "end": _seconds(note.end_s),
        "velocity": note.velocity,
        "pitch_bends": list(map(int, note.pitch_bends)),
    }


def instrument_dict(track: Track, from_stems: bool) -> dict:
    """One instrument of the JSON document. ``name`` is what kie.ai calls it (GM program name or "Drums")."""
    entry = {
        "name": track.instrument_name,
        "program": track.program,
        "is_drum": track.is_drum,
        "family": track.family.value,
    }
    if from_stems:
        entry["stem"] = track.name
    entry["notes"] = [note_dict(note) for note in track.notes]
    if from_stems:
        entry["tuning_cents"] = _cents(track.tuning_cents)
        if track.pedals:
            entry["pedals"] = [pedal_dict(pedal) for pedal in track.pedals]
    return entry


def _cents(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def pedal_dict(pedal: PedalEvent) -> dict:
    return {"controller": pedal.controller, "start": _seconds(pedal.start_s), "end": _seconds(pedal.end_s)}


def transcription_dict(transcription: Transcription) -> dict:
    """The JSON document: per-instrument notes plus what is needed to interpret them."""
    options = transcription.options
    return {
        "format_version": JSON_FORMAT_VERSION,
        "model": transcription.model_name,
        "duration_s": _seconds(transcription.duration_s),
        **rhythm_dict(transcription.rhythm),
        "pitch_bend_unit": "third of a semitone per model frame",
        "model_frame_rate_hz": round(22050 / 256, 4),
        "options": options.model_dump(mode="json"),
        # The recording's tuning against A4 = 440 Hz; notes are its nearest semitones (null: not estimated,
        # as in compat mode or with the piano model; a multi-track result gives each stem's own).
        "tuning_cents": _cents(transcription.tuning_cents),
        "instruments": [instrument_dict(track, bool(transcription.tracks))
                        for track in transcription.instrument_tracks()],
        "pedals": [pedal_dict(pedal) for pedal in transcription.pedals],
        # What about the input made the notes worse, and what to send instead (empty: nothing).
        "notices": list(transcription.notices),
    }


def rhythm_dict(rhythm: Rhythm | None) -> dict:
    """The JSON's rhythm fields; null (and empty lists) when no steady beat was found."""
    if rhythm is None:
        return {"tempo_bpm": None, "beats": [], "downbeats": [], "time_signature": None, "key": None}
    numerator, denominator = rhythm.time_signature
    return {
        "tempo_bpm": round(rhythm.tempo_bpm, 2),  # the metre's beat: the dotted quarter in 6/8
        "beats": [_seconds(beat) for beat in rhythm.beats],
        "downbeats": [_seconds(beat) for beat in rhythm.downbeats],
        "time_signature": f"{numerator}/{denominator}",
        "key": rhythm.key.name if rhythm.key is not None else None,
    }


def write_json(transcription: Transcription, destination) -> None:
    """Write the JSON document (UTF-8) to a path or binary file object."""
    # json.dumps uses the C encoder; json.dump to a stream falls back to the pure-Python one.
    document = json.dumps(transcription_dict(transcription), separators=(",", ":")) + "\n"
    with binary_destination(destination) as sink:
        sink.write(document.encode("utf-8"))

