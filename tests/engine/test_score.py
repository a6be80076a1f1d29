"""The MusicXML score: parses back with the same notes, validates against MusicXML 4.0's schema, and
MuseScore 3 engraves it."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from musicxml_schema import load_schema

from midiscribe.engine.key import Key
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.rhythm import Rhythm
from midiscribe.engine.transcription import NoteEvent, Transcription

BEAT_S = 0.5  # 120 BPM


def waltz() -> tuple[Transcription, list[tuple[Fraction, Fraction, int]]]:
    """A 3/4 piece in E-flat major with a one-beat pickup: bass on each downbeat, a tune above, played
    slightly off the grid. Returns it and the written notes (quarter position, length, pitch)."""
    # (The pickup is empty: the music starts on the first downbeat, after a lead-in from time 0.)
    beats = 1.0 + BEAT_S * np.arange(40)
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=3, first_downbeat=0, compound=False, key=Key(3, "major"))
    # The file's beats: 0 s and a lead-in beat at 0.5 s, then beats[0] (the first downbeat) is quarter 2,
    # so the score opens with a two-beat pickup bar.
    written: list[tuple[Fraction, Fraction, int]] = []
    tune = [75, 77, 79, 80, 82, 80, 79, 77, 75, 74, 75, 70]
    for bar in range(6):
        downbeat = Fraction(2 + 3 * bar)
        written.append((downbeat, Fraction(3), 39 + (bar % 2) * 5))  # bass: E-flat, A-flat
        for step, length in enumerate((Fraction(1), Fraction(1, 2), Fraction(1, 2), Fraction(1))):
            start = downbeat + sum((Fraction(1), Fraction(1, 2), Fraction(1, 2), Fraction(1))[:step], Fraction(0))
            written.append((start, length, tune[(bar * 2 + step) % len(tune)]))
    rng = np.random.default_rng(5)
    notes = []
    for start, length, pitch in written:
        jitter = float(rng.uniform(-0.03, 0.03))
        seconds = beats[0] + (float(start) - 2) * BEAT_S + jitter
        notes.append(NoteEvent(seconds, seconds + float(length) * BEAT_S * 0.95, pitch, 0.7))
    notes.sort(key=lambda note: note.start_s)
    return Transcription(notes, 25.0, TranscriptionOptions(score=True, quantize="1/8"), rhythm=rhythm), written


@pytest.fixture(scope="module")
def schema():
    return load_schema()


@pytest.fixture(scope="module")
def score_document() -> bytes:
    transcription, _ = waltz()
    buffer = io.BytesIO()
    transcription.write_musicxml(buffer)
    return buffer.getvalue()


def test_score_parses_back_with_the_same_notes(score_document):
    from music21 import converter

    _, written = waltz()
    score = converter.parseData(score_document.decode("utf-8"), format="musicxml").stripTies()
    found = []
    for part in score.parts:
        for element in part.flatten().notes:
            for pitch in element.pitches:
                found.append((Fraction(element.offset).limit_denominator(48),
                              Fraction(element.quarterLength).limit_denominator(48), pitch.midi))
    # Written positions count from the file's beat 0 (the lead-in), like the score's.
    assert sorted(found) == sorted(written)
    assert len(score.parts) == 2  # treble and bass staves for material on both sides of middle C
    signatures = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    assert signatures == {"2/4", "3/4"}  # the two-beat pickup bar, then the waltz
    keys = {ks.sharps for ks in score.recurse().getElementsByClass("KeySignature")}
    assert keys == {-3}
    # Black keys are spelled as the key signature spells them.
    names = {p.name for p in score.flatten().pitches}
    assert "E-" in names and "D#" not in names


@pytest.mark.parametrize(("music_key", "pitches", "names"), [
    (Key(6, "minor"), [65, 66, 62, 63], ["E#", "F#", "D", "D#"]),  # F-sharp minor: its leading tone, raised sixth
    (Key(2, "minor"), [61, 70, 66], ["C#", "B-", "F#"]),  # D minor: C-sharp, not D-flat
    (Key(7, "minor"), [66, 63, 64], ["F#", "E-", "E"]),  # G minor: F-sharp, not G-flat
    (Key(0, "minor"), [71, 68, 63], ["B", "A-", "E-"]),  # C minor
    (Key(9, "minor"), [68, 66, 70], ["G#", "F#", "B-"]),  # A minor
    (Key(0, "major"), [61, 63, 66, 68, 70], ["C#", "E-", "F#", "G#", "B-"]),
    (Key(3, "major"), [71, 66, 61], ["B", "G-", "D-"]),  # E-flat major
    (Key(6, "major"), [65, 60, 67], ["E#", "B#", "G"]),  # F-sharp major: its seventh; no double sharps
    (Key(3, "minor"), [71, 64], ["C-", "F-"]),  # E-flat minor (six flats)
])
def test_pitches_are_spelled_for_the_key(music_key, pitches, names):
    from music21 import pitch

    from midiscribe.engine.score import spelled

    found = [spelled(midi, music_key.fifths) for midi in pitches]
    assert [pitch.Pitch(name).name for name in found] == names
    assert [pitch.Pitch(name).midi for name in found] == pitches  # the same sounding pitch, octave included


def test_a_minor_keys_leading_tone_is_written_as_its_sharpened_seventh():
    """F-sharp minor's cadence (C-sharp, E-sharp, F-sharp) reads back with E-sharp, shown as a sharp, not F."""
    from music21 import converter

    beats = 1.0 + BEAT_S * np.arange(12)
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=0, compound=False, key=Key(6, "minor"))
    melody = [66, 69, 73, 73, 65, 66, 66, 66]
    notes = [NoteEvent(beats[i], beats[i] + 0.45, pitch, 0.7) for i, pitch in enumerate(melody)]
    notes += [NoteEvent(beats[0], beats[4] - 0.05, 42, 0.6), NoteEvent(beats[4], beats[8] - 0.05, 49, 0.6)]
    buffer = io.BytesIO()
    Transcription(notes, 8.0, TranscriptionOptions(score=True, quantize="1/4"), rhythm=rhythm).write_musicxml(buffer)
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    written = [p for p in score.flatten().pitches if p.midi == 65]
    assert [p.name for p in written] == ["E#"]
    assert written[0].accidental is not None and written[0].accidental.displayStatus is not False
    assert {ks.sharps for ks in score.recurse().getElementsByClass("KeySignature")} == {3}


