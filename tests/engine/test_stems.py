"""``transcribe_stems``: named stems in, one transcription with a track per stem (real model, real drums)."""

from __future__ import annotations

import io
import threading
from concurrent.futures import Future
from dataclasses import replace

import mido
import numpy as np
import pytest
import soxr
from drum_audio import RATE, render, rock_beat
from synthesised import PHRASE, PHRASE_DURATION_S, KnownNote, encode_soundfile, synthesise

from midiscribe.engine import (
    AudioTooLongError,
    CorruptAudioError,
    InvalidOptionsError,
    NotAudioError,
    TranscriptionOptions,
    transcribe,
    transcribe_stems,
)
from midiscribe.engine.instruments import Family
from midiscribe.engine.stems import STEM_BLEED_GATE_DB, resolve_stems, stem_options

DRUMS_S = rock_beat(bars=2)[-1].start_s + 1.0
LEAD_S = 2.5


@pytest.fixture(scope="module")
def stems() -> dict[str, bytes]:
    """A drum loop (44.1 kHz WAV), the phrase as FLAC at 48 kHz and, shorter, as WAV at 22.05 kHz."""
    drums = render(rock_beat(bars=2), DRUMS_S)
    phrase = synthesise(PHRASE, PHRASE_DURATION_S, sample_rate=48000)
    short = soxr.resample(synthesise(PHRASE[:3], LEAD_S, sample_rate=44100), 44100, 22050)
    return {
        "drums": encode_soundfile(drums, RATE, "WAV", "PCM_16"),
        "bass": encode_soundfile(phrase, 48000, "FLAC"),
        "lead": encode_soundfile(short, 22050, "WAV", "PCM_16"),
    }


@pytest.fixture(scope="module")
def result(stems):
    return transcribe_stems([("drums", stems["drums"]), ("bass", stems["bass"]), ("lead", stems["lead"], "winds")])


def test_each_stem_is_a_track_with_its_family_and_program(result, stems):
    tracks = result.instrument_tracks()
    assert [(t.name, t.family, t.program, t.is_drum, t.instrument_name) for t in tracks] == [
        ("drums", Family.DRUMS, 0, True, "Drums"),
        ("bass", Family.BASS, 33, False, "Electric Bass (finger)"),
        ("lead", Family.WINDS, 73, False, "Flute"),
    ]
    assert result.is_multitrack
    # Every note is in ``notes`` once, in time order; the drums' notes are drum keys.
    assert sorted(map(id, result.notes)) == sorted(id(n) for t in tracks for n in t.notes)
    assert [n.start_s for n in result.notes] == sorted(n.start_s for n in result.notes)
    assert {n.pitch for n in tracks[0].notes} <= {36, 38, 42, 46}
    # The stems differ in length: the result lasts as long as the longest.
    assert result.duration_s == pytest.approx(max(PHRASE_DURATION_S, DRUMS_S, LEAD_S), abs=0.01)


def test_a_pitched_stem_gets_the_notes_it_gets_alone(result, stems):
    """Running beside other stems (in threads) changes nothing about a stem's own transcription (with the
    stems' bleed gate, which drops nothing here: these stems hold nothing but their own part)."""
    options = TranscriptionOptions()
    for name, family, audio in (("bass", Family.BASS, stems["bass"]), ("lead", Family.WINDS, stems["lead"])):
        alone = transcribe(audio, stem_options(options, family), bleed_gate_db=STEM_BLEED_GATE_DB).notes
        assert alone == transcribe(audio, stem_options(options, family)).notes
        track = next(t for t in result.instrument_tracks() if t.name == name)
        assert list(track.notes) == alone and alone


