"""The score: a quantised transcription as MusicXML, written by music21.

Notes are quantised to the quantize option's grid (sixteenths when it is off) of the MIDI file's
beats, so bars, beats and the pickup are the MIDI file's too. Material that spans the piano's two
clefs is split at middle C onto a treble and a bass staff joined by a brace; otherwise one staff
takes the clef that suits it. Overlapping notes on a staff are merged into chords with ties
(music21's chordify), which keeps every note's start and length and gives one voice per staff.
The key signature is the estimated key, the metronome mark the tracked tempo.

Imports music21, which only the worker image carries.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .outputs import binary_destination
from .tempo_map import tempo_map_for

if TYPE_CHECKING:
    from .transcription import NoteEvent, Transcription

DEFAULT_SCORE_GRID = "1/16"
MIDDLE_C = 60
# Two staves when the notes reach this far on both sides of middle C (a fifth below it, a fourth above).
TWO_STAVES_BELOW = 55
TWO_STAVES_ABOVE = 65
# The finest grid's denominator (1/16t: a sixth of a quarter); quarter positions are exact fractions of it.
GRID_DENOMINATOR = 48


def quarter_fraction(value: float) -> Fraction:
    """A quantised quarter position as an exact fraction (float noise would make odd tuplets)."""
    return Fraction(round(value * GRID_DENOMINATOR), GRID_DENOMINATOR)


def spelled(midi: int, flats: bool):
    """The pitch with black keys spelled as the key signature does (A-flat in F minor, not G-sharp)."""
    from music21 import pitch

    sounding = pitch.Pitch(midi=midi)
    if flats and sounding.accidental is not None and sounding.accidental.name == "sharp":
        sounding = sounding.getEnharmonic()
    elif not flats and sounding.accidental is not None and sounding.accidental.name == "flat":
        sounding = sounding.getEnharmonic()
    return sounding


def staff_split(pitches: list[int]) -> list[tuple[str, list[bool]]]:
    """(clef, which notes) per staff: treble and bass for piano-range material, else one staff."""
    low, high = min(pitches), max(pitches)
    if low <= TWO_STAVES_BELOW and high >= TWO_STAVES_ABOVE:
        return [("treble", [p >= MIDDLE_C for p in pitches]), ("bass", [p < MIDDLE_C for p in pitches])]
    return [("treble" if np.median(pitches) >= MIDDLE_C else "bass", [True] * len(pitches))]


def build_score(transcription: Transcription):
    """The transcription as a :class:`music21.stream.Score`."""
    from music21 import clef, duration, instrument, key, layout, metadata, meter, note, stream, tempo

    grid = transcription.options.quantize if transcription.options.quantize != "off" else DEFAULT_SCORE_GRID
    quantized = transcription.quantized(grid)
    tempo_map = tempo_map_for(quantized)
    notes: list[NoteEvent] = quantized.notes
    starts = tempo_map.quarters_at([n.start_s for n in notes]) if notes else np.zeros(0)
    ends = tempo_map.quarters_at([n.end_s for n in notes]) if notes else np.zeros(0)
    rhythm = transcription.rhythm
    flats = rhythm is not None and rhythm.key is not None and rhythm.key.fifths < 0

    score = stream.Score()
    score.insert(0, metadata.Metadata(title="Transcription", composer="midiscribe"))
    staves = staff_split([n.pitch for n in notes]) if notes else [("treble", [])]
    parts = []
    for clef_name, members in staves:
        staff = stream.PartStaff() if len(staves) > 1 else stream.Part()
        for chosen, item, start, end in zip(members, notes, starts, ends, strict=True):
            if chosen:
                sounding = note.Note(spelled(item.pitch, flats), quarterLength=quarter_fraction(end) - quarter_fraction(start))
                sounding.volume.velocity = item.velocity
                staff.insert(quarter_fraction(start), sounding)
        staff = staff.chordify() if len(staff.notes) else staff
        staff.insert(0, instrument.Piano())
        staff.insert(0, clef.TrebleClef() if clef_name == "treble" else clef.BassClef())
        if rhythm is not None and rhythm.key is not None:
            staff.insert(0, key.KeySignature(rhythm.key.fifths).asKey(rhythm.key.mode))
        for position, numerator, denominator in tempo_map.bars:
            staff.insert(quarter_fraction(position), meter.TimeSignature(f"{numerator}/{denominator}"))
        parts.append(staff)
    if rhythm is not None and transcription.options.midi_tempo is None:
        parts[0].insert(0, tempo.MetronomeMark(number=round(rhythm.tempo_bpm),
                                               referent=duration.Duration(rhythm.quarters_per_beat)))
    end_quarter = float(max((quarter_fraction(q) for q in ends), default=Fraction(0)))
    for staff in parts:
        # Every staff runs to the same last bar line, so a piano system's staves line up.
        staff.makeRests(refStreamOrTimeRange=[0.0, end_quarter], fillGaps=True, inPlace=True, timeRangeFromBarDuration=True)
        score.insert(0, staff)
    if len(parts) > 1:
        score.insert(0, layout.StaffGroup(parts, name="Piano", symbol="brace", barTogether=True))
    return score.makeNotation()


def write_musicxml(transcription: Transcription, destination) -> None:
    """Write the score as an uncompressed MusicXML document to a path or binary file object."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    document = GeneralObjectExporter(build_score(transcription)).parse()
    with binary_destination(destination) as sink:
        sink.write(document)