def test_score_validates_against_the_musicxml_4_schema(score_document, schema):
    errors = list(schema.iter_errors(io.BytesIO(score_document)))
    assert errors == [], errors[:3]
    # The check is a real one: a measure without its required number attribute is refused.
    broken = score_document.replace(b'<measure implicit="no" number="1"', b"<measure", 1).replace(
        b'<measure number="1"', b"<measure", 1)
    assert broken != score_document
    assert list(schema.iter_errors(io.BytesIO(broken)))


def test_musescore_engraves_the_score(score_document, tmp_path):
    mscore = shutil.which("mscore3") or shutil.which("musescore3")
    if mscore is None:
        pytest.skip("musescore3 is not installed (Debian: apt-get install musescore3); cannot engrave the score")
    source = tmp_path / "waltz.musicxml"
    source.write_bytes(score_document)
    pdf = tmp_path / "waltz.pdf"
    result = subprocess.run([mscore, "-o", str(pdf), str(source)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-500:]
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000


@pytest.mark.parametrize(("beats_per_bar", "compound", "first_downbeat"), [(4, False, 3), (3, False, 1), (2, True, 1),
                                                                          (3, True, 0), (4, True, 2)])
def test_any_quantised_transcription_makes_a_valid_score_with_the_same_notes(beats_per_bar, compound, first_downbeat,
                                                                           schema):
    """Random notes of every length, overlapping, across a tempo change, in simple and compound metres
    with a pickup, on every grid: the score is valid MusicXML and reads back as the quantised notes."""
    from music21 import converter

    from midiscribe.engine.tempo_map import tempo_map_for

    rng = np.random.default_rng(21 + beats_per_bar)
    # Beats as a tracker finds them: on model frames (11.6 ms), so never evenly spaced in floats.
    beats = np.round(np.cumsum(rng.normal(0.5, 0.004, 36)) / (256 / 22050)) * (256 / 22050)
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=beats_per_bar, first_downbeat=first_downbeat,
                    compound=compound, key=Key(9, "minor"))
    # Each pitch's notes follow one another, so reading ties back cannot join two of them.
    notes = []
    for pitch in rng.choice(np.arange(36, 90), 12, replace=False):
        start = float(rng.uniform(0.0, 3.0))
        while start < beats[-1] - 1.0:
            length = float(rng.exponential(0.4) + 0.02)
            notes.append(NoteEvent(start, start + length, int(pitch), 0.6))
            start += length + 0.3 + float(rng.exponential(1.0))
    notes.sort(key=lambda note: note.start_s)
    for grid in ("1/16", "1/8", "1/8t", "1/16t"):
        transcription = Transcription(notes, float(beats[-1] + 1), TranscriptionOptions(quantize=grid), rhythm=rhythm)
        buffer = io.BytesIO()
        transcription.write_musicxml(buffer)
        assert list(schema.iter_errors(io.BytesIO(buffer.getvalue()))) == [], grid
        quantized = transcription.quantized()
        tempo_map = tempo_map_for(quantized)
        expected = sorted(
            (Fraction(round(float(tempo_map.quarters_at(n.start_s)) * 48), 48),
             Fraction(round(float(tempo_map.quarters_at(n.end_s) - tempo_map.quarters_at(n.start_s)) * 48), 48), n.pitch)
            for n in quantized.notes)
        score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
        assert sorted(tied_notes(score)) == expected, grid