def test_the_multitrack_midi_reads_back_with_named_tracks_programs_and_channel_10(result):
    buffer = io.BytesIO()
    result.write_midi(buffer)
    buffer.seek(0)
    midi = mido.MidiFile(file=buffer)
    assert midi.type == 1 and len(midi.tracks) == 4
    names = [next(m.name for m in track if m.type == "track_name") for track in midi.tracks[1:]]
    assert names == ["drums", "bass", "lead"]
    instruments = [next(m.name for m in track if m.type == "instrument_name") for track in midi.tracks[1:]]
    assert instruments == ["Drums", "Electric Bass (finger)", "Flute"]
    drums, bass, lead = midi.tracks[1:]
    assert {m.channel for m in drums if m.type in ("note_on", "note_off")} == {9}
    assert not [m for m in drums if m.type == "program_change"]
    bass_channels = {m.channel for m in bass if m.type == "note_on"}
    lead_channels = {m.channel for m in lead if m.type == "note_on"}
    assert bass_channels and lead_channels and not bass_channels & lead_channels and 9 not in bass_channels | lead_channels
    assert {m.program for m in bass if m.type == "program_change"} == {33}
    assert {m.program for m in lead if m.type == "program_change"} == {73}
    drum_notes = [m for m in drums if m.type == "note_on" and m.velocity > 0]
    assert len(drum_notes) == len(result.instrument_tracks()[0].notes)


def test_stems_are_named_by_what_they_hold_unless_told():
    resolved = resolve_stems([("Drums", b"x"), ("lead vox", b"x"), ("bass_gtr", b"x"), ("solo", b"x", "Brass"),
                              ("mystery", b"x")])
    assert [s.family for s in resolved] == [Family.DRUMS, Family.VOCALS, Family.BASS, Family.BRASS, Family.AUTO]


@pytest.mark.parametrize(
    ("stems", "message"),
    [
        ([], "No stems"),
        ([("drums", b"x"), ("DRUMS", b"y")], "Two stems are named 'drums' and 'DRUMS' (names are compared ignoring case)"),
        ([("", b"x")], "A stem has no name"),
        ([("lead", b"x", "kazoo")], "Stem 'lead': unknown instrument 'kazoo'; use one of auto, piano"),
        ([(f"s{i}", b"x", "guitar") for i in range(16)], "16 pitched stems given; at most 15"),
    ],
)
def test_bad_stem_lists_are_refused_before_any_audio_is_read(stems, message):
    with pytest.raises(InvalidOptionsError) as refused:
        transcribe_stems(stems)
    assert message in refused.value.message


