"""The score: a quantised transcription as MusicXML, notated here from the grid and written by music21.

Notes are quantised to the quantize option's grid (sixteenths when it is off) of the MIDI file's
beats, so bars, beats and the pickup are the MIDI file's too. Material that spans the piano's two
clefs is split at middle C onto a treble and a bass staff joined by a brace; otherwise one staff
takes the clef that suits it. Drum tracks are left out (their notes are drum keys, not pitches). The
key signature is the estimated key, the metronome mark the tracked tempo (or the midi_tempo given).

Each staff is one voice of chords: it is cut at its bar lines and wherever a note starts or ends,
and each piece is a chord of the notes sounding through it (tied to the next piece while they go
on) or a rest, written as the fewest plain, dotted or triplet note values that start where such a
value may (a value of a beat or more on a beat, a shorter one inside its beat). The notation is
built directly from the grid because music21's own route (chordify, then makeNotation, then an
exporter that copies the score and runs makeNotation again) takes about a minute on a 10-minute
file; music21 only spells accidentals per bar, beams, brackets triplets and serialises.

Imports music21, which only the worker image carries, and only when a score is written.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from .options import QUANTIZE_GRIDS
from .outputs import binary_destination
from .tempo_map import tempo_map_for

if TYPE_CHECKING:
    from .transcription import Transcription

DEFAULT_SCORE_GRID = "1/16"
# A new metronome mark where the tempo moves by more than this for good: tempo Acc1's tolerance, and
# more than the bar-to-bar wobble of tracked beats (a frame of 11.6 ms in a two-second bar is 0.6 %).
TEMPO_MARK_CHANGE = 0.04
MIDDLE_C = 60
# Two staves when the notes reach this far on both sides of middle C (a fifth below it, a fourth above).
TWO_STAVES_BELOW = 55
TWO_STAVES_ABOVE = 65
# The finest grid's denominator (1/16t: a sixth of a quarter); quarter positions are exact fractions of it.
GRID_DENOMINATOR = 48
# The order sharps enter a key signature; flats enter in the reverse order.
SHARP_ORDER = ("F", "C", "G", "D", "A", "E", "B")
# Pitch spelling on the line of fifths (F = -1, C = 0, G = 1 ... B = 5, F-sharp = 6 ... B-sharp = 12; B-flat = -2
# ... F-flat = -8): each pitch class takes the one name whose place lies in the twelve places from 3 fifths
# below the key signature's to 8 above it. In C major (and A minor, its signature) that is E-flat and B-flat
# below, F-sharp, C-sharp and G-sharp above: a minor key's raised sixth and seventh (F-sharp and G-sharp in A
# minor, C-sharp in D minor, E-sharp in F-sharp minor) and a major key's secondary dominants are sharps, its
# borrowed third and seventh flats. Places past B-sharp or F-flat come back by twelve (no double accidentals).
# The steps' order on the line of fifths is SHARP_ORDER's.
SPELLING_WINDOW_BELOW = 3
SHARPEST, FLATTEST = 12, -8
# Written note values in quarters, longest first, with the value each may start on a multiple of
# inside its beat: plain values on themselves, dotted ones on their smallest part, triplets on themselves.
NOTE_VALUES = tuple((Fraction(value), Fraction(unit)) for value, unit in (
    (6, 2), (4, 4), (3, 1), (2, 2), (Fraction(3, 2), Fraction(1, 2)), (1, 1), (Fraction(3, 4), Fraction(1, 4)),
    (Fraction(2, 3), Fraction(2, 3)), (Fraction(1, 2), Fraction(1, 2)), (Fraction(3, 8), Fraction(1, 8)),
    (Fraction(1, 3), Fraction(1, 3)), (Fraction(1, 4), Fraction(1, 4)), (Fraction(1, 6), Fraction(1, 6)),
    (Fraction(1, 8), Fraction(1, 8)), (Fraction(1, 12), Fraction(1, 12)), (Fraction(1, 16), Fraction(1, 16)),
))


def quarter_fraction(value: float) -> Fraction:
    """A quantised quarter position as an exact fraction (float noise would make odd tuplets)."""
    return Fraction(round(value * GRID_DENOMINATOR), GRID_DENOMINATOR)


@dataclass(frozen=True)
class StaffNote:
    """A quantised note on a staff, in quarters from the start of the file."""

    start: Fraction
    end: Fraction
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Bar:
    start: Fraction  # quarters from the start of the file
    length: Fraction  # quarters
    beat: Fraction  # the metre's beat in quarters: a dotted quarter in 6/8
    step: Fraction  # every note start and end in the bar, and every beat, is a whole number of these
    time_signature: tuple[int, int] | None  # set where it changes, else None


def note_values(position: Fraction, length: Fraction, bar: Bar) -> list[Fraction]:
    """``length`` quarters from ``position`` (quarters into ``bar``) as written note values, in order.

    Greedy, longest value first, among whole multiples of the bar's step (so a dotted eighth never
    strands a triplet, and the step itself always fits): a value of a beat or more must start on a
    beat (and in compound metre, whose beat is dotted, last whole beats), a shorter one must start on
    a multiple of its unit and end inside the beat it starts in, so the beat stays visible.
    """
    beat = bar.beat
    compound = beat.denominator != 1
    values = []
    while length > 0:
        for value, unit in NOTE_VALUES:
            if value > length or value % bar.step:
                continue
            if value >= beat:
                fits = position % beat == 0 and not (compound and value % beat)
            else:
                fits = position % unit == 0 and (position % beat) + value <= beat
            if fits:
                break
        else:
            raise ValueError(f"{length} quarters at {position} are off the bar's grid of {bar.step}")
        values.append(value)
        position += value
        length -= value
    return values


def fraction_gcd(first: Fraction, second: Fraction) -> Fraction:
    """The largest fraction both are whole multiples of."""
    denominator = first.denominator * second.denominator // math.gcd(first.denominator, second.denominator)
    return Fraction(math.gcd(int(first * denominator), int(second * denominator)), denominator)


def pieces(notes: list[StaffNote], bars: list[Bar]) -> Iterator[tuple[int, Fraction, list[tuple[StaffNote, Fraction]]]]:
    """(bar index, length, [(note, piece start)]) for every piece of a staff, in order; an empty list is a rest.

    A piece runs between neighbouring points where a note starts or ends or a bar begins, and is then
    split into written note values; every note sounding through it belongs to it.
    """
    bar_starts = [bar.start for bar in bars]
    end = bars[-1].start + bars[-1].length
    cuts = sorted({*bar_starts, end, *(note.start for note in notes), *(note.end for note in notes)})
    by_start = sorted(notes, key=lambda note: note.start)
    sounding: list[StaffNote] = []
    next_note = 0
    bar_index = 0
    for left, right in zip(cuts[:-1], cuts[1:], strict=True):
        while bar_index + 1 < len(bars) and bar_starts[bar_index + 1] <= left:
            bar_index += 1
        sounding = [note for note in sounding if note.end > left]
        while next_note < len(by_start) and by_start[next_note].start <= left:
            sounding.append(by_start[next_note])
            next_note += 1
        bar = bars[bar_index]
        position = left
        for value in note_values(left - bar.start, right - left, bar):
            yield bar_index, value, [(note, position) for note in sounding]
            position += value


def tie_type(note: StaffNote, start: Fraction, length: Fraction) -> str | None:
    """How a piece of a note is tied: start, continue, stop, or None for the whole note."""
    begins, ends = note.start == start, note.end == start + length
    if begins and ends:
        return None
    return "start" if begins else "stop" if ends else "continue"


def spelled(midi: int, fifths: int) -> str:
    """The pitch's name (music21's, e.g. "E#5", "B-3") in a key signature of ``fifths`` sharps (negative: flats):
    see SPELLING_WINDOW_BELOW. E-sharp, not F, is F-sharp minor's leading tone; C-sharp, not D-flat, D minor's."""
    # Place p on the line of fifths has pitch class 7p mod 12, and 7 * 7 = 1 mod 12, so p = 7 * pitch class mod 12.
    lowest = fifths - SPELLING_WINDOW_BELOW
    place = lowest + (7 * (midi % 12) - lowest) % 12
    if place > SHARPEST:
        place -= 12
    elif place < FLATTEST:
        place += 12
    alteration = (place + 1) // 7  # -1 flat, 0 natural, 1 sharp
    step = SHARP_ORDER[(place + 1) % 7]
    return f"{step}{'#' if alteration > 0 else '-' if alteration < 0 else ''}{(midi - alteration) // 12 - 1}"


def key_alterations(fifths: int) -> dict[str, int]:
    """The alteration the key signature gives each step: +1 for its sharps, -1 for its flats."""
    order = SHARP_ORDER if fifths >= 0 else SHARP_ORDER[::-1]
    return {step: (1 if fifths > 0 else -1) if step in order[: abs(fifths)] else 0 for step in SHARP_ORDER}


def show_accidentals(measure, key_alteration: dict[str, int]) -> None:
    """Show an accidental where a note's alteration differs from what its staff line has at that point
    of the bar (the key signature's, or the last one shown on that line and octave); a note tied over
    from before never shows one, and does not change what the line has."""
    from music21 import pitch

    on_line: dict[tuple[str, int], int] = {}
    for element in measure.notes:
        for written in element.notes if element.isChord else (element,):
            sounding = written.pitch
            alteration = int(sounding.alter)
            line = (sounding.step, sounding.octave)
            tied_over = written.tie is not None and written.tie.type in ("stop", "continue")
            shown = not tied_over and alteration != on_line.get(line, key_alteration[sounding.step])
            if shown:
                on_line[line] = alteration
                if sounding.accidental is None:
                    sounding.accidental = pitch.Accidental("natural")
            if sounding.accidental is not None:
                sounding.accidental.displayStatus = shown


def staff_split(pitches: list[int]) -> list[tuple[str, list[bool]]]:
    """(clef, which notes) per staff: treble and bass for piano-range material, else one staff."""
    low, high = min(pitches), max(pitches)
    if low <= TWO_STAVES_BELOW and high >= TWO_STAVES_ABOVE:
        return [("treble", [p >= MIDDLE_C for p in pitches]), ("bass", [p < MIDDLE_C for p in pitches])]
    return [("treble" if np.median(pitches) >= MIDDLE_C else "bass", [True] * len(pitches))]


def one_line_per_pitch(notes: list[StaffNote]) -> list[StaffNote]:
    """The notes with no two of one pitch sounding at once, as a staff's one voice can show them.

    Stems in unison (a flute doubling the keys) share a staff: a chord would hold the pitch twice, with
    ties no notation program can pair. Notes of a pitch that start together become the longest of them;
    a note still sounding when the next of its pitch starts ends there, and that one sounds on until
    both have ended.
    """
    by_pitch: dict[int, list[StaffNote]] = {}
    for staff_note in sorted(notes, key=lambda n: (n.pitch, n.start, -n.end)):
        line = by_pitch.setdefault(staff_note.pitch, [])
        if line and line[-1].start == staff_note.start:
            continue  # the longest of those starting together came first
        if line and line[-1].end > staff_note.start:
            held = line[-1]
            line[-1] = StaffNote(held.start, staff_note.start, held.pitch, held.velocity)
            staff_note = StaffNote(staff_note.start, max(staff_note.end, held.end), staff_note.pitch,
                                   staff_note.velocity)
        line.append(staff_note)
    return sorted((n for line in by_pitch.values() for n in line), key=lambda n: (n.start, n.pitch))


def score_bars(tempo_map, end_quarter: Fraction, quarters_per_beat: float, grid_step: float) -> list[Bar]:
    """The tempo map's bars up to the first bar line at or after ``end_quarter`` (at least one bar)."""
    signatures = [(quarter_fraction(position), (numerator, denominator))
                  for position, numerator, denominator in tempo_map.bars]
    starts = [quarter_fraction(start) for start in tempo_map.bar_starts(float(end_quarter))]
    beat = quarter_fraction(quarters_per_beat)
    bars: list[Bar] = []
    shown = None
    for index, start in enumerate(starts):
        signature = [signature for position, signature in signatures if position <= start][-1]
        length = starts[index + 1] - start if index + 1 < len(starts) else Fraction(4 * signature[0], signature[1])
        # Notes sit on the grid counted from the bar line; the bar's end and its beats may fall between.
        step = fraction_gcd(fraction_gcd(quarter_fraction(grid_step), beat), length)
        bars.append(Bar(start, length, beat, step, signature if signature != shown else None))
        shown = signature
        if start + length >= end_quarter:
            break
    return bars


def bar_tempi(tempo_map, bars: list[Bar], quarters_per_beat: float) -> np.ndarray:
    """Each bar's tempo in the metre's beats a minute, from the seconds the tempo map gives it."""
    starts = np.array([float(bar.start) for bar in bars])
    ends = starts + np.array([float(bar.length) for bar in bars])
    seconds = tempo_map.seconds_at(ends) - tempo_map.seconds_at(starts)
    return 60.0 * (ends - starts) / quarters_per_beat / np.maximum(seconds, 1e-9)


def tempo_marks(tempi: np.ndarray, tracked_bpm: float) -> list[tuple[int, float]]:
    """(bar index, BPM) of the score's metronome marks: one per stretch of bars whose tempo stays within
    TEMPO_MARK_CHANGE of the stretch's median; a stretch ends where two bars in a row leave it (one bar
    is a ritardando or a stray beat, not a new tempo), and a stretch of one bar (the bar a step change
    falls inside) gets no mark of its own. One stretch is marked with ``tracked_bpm``, the JSON's
    ``tempo_bpm``; several with each stretch's median."""
    stretches: list[list[float]] = [[]]
    starts = [0]
    for index, bpm in enumerate(tempi):
        current = stretches[-1]
        median = float(np.median(current)) if current else bpm
        leaves = abs(np.log(bpm / median)) > np.log1p(TEMPO_MARK_CHANGE)
        after = tempi[index + 1] if index + 1 < len(tempi) else None
        if current and leaves and after is not None and abs(np.log(after / median)) > np.log1p(TEMPO_MARK_CHANGE):
            stretches.append([])
            starts.append(index)
        stretches[-1].append(float(bpm))
    kept = [(start, stretch) for index, (start, stretch) in enumerate(zip(starts, stretches, strict=True))
            if index == 0 or len(stretch) > 1]
    if len(kept) == 1:
        return [(0, tracked_bpm)]
    marks: list[tuple[int, float]] = []
    for start, stretch in kept:
        bpm = float(np.median(stretch))
        if not marks or round(bpm) != round(marks[-1][1]):
            marks.append((start, bpm))
    return marks


def build_score(transcription: Transcription):
    """The transcription as a well-formed :class:`music21.stream.Score`: measures, ties, one voice per staff."""
    from music21 import duration, layout, metadata, stream, tempo

    grid = transcription.options.quantize if transcription.options.quantize != "off" else DEFAULT_SCORE_GRID
    quantized = transcription.quantized(grid)
    tempo_map = tempo_map_for(quantized)
    # A drum hit's General MIDI key is not a pitch: only the pitched tracks are notated.
    pitched = [track for track in quantized.instrument_tracks() if not track.is_drum]
    notes = sorted((note for track in pitched for note in track.notes), key=lambda note: (note.start_s, note.pitch))
    # One pitched track is notated for its own instrument (a flute's score says Flute, and plays back as one);
    # several are reduced to one grand staff, as a piano reduction.
    program = pitched[0].program if len(pitched) == 1 else 0
    reduction = "Piano (reduction)" if len(pitched) > 1 else None
    starts = tempo_map.quarters_at([n.start_s for n in notes]) if notes else np.zeros(0)
    ends = tempo_map.quarters_at([n.end_s for n in notes]) if notes else np.zeros(0)
    staff_notes = one_line_per_pitch([
        StaffNote(quarter_fraction(start), quarter_fraction(end), item.pitch, item.velocity)
        for item, start, end in zip(notes, starts, ends, strict=True)
    ])
    rhythm = transcription.rhythm
    music_key = rhythm.key if rhythm is not None else None
    # A forced midi_tempo makes the tempo map's bars 4/4 (or the time_signature given), whatever was tracked.
    if rhythm is not None and transcription.options.midi_tempo is None:
        quarters_per_beat = rhythm.quarters_per_beat
    else:
        metre = transcription.options.rhythm_hints.metre
        quarters_per_beat = 1.5 if metre is not None and metre[1] else 1.0
    end_quarter = max((n.end for n in staff_notes), default=Fraction(0))
    bars = score_bars(tempo_map, max(end_quarter, Fraction(1, GRID_DENOMINATOR)), quarters_per_beat,
                      QUANTIZE_GRIDS[grid])
    fifths = music_key.fifths if music_key is not None else 0
    spellings = {pitch: spelled(pitch, fifths) for pitch in {n.pitch for n in staff_notes}}

    score = stream.Score()
    score.insert(0, metadata.Metadata(title="Transcription", composer="midiscribe"))
    staves = staff_split([n.pitch for n in staff_notes]) if staff_notes else [("treble", [])]
    parts = [
        notated_staff(stream.PartStaff() if len(staves) > 1 else stream.Part(), clef_name,
                      [staff_note for staff_note, member in zip(staff_notes, members, strict=True) if member],
                      bars, music_key, spellings, program, reduction)
        for clef_name, members in staves
    ]
    # The MIDI file's tempo: the one the user forced (in quarters, as its 4/4 bars count), else the tracked
    # one, marked again wherever it changes for good (so a score player keeps time with the recording).
    forced = transcription.options.midi_tempo
    if forced is not None:
        marks = [(0, forced, 1.0)]
    elif rhythm is not None:
        tempi = bar_tempi(tempo_map, bars, quarters_per_beat)
        if len(bars) > 1 and bars[0].length < bars[1].length:
            tempi[0] = tempi[1]  # a pickup's time runs from 0, before the music's first beat
        marks = [(index, bpm, quarters_per_beat) for index, bpm in tempo_marks(tempi, rhythm.tempo_bpm)]
    else:
        marks = []
    measures = list(parts[0].getElementsByClass(stream.Measure))
    for index, bpm, beat in marks:
        measures[index].insert(0, tempo.MetronomeMark(number=bpm if forced is not None else round(bpm),
                                                      referent=duration.Duration(beat)))
    for staff in parts:
        score.insert(0, staff)
    if len(parts) > 1:
        name = reduction or parts[0].getInstrument(returnDefault=False).instrumentName
        score.insert(0, layout.StaffGroup(parts, name=name, symbol="brace", barTogether=True))
    return score


def notated_staff(staff, clef_name: str, notes: list[StaffNote], bars: list[Bar], music_key, spellings: dict[int, str],
                  program: int = 0, part_name: str | None = None):
    """``staff`` (a music21 Part) for General MIDI ``program``'s instrument (named ``part_name`` when given),
    filled with one measure per bar: clef, key and time signatures, the notes as chords and rests with ties,
    beams, triplet brackets and accidentals."""
    from music21 import bar as barline
    from music21 import clef, instrument, key, meter, stream

    played = instrument.instrumentFromMidiProgram(program)
    if part_name:
        played.partName = part_name
    staff.insert(0, played)
    measures = [stream.Measure(number=index + 1) for index in range(len(bars))]
    measures[0].insert(0, clef.TrebleClef() if clef_name == "treble" else clef.BassClef())
    if music_key is not None:
        measures[0].insert(0, key.KeySignature(music_key.fifths).asKey(music_key.mode))
    for measure, bar in zip(measures, bars, strict=True):
        if bar.time_signature is not None:
            measure.insert(0, meter.TimeSignature(f"{bar.time_signature[0]}/{bar.time_signature[1]}"))
    for bar_index, length, sounding in pieces(notes, bars):
        measures[bar_index].append(written_element(sounding, length, spellings))
    key_alteration = key_alterations(music_key.fifths if music_key is not None else 0)
    signature = None
    for measure, bar in zip(measures, bars, strict=True):
        signature = measure.timeSignature or signature
        beam_measure(measure, signature)
        show_accidentals(measure, key_alteration)
        staff.insert(bar.start, measure)
    measures[-1].rightBarline = barline.Barline("final")
    return staff


def written_element(sounding: list[tuple[StaffNote, Fraction]], length: Fraction, spellings: dict[int, str]):
    """One piece of a staff as a note, a chord (low to high, each member tied as its note goes on) or a rest."""
    from music21 import duration, note, tie

    members = []
    for staff_note, start in sorted(sounding, key=lambda item: item[0].pitch):
        written = note.Note(spellings[staff_note.pitch])  # from the name: a Pitch of its own per note
        written.volume.velocity = staff_note.velocity
        tied = tie_type(staff_note, start, length)
        if tied is not None:
            written.tie = tie.Tie(tied)
        members.append(written)
    element = note.Rest() if not members else members[0] if len(members) == 1 else ascending_chord()(members)
    element.duration = duration.Duration(length)
    return element


@functools.cache
def ascending_chord() -> type:
    """music21's Chord for chords built low to high, whose sortAscending() needs no sorted copy.

    music21's exporter calls ``sortAscending()`` on every chord and drops the sorted deep copy it
    returns; on a long score those copies are half the export time.
    """
    from music21 import chord

    class AscendingChord(chord.Chord):
        def sortAscending(self, *, inPlace=False):
            return None if inPlace else self

    return AscendingChord


def beam_measure(measure, time_signature) -> None:
    """Beams and triplet brackets in one full bar, by its time signature's beat groups.

    music21's Stream.makeBeams would look the time signature and clef up in the whole part for every
    bar and beam group, which costs more than everything else here together on a long file.
    """
    from music21 import beam, stream

    elements = list(measure.notesAndRests)
    if len(elements) > 1:
        for element, beams in zip(elements, time_signature.getBeams(elements), strict=True):
            element.beams = beams if beams is not None else beam.Beams()
    stream.makeNotation.makeTupletBrackets(measure, inPlace=True)


def write_musicxml(transcription: Transcription, destination) -> None:
    """Write the score as an uncompressed MusicXML document to a path or binary file object."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    exporter = GeneralObjectExporter(build_score(transcription))
    exporter.makeNotation = False  # the score is notated already: no copy, no second notation pass
    document = exporter.parse()
    with binary_destination(destination) as sink:
        sink.write(document)