def tied_notes(score) -> list[tuple[Fraction, Fraction, int]]:
    """(start, length, pitch) of every note, tied pieces joined (music21's stripTies leaves chord members)."""
    joined, sounding = [], {}
    for part in score.parts:
        for element in part.flatten().notes:
            offset = Fraction(element.offset).limit_denominator(48)
            piece = Fraction(element.quarterLength).limit_denominator(48)
            for member in element.notes if element.isChord else (element,):
                tie = member.tie.type if member.tie is not None else None
                midi = member.pitch.midi
                start, length = offset, piece
                if tie in ("stop", "continue"):
                    start, so_far = sounding.pop(midi)
                    assert start + so_far == offset, f"a tie to {midi} at {offset} does not continue a note"
                    length += so_far
                if tie in ("start", "continue"):
                    sounding[midi] = (start, length)
                else:
                    joined.append((start, length, midi))
    assert not sounding, f"ties left open: {sounding}"
    return joined


def test_drum_tracks_stay_out_of_the_score(schema):
    """A drum hit's key is not a pitch: a kick (36), snare (38) and hi-hat (42) were notated as C2, D2 and
    F-sharp2 on the piano staves of a stems task. The score notates the pitched tracks; drums alone give
    empty bars."""
    from music21 import converter

    from midiscribe.engine.instruments import Family
    from midiscribe.engine.transcription import Track

    waltz_transcription, written = waltz()
    hits = [NoteEvent(1.0 + BEAT_S * beat, 1.1 + BEAT_S * beat, (36, 38, 42)[beat % 3], 0.8) for beat in range(18)]
    tracks = [Track.for_family("drums", Family.DRUMS, hits), Track.for_family("keys", Family.PIANO, waltz_transcription.notes)]
    band = Transcription.from_tracks(tracks, 25.0, waltz_transcription.options)
    band.rhythm = waltz_transcription.rhythm
    drums_alone = Transcription.from_tracks(tracks[:1], 25.0, waltz_transcription.options)
    drums_alone.rhythm = waltz_transcription.rhythm
    for transcription, expected in ((band, written), (drums_alone, [])):
        buffer = io.BytesIO()
        transcription.write_musicxml(buffer)
        assert list(schema.iter_errors(io.BytesIO(buffer.getvalue()))) == []
        score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
        assert sorted(tied_notes(score)) == sorted(expected)