def test_a_broken_stem_fails_the_transcription_naming_the_stem(stems):
    truncated = stems["bass"][: len(stems["bass"]) // 3]
    with pytest.raises(CorruptAudioError) as failed:
        transcribe_stems([("drums", stems["drums"]), ("bass", truncated)])
    assert failed.value.message.startswith("Stem 'bass': ")


def test_a_stem_too_long_keeps_how_long_it_is(stems):
    """The worker's advice on AUDIO_TOO_LONG depends on the audio's length, which the stem's name must not lose."""
    with pytest.raises(AudioTooLongError) as failed:
        transcribe_stems([("drums", stems["drums"]), ("lead", stems["lead"])], max_duration_s=1.0)
    assert failed.value.message.startswith("Stem ")
    assert failed.value.duration_s is not None and failed.value.duration_s > 1.0


def test_progress_sums_the_stems(stems):
    reports: list[tuple[float, float | None]] = []
    transcribe_stems([("drums", stems["drums"]), ("keys", stems["lead"])], progress=lambda d, t: reports.append((d, t)))
    done, total = reports[-1]
    assert total == pytest.approx(DRUMS_S + LEAD_S, abs=0.01) and done == pytest.approx(total, abs=0.05)
    assert all(t is None or d <= t + 0.1 for d, t in reports)


def test_a_single_stem_of_a_known_family_is_one_track_named_after_the_stem(stems):
    result = transcribe_stems([("take", stems["bass"], "piano")])
    (track,) = result.instrument_tracks()
    assert (track.name, track.instrument_name, track.program) == ("take", "Acoustic Grand Piano", 0)
    assert not result.is_multitrack


def test_stem_options_keep_the_shared_options():
    options = TranscriptionOptions(onset_threshold=0.6, midi_tempo=90.0)
    for family in (Family.BASS, Family.PIANO, Family.AUTO):
        derived = stem_options(options, family)
        assert derived.onset_threshold == 0.6 and derived.midi_tempo == 90.0
        if "instrument" in TranscriptionOptions.model_fields:
            assert derived.instrument == family.value


def test_the_beats_are_tracked_once_over_all_the_stems_notes(stems, monkeypatch):
    """A stem's own rhythm would be thrown away for that of all the stems: it is not tracked."""
    from midiscribe.engine import pipeline

    tracked: list[int] = []
    track_rhythm, rhythm_of_notes = pipeline.track_rhythm, pipeline.rhythm_of_notes

    def counting(onset_strength, notes, duration_s, hints=None):
        tracked.append(len(notes))
        return track_rhythm(onset_strength, notes, duration_s, hints)

    def counting_notes(notes, duration_s, drum=None, hints=None):
        tracked.append(len(notes))
        return rhythm_of_notes(notes, duration_s, drum, hints)

    monkeypatch.setattr(pipeline, "track_rhythm", counting)
    monkeypatch.setattr(pipeline, "rhythm_of_notes", counting_notes)
    result = transcribe_stems([("drums", stems["drums"]), ("bass", stems["bass"]), ("lead", stems["lead"], "winds")])
    assert tracked == [len(result.notes)]

    tracked.clear()
    alone = transcribe(stems["lead"], rhythm=False)
    assert alone.rhythm is None and alone.notes and tracked == []


@pytest.fixture(scope="module")
def long_stem() -> tuple[bytes, float]:
    """A minute of the phrase over and over, at 22.05 kHz mono: long enough to see a stem stopped."""
    seconds = 60.0
    notes = [replace(note, start_s=note.start_s + repeat * PHRASE_DURATION_S, end_s=note.end_s + repeat * PHRASE_DURATION_S)
             for repeat in range(int(seconds // PHRASE_DURATION_S)) for note in PHRASE]
    return encode_soundfile(synthesise(notes, seconds, sample_rate=22050, channels=1), 22050, "WAV", "PCM_16"), seconds


def test_a_failing_stem_stops_the_others_early(stems, long_stem):
    """The failure is reported as soon as the other stems reach their next step, not after a minute of
    work whose result would be thrown away."""
    audio, seconds = long_stem
    reports: list[float] = []
    truncated = stems["bass"][: len(stems["bass"]) // 3]
    with pytest.raises(CorruptAudioError) as failed:
        transcribe_stems([("long", audio, "strings"), ("bass", truncated)], progress=lambda d, t: reports.append(d))
    assert failed.value.message.startswith("Stem 'bass': ")
    assert max(reports, default=0.0) < seconds / 2, "the long stem went on after the other had failed"


def test_bleed_mask_keeps_notes_within_the_gate_of_the_loud_moments():
    from midiscribe.engine.pipeline import LEVEL_FRAME_SAMPLES, bleed_mask

    frame_s = LEVEL_FRAME_SAMPLES / 22050
    levels = np.full(1000, -200.0)  # 10 s of silence, then three attacks: 0 dB, -20 dB and -40 dB
    for start, level in ((1.0, 0.0), (4.0, -20.0), (7.0, -40.0)):
        levels[int(start / frame_s):int((start + 0.5) / frame_s)] = level
    # A note's level is the loudest frame of its first 0.1 s: a note starting 50 ms before an attack has it.
    starts = np.array([1.0, 4.0, 7.0, 3.95, 5.9])
    assert bleed_mask(starts, levels, 25.0).tolist() == [True, True, False, True, False]
    assert bleed_mask(starts, levels, 45.0).tolist() == [True, True, True, True, False]
    assert bleed_mask(np.array([20.0]), levels, 25.0).tolist() == [False]  # past the end: silent
    assert bleed_mask(starts, np.zeros(0), 25.0).all()


def test_a_stem_drops_another_instruments_bleed_but_keeps_its_own_soft_notes():
    """A lead stem: loud notes, then the same 15 dB softer, then a rest, with a keyboard part leaking in
    45 dB down all along (a separation's leftovers). Alone the model hears the leak as notes; as a stem the
    leak's notes in the rest are dropped and every one of the lead's own notes is kept. (A leak note that
    starts while the lead sounds is as loud as the lead there, so a level gate cannot tell it.)"""
    own = [KnownNote(60 + 2 * i, 0.5 * i, 0.5 * i + 0.4) for i in range(8)]
    soft = [KnownNote(n.pitch, n.start_s + 4.0, n.end_s + 4.0) for n in own]
    leak = [KnownNote(76 + (i % 5), 0.4 + 0.6 * i, 0.8 + 0.6 * i) for i in range(26)]
    lead = synthesise(own, 16.0, channels=1)[:, 0] + synthesise(soft, 16.0, channels=1)[:, 0] * 10 ** (-15 / 20)
    audio = lead + synthesise(leak, 16.0, channels=1)[:, 0] * 10 ** (-45 / 20)
    data = encode_soundfile(audio.astype(np.float32), 44100, "WAV", "FLOAT")

    def found(notes, known) -> list[KnownNote]:
        return [k for k in known if any(n.pitch == k.pitch and abs(n.start_s - k.start_s) < 0.05 for n in notes)]

    in_the_rest = [k for k in leak if k.start_s >= 8.5]
    ungated = transcribe(data, {"instrument": "winds"}, bleed_gate_db=None)
    assert len(found(ungated.notes, in_the_rest)) >= 8  # the premise: the model hears the leak at full strength
    [track] = transcribe_stems([("lead", data, "winds")]).instrument_tracks()
    assert found(track.notes, own + soft) == found(ungated.notes, own + soft) and len(found(track.notes, soft)) >= 6
    assert found(track.notes, in_the_rest) == []
    # A single recording is gated the same way (the leak here is a reverb tail or noise to it).
    alone = transcribe(data, {"instrument": "winds"})
    assert found(alone.notes, own + soft) == found(track.notes, own + soft) and found(alone.notes, in_the_rest) == []
    # basic_pitch_compat keeps every note, as basic-pitch does.
    assert len(found(transcribe(data, {"basic_pitch_compat": True}).notes, in_the_rest)) >= 8


def test_cross_bleed_mask_drops_a_quiet_note_another_stem_has_louder_at_the_same_pitch_and_time():
    from midiscribe.engine.stems import MeteredNotes, cross_bleed_mask

    def metered(*notes, loud_db=-20.0):  # (start, pitch, attack dB); the stem's loud moments at loud_db
        starts, pitches, attacks = zip(*notes, strict=True)
        return MeteredNotes(np.array(starts, dtype=float), np.array(pitches), np.array(attacks, dtype=float), loud_db)

    # The stem's loud moments are at -20 dB: its notes at -40 dB are quiet enough to be another stem's bleed.
    stem = metered((1.0, 60, -40.0), (2.0, 62, -40.0), (3.0, 64, -40.0), (4.0, 65, -40.0), (5.0, 67, -40.0),
                   (6.0, 69, -40.0), (7.0, 71, -22.0))
    other = metered((1.04, 60, -20.0),  # 20 dB louder, 40 ms apart: bleed
                    (2.0, 62, -35.0),  # only 5 dB louder
                    (3.0, 63, -10.0),  # another pitch
                    (4.1, 65, -10.0),  # 100 ms apart
                    (4.98, 67, -45.0), (5.02, 67, -25.0),  # the louder of two in the window counts
                    (7.0, 71, 0.0))  # far louder, but the stem's note is at its own playing level: a unison double
    assert cross_bleed_mask(stem, [other], margin_db=10.0, window_s=0.06, quiet_db=15.0).tolist() == [
        False, True, True, True, False, True, True]
    assert cross_bleed_mask(stem, [other], margin_db=3.0, window_s=0.06, quiet_db=15.0).tolist()[1] is False
    assert cross_bleed_mask(stem, [other], margin_db=10.0, window_s=0.06, quiet_db=0.0).tolist()[6] is False
    assert cross_bleed_mask(stem, []).all() and cross_bleed_mask(stem, [metered((9.0, 60, 0.0))]).all()


def test_cross_bleed_mask_drops_a_quiet_note_an_octave_from_a_far_louder_one_in_another_stem():
    """A model hears a leaked note in its own range too: the bass stem the keys an octave down. Such a note is
    dropped when the other stem's is CROSS_BLEED_OCTAVE_MARGIN_DB louder (a wider margin than the unison's)."""
    from midiscribe.engine.stems import (
        CROSS_BLEED_MARGIN_DB,
        CROSS_BLEED_OCTAVE_MARGIN_DB,
        MeteredNotes,
        cross_bleed_mask,
    )

    def metered(*notes, loud_db=-20.0):  # (start, pitch, attack dB); the stem's loud moments at loud_db
        starts, pitches, attacks = zip(*notes, strict=True)
        return MeteredNotes(np.array(starts, dtype=float), np.array(pitches), np.array(attacks, dtype=float), loud_db)

    between = (CROSS_BLEED_MARGIN_DB + CROSS_BLEED_OCTAVE_MARGIN_DB) / 2
    stem = metered((1.0, 48, -40.0), (2.0, 72, -40.0), (3.0, 48, -40.0), (4.0, 48, -40.0), (5.0, 55, -40.0),
                   (6.0, 36, -40.0), (7.0, 48, -22.0))
    other = metered((1.0, 60, -40.0 + CROSS_BLEED_OCTAVE_MARGIN_DB),  # an octave up, loud enough: bleed
                    (2.0, 60, -40.0 + CROSS_BLEED_OCTAVE_MARGIN_DB),  # an octave down: bleed too
                    (3.0, 60, -40.0 + between),  # an octave, but not louder by the octave's margin
                    (4.0, 48, -40.0 + between),  # the same pitch by the same amount: the unison margin holds
                    (5.0, 74, -10.0),  # a twelfth: left alone
                    (6.0, 60, -10.0),  # two octaves: left alone
                    (7.0, 60, 0.0))  # the stem's note is at its own playing level
    assert cross_bleed_mask(stem, [other]).tolist() == [False, False, True, False, True, True, True]
    unison_only = cross_bleed_mask(stem, [other], octave_margin_db=None)
    assert unison_only.tolist() == [True, True, True, False, True, True, True]


def test_stems_drop_each_others_bleed_but_keep_their_own_quiet_passages():
    """A lead stem plays loud, then 30 dB softer (pp against ff), then rests, while a keyboard stem leaks into it
    25 dB down all along. As stems, the lead keeps its quiet passage (a level gate 25 dB below its loud moments
    would drop it) and loses the keyboard's notes in its rest (the keyboard stem has them, 25 dB louder)."""
    own = [KnownNote(60 + 2 * i, 0.5 * i, 0.5 * i + 0.4) for i in range(8)]
    quiet = [KnownNote(n.pitch, n.start_s + 4.0, n.end_s + 4.0) for n in own]
    keys_part = [KnownNote(76 + (i % 5), 0.4 + 0.6 * i, 0.8 + 0.6 * i) for i in range(26)]
    keys = synthesise(keys_part, 16.0, channels=1)[:, 0]
    lead = (synthesise(own, 16.0, channels=1)[:, 0] + synthesise(quiet, 16.0, channels=1)[:, 0] * 10 ** (-30 / 20)
            + keys * 10 ** (-25 / 20))

    def wav(samples):
        return encode_soundfile(samples.astype(np.float32), 44100, "WAV", "FLOAT")

    def found(notes, known) -> list[KnownNote]:
        return [k for k in known if any(n.pitch == k.pitch and abs(n.start_s - k.start_s) < 0.05 for n in notes)]

    in_the_rest = [k for k in keys_part if k.start_s >= 8.5]
    alone = transcribe(wav(lead), {"instrument": "winds"})
    assert len(found(alone.notes, in_the_rest)) >= 8 and len(found(alone.notes, quiet)) >= 6  # the premise
    tracks = transcribe_stems([("lead", wav(lead), "winds"), ("keys", wav(keys), "electric_piano")]).instrument_tracks()
    lead_track = next(track for track in tracks if track.name == "lead")
    assert found(lead_track.notes, own + quiet) == found(alone.notes, own + quiet)
    assert found(lead_track.notes, in_the_rest) == []


def test_a_part_doubled_in_unison_by_a_louder_stem_keeps_its_notes():
    """An oboe stem doubling the flute's line 6 dB below it plays at its own level: not the flute's bleed."""
    line = [KnownNote(72 + (3 * i) % 12, 0.5 * i, 0.5 * i + 0.4) for i in range(12)]
    flute = synthesise(line, 7.0, channels=1)[:, 0]

    def wav(samples):
        return encode_soundfile(samples.astype(np.float32), 44100, "WAV", "FLOAT")

    def found(notes) -> list[KnownNote]:
        return [k for k in line if any(n.pitch == k.pitch and abs(n.start_s - k.start_s) < 0.05 for n in notes)]

    oboe = wav(flute * 10 ** (-6 / 20))
    alone = found(transcribe(oboe, {"instrument": "winds"}).notes)
    assert len(alone) >= 10
    tracks = {t.name: t for t in transcribe_stems([("flute", wav(flute), "winds"), ("oboe", oboe, "winds")]).tracks}
    assert found(tracks["oboe"].notes) == alone


def test_a_stem_still_arriving_does_not_hold_back_the_others(stems, result):
    """The worker hands a stem still downloading as a Future: the stems already here are transcribed meanwhile.
    Here the bass arrives only once the drums and the lead are done, and every track is as if all had been here."""
    arriving: Future = Future()
    released_by: list[str] = []

    def release(by: str) -> None:
        if not arriving.done():
            released_by.append(by)
            arriving.set_result(stems["bass"])

    def progress(done_s: float, total_s: float | None) -> None:
        if done_s >= DRUMS_S + LEAD_S - 0.05:
            release("the other stems' progress")

    fallback = threading.Timer(60.0, release, args=("a timer",))  # so that a failure fails, not hangs
    fallback.start()
    try:
        together = transcribe_stems([("drums", stems["drums"]), ("bass", arriving), ("lead", stems["lead"], "winds")],
                                    progress=progress)
    finally:
        fallback.cancel()
    assert released_by == ["the other stems' progress"]
    assert [(t.name, t.notes) for t in together.tracks] == [(t.name, t.notes) for t in result.tracks]


def test_a_stem_still_arriving_stops_waiting_when_another_stem_fails(stems):
    """The task fails with the failing stem's error without waiting for a download that is still going (a slow
    host): the stem still arriving gives up, and the worker cancels its download."""
    never: Future = Future()
    fallback = threading.Timer(30.0, never.set_result, args=(stems["bass"],))  # so that a failure fails, not hangs
    fallback.start()
    try:
        with pytest.raises(NotAudioError, match="Stem 'lead'"):
            transcribe_stems([("bass", never), ("lead", b"this is not audio", "winds")])
        arrived = never.done()
    finally:
        fallback.cancel()
    assert not arrived


def test_a_stem_that_never_arrives_fails_the_transcription_with_its_own_error(stems):
    gone: Future = Future()
    gone.set_exception(LookupError("Stem 'bass': the upload is gone"))
    with pytest.raises(LookupError, match="Stem 'bass': the upload is gone"):
        transcribe_stems([("drums", stems["drums"]), ("bass", gone)])


def test_a_drum_stem_sampled_below_32_khz_is_noticed_by_its_name():
    hits = rock_beat(bars=2)
    beat = render(hits, hits[-1].start_s + 1.0)
    full = encode_soundfile(beat, RATE, "WAV", "PCM_16")
    low = encode_soundfile(soxr.resample(beat, RATE, 22050), 22050, "WAV", "PCM_16")
    result = transcribe_stems([("kit", full, "drums"), ("loop", low, "drums")])
    (notice,) = result.notices
    assert notice.startswith("Stem 'loop': The drums are sampled at 22050 Hz")
    assert transcribe_stems([("kit", full, "drums")]).notices == ()