@pytest.mark.parametrize(("families", "part_names"), [
    (("winds",), {"Flute"}), (("bass",), {"Electric Bass"}), (("piano",), {"Piano"}),
    (("bass", "winds"), {"Piano"}),
])
def test_a_single_track_is_notated_for_its_instrument_and_several_as_a_piano_reduction(schema, families, part_names):
    """A flute's score was labelled Piano (and played back as one); bass and flute stems' grand staff too."""
    from music21 import converter

    from midiscribe.engine.instruments import Family
    from midiscribe.engine.transcription import Track

    waltz_transcription, _ = waltz()
    notes = waltz_transcription.notes
    tracks = [Track.for_family(name, Family(name), notes[index::len(families)]) for index, name in enumerate(families)]
    transcription = Transcription.from_tracks(tracks, 25.0, waltz_transcription.options)
    transcription.rhythm = waltz_transcription.rhythm
    buffer = io.BytesIO()
    transcription.write_musicxml(buffer)
    assert list(schema.iter_errors(io.BytesIO(buffer.getvalue()))) == []
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    assert {part.getInstrument(returnDefault=False).instrumentName for part in score.parts} == part_names
    shown = {part.partName for part in score.parts}
    assert shown == ({"Piano (reduction)"} if len(families) > 1 else part_names)


@pytest.mark.parametrize(("midi_tempo", "expected"), [(None, (120, 1.0)), (90.0, (90, 1.0)), (96.5, (96.5, 1.0))])
def test_the_metronome_mark_is_the_midi_files_tempo(midi_tempo, expected):
    """The tracked tempo, or the midi_tempo the user forced (the score's bars are then that tempo's 4/4
    bars; without a mark a score player took 120 and drifted from the MIDI file)."""
    from music21 import converter, tempo

    transcription, _ = waltz()
    transcription.options = TranscriptionOptions(score=True, quantize="1/8", midi_tempo=midi_tempo)
    buffer = io.BytesIO()
    transcription.write_musicxml(buffer)
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    assert [(mark.number, mark.referent.quarterLength) for mark in marks] == [expected]


def test_a_forced_midi_tempo_is_notated_in_quarter_beats_even_for_compound_material():
    """midi_tempo makes the bars 4/4 of quarters: a quarter note on the second beat is one quarter, not
    two tied eighths split at a dotted-quarter beat the tracked 6/8 had."""
    from music21 import converter

    rhythm = Rhythm(beats=tuple(0.25 + 0.75 * np.arange(30)), beats_per_bar=2, first_downbeat=0, compound=True,
                    key=Key(0, "major"))
    notes = [NoteEvent(0.5, 1.0, 72, 0.7), NoteEvent(2.0, 2.5, 67, 0.7)]  # quarters 1-2 and 4-5 at 120 BPM
    transcription = Transcription(notes, 4.0, TranscriptionOptions(score=True, midi_tempo=120.0), rhythm=rhythm)
    buffer = io.BytesIO()
    transcription.write_musicxml(buffer)
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    written = [(n.pitch.midi, Fraction(n.quarterLength), n.tie) for n in score.recurse().notes]
    assert written == [(72, Fraction(1), None), (67, Fraction(1), None)]


def test_a_forced_midi_tempo_in_a_given_compound_metre_is_notated_in_its_bars():
    """With midi_tempo and time_signature 6/8 the score's bars are 6/8 of the constant tempo's quarters."""
    from music21 import converter, meter

    notes = [NoteEvent(0.5 * k, 0.5 * k + 0.45, 60 + k % 5, 0.7) for k in range(12)]  # eighths at 120 quarters/min
    options = TranscriptionOptions(score=True, quantize="1/8", midi_tempo=120.0, time_signature="6/8")
    transcription = Transcription(notes, 6.5, options)
    buffer = io.BytesIO()
    transcription.write_musicxml(buffer)
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    signatures = {sig.ratioString for sig in score.recurse().getElementsByClass(meter.TimeSignature)}
    assert signatures == {"6/8"}
    measures = score.parts[0].getElementsByClass("Measure")
    assert all(measure.duration.quarterLength == 3.0 for measure in measures)


def test_stems_in_unison_share_one_notehead_per_pitch():
    """Two stems playing the same pitch at once share a staff: a chord held B4 twice, with two ties from
    the same notehead, which notation programs cannot pair (they join ties by pitch). A staff is one voice,
    so the pitch is struck again where the second stem comes in and sounds until both have ended."""
    from music21 import converter

    from midiscribe.engine.instruments import Family
    from midiscribe.engine.transcription import Track

    waltz_transcription, _ = waltz()
    # The waltz's first downbeat, at 1.0 s, is quarter 2 of the file; a beat is 0.5 s.
    keys = [NoteEvent(1.0, 2.5, 71, 0.7), NoteEvent(2.5, 3.0, 74, 0.7)]  # a bar of B4, then D5
    flute = [NoteEvent(1.5, 2.0, 71, 0.7), NoteEvent(2.5, 3.0, 74, 0.7)]  # B4 on beat 2, D5 with the keys
    tracks = [Track.for_family("keys", Family.PIANO, keys), Track.for_family("flute", Family.WINDS, flute)]
    band = Transcription.from_tracks(tracks, 25.0, waltz_transcription.options)
    band.rhythm = waltz_transcription.rhythm
    buffer = io.BytesIO()
    band.write_musicxml(buffer)
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    for chord in score.recurse().getElementsByClass("Chord"):
        pitches = [member.pitch.midi for member in chord.notes]
        assert len(pitches) == len(set(pitches)), f"{pitches} at {chord.offset}"
    assert sorted(tied_notes(score)) == [(Fraction(2), Fraction(1), 71), (Fraction(3), Fraction(2), 71),
                                         (Fraction(5), Fraction(1), 74)]


def test_a_tempo_that_changes_for_good_is_marked_again_where_it_changes(schema):
    """90 BPM for eight 4/4 bars, then 120: the score marks both, at the bars where they start, so a
    score player keeps time with the MIDI file (one mark drifted by a beat every few bars)."""
    from music21 import converter, stream, tempo

    slow = 0.5 + (60 / 90) * np.arange(32)
    fast = slow[-1] + 0.5 * np.arange(1, 33)
    beats = np.concatenate((slow, fast))
    rhythm = Rhythm(beats=tuple(beats), beats_per_bar=4, first_downbeat=0, compound=False, key=Key(0, "major"))
    notes = [NoteEvent(float(t), float(t) + 0.3, 60 + (i % 8), 0.7) for i, t in enumerate(beats)]
    transcription = Transcription(notes, float(beats[-1]) + 1.0, TranscriptionOptions(score=True), rhythm=rhythm)
    buffer = io.BytesIO()
    transcription.write_musicxml(buffer)
    score = converter.parseData(buffer.getvalue().decode("utf-8"), format="musicxml")
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    marked = [(measure.number, mark.number) for measure in measures
              for mark in measure.getElementsByClass(tempo.MetronomeMark)]
    # Time 0 starts a one-beat pickup (the lead-in before the first beat at 0.5 s), so bar 2 is the first
    # full bar and the ninth full bar, bar 10, the first at 120.
    assert marked == [(1, 90), (10, 120)]
    schema.validate(buffer.getvalue().decode("utf-8"))


def test_a_steady_tempo_has_one_mark_the_tracked_one():
    transcription, _ = waltz()
    from midiscribe.engine.score import bar_tempi, score_bars, tempo_marks
    from midiscribe.engine.tempo_map import tempo_map_for

    tempo_map = tempo_map_for(transcription)
    bars = score_bars(tempo_map, Fraction(60), 1.0, 0.25)
    assert tempo_marks(bar_tempi(tempo_map, bars, 1.0), 120.4) == [(0, 120.4)]
    # A single slow bar (a ritardando, a stray beat) is no new tempo; two in a row are.
    tempi = np.full(12, 120.0)
    tempi[5] = 100.0
    assert tempo_marks(tempi, 120.0) == [(0, 120.0)]
    tempi[6:] = 100.0
    assert tempo_marks(tempi, 110.0) == [(0, 120.0), (5, 100.0)]
