"""Default note creation (engine/tracking.py, ghosts.py, tuning.py) on hand-made posteriorgrams.

Each test builds the posteriors that one fault of basic-pitch's note creation produces and checks
that the step meant for it corrects it, with that step switched off as the control.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from midiscribe.engine.instruments import Family
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.profiles import (
    AUTO_PROFILE,
    AUTO_PROFILES,
    FAMILY_PROFILES,
    STRUCK_PROFILE,
    AutoProfiles,
    NoteProfile,
    note_profile,
)
from midiscribe.engine.tracking import TrackingStore, chosen_profile, track_notes
from midiscribe.engine.tuning import TuningEstimator, fractional_peaks

N = 88
FRAMES = 200
# Only the step under test is on.
BARE = dataclasses.replace(
    AUTO_PROFILE, onset_threshold=0.5, frame_threshold=0.3, energy_tolerance_frames=11, min_note_frames=5,
    rise_onsets=False, melodia_threshold=None, trace_back_frames=0, merge_onset_below=0.0, merge_level_above=0.0,
    offset_fraction=0.0,
    ghost_ratio=0.0,
)


def blank():
    return np.zeros((FRAMES, N), np.float32), np.zeros((FRAMES, N), np.float32), np.zeros((FRAMES, 3 * N), np.float32)


def contour_peak(contour: np.ndarray, frames: slice, midi: float, height: float = 0.8) -> None:
    """A Gaussian bump on the contour at a (fractional) MIDI pitch, where the model puts it."""
    centre = (midi - 21) * 3 + 1
    bins = np.arange(3 * N)
    contour[frames] = np.maximum(contour[frames], height * np.exp(-0.5 * ((bins - centre) / 0.8) ** 2))


def notes_of(note, onset, contour, profile):
    tracked = TrackingStore.from_arrays(note, onset, contour, profile)
    return sorted((n.start, n.end, n.pitch) for n in track_notes(tracked, profile))


def test_a_slow_rise_is_traced_back_to_where_it_begins():
    note, onset, contour = blank()
    note[40:50, 40] = np.linspace(0.05, 0.7, 10)  # a bow: the posterior climbs for ten frames
    note[50:120, 40] = 0.7
    onset[49, 40] = 0.6  # … and the onset posterior peaks at the top of the climb
    untraced = notes_of(note, onset, contour, BARE)
    traced = notes_of(note, onset, contour, dataclasses.replace(BARE, trace_back_frames=12, trace_fraction=0.3))
    assert untraced[0][0] == 49
    # 0.05 + 0.3 * (0.7 - 0.05) = 0.245 is first reached three frames into the climb.
    assert traced == [(43, untraced[0][1], 61)]


def test_tracing_never_reaches_into_the_previous_note_of_the_same_pitch():
    note, onset, contour = blank()
    note[20:60, 40] = 0.7
    onset[20, 40] = 0.9
    note[60:64, 40] = np.linspace(0.4, 0.7, 4)
    note[64:120, 40] = 0.7
    onset[64, 40] = 0.9
    profile = dataclasses.replace(BARE, trace_back_frames=20, trace_fraction=0.0, energy_tolerance_frames=1)
    notes = notes_of(note, onset, contour, profile)
    assert len(notes) == 2
    assert notes[1][0] >= notes[0][1]


def test_a_weak_onset_right_after_a_note_continues_it_and_a_strong_one_does_not():
    note, onset, contour = blank()
    note[20:150, 30] = 0.6
    onset[20, 30] = 0.9
    onset[80, 30] = 0.55  # vibrato or a bow change: a weak second peak in a held note
    merging = dataclasses.replace(BARE, merge_gap_frames=2, merge_onset_below=0.6)
    assert len(notes_of(note, onset, contour, BARE)) == 2
    assert [(s, p) for s, _, p in notes_of(note, onset, contour, merging)] == [(20, 51)]
    onset[80, 30] = 0.95  # a real repeated note
    assert len(notes_of(note, onset, contour, merging)) == 2


def test_a_weak_onset_after_a_dip_is_a_re_struck_note():
    note, onset, contour = blank()
    note[20:150, 30] = 0.6
    note[78:81, 30] = 0.35  # the posterior dips where the note is struck again …
    onset[20, 30] = 0.9
    onset[80, 30] = 0.55  # … though the onset is weak
    merging = dataclasses.replace(BARE, merge_gap_frames=2, merge_onset_below=0.6)
    assert len(notes_of(note, onset, contour, merging)) == 1
    assert len(notes_of(note, onset, contour, dataclasses.replace(merging, merge_level_above=0.8))) == 2


def test_a_note_ends_where_it_falls_from_its_level_not_at_the_end_of_its_reverb():
    note, onset, contour = blank()
    note[20:100, 50] = 0.8
    note[100:160, 50] = np.linspace(0.6, 0.31, 60)  # release and reverb tail, still above the threshold
    onset[20, 50] = 0.9
    assert notes_of(note, onset, contour, BARE)[0][1] == 160
    assert notes_of(note, onset, contour, dataclasses.replace(BARE, offset_fraction=0.85))[0][1] == 100


@pytest.mark.parametrize(("ghost_level", "ghost_onset", "kept"), [
    (0.3, 20, 1),  # weaker, starting together: a harmonic
    (0.9, 20, 2),  # as strong as the fundamental: a real octave
    (0.3, 60, 2),  # starting on its own: a real note
])
def test_an_octave_ghost_goes_and_a_real_octave_stays(ghost_level, ghost_onset, kept):
    note, onset, contour = blank()
    note[20:150, 30] = 0.8
    onset[20, 30] = 0.9
    note[ghost_onset:150, 42] = ghost_level + 0.05
    onset[ghost_onset, 42] = 0.6
    profile = dataclasses.replace(BARE, frame_threshold=0.2, ghost_ratio=0.8, ghost_onset_frames=3)
    assert len(notes_of(note, onset, contour, profile)) == kept
    assert len(notes_of(note, onset, contour, BARE)) == 2


def test_notes_go_to_the_nearest_semitone_of_the_recordings_tuning():
    note, onset, contour = blank()
    for index, pitch in enumerate((60, 62, 64, 65, 67)):
        frames = slice(20 + 30 * index, 45 + 30 * index)
        contour_peak(contour, frames, pitch - 0.45)  # the whole recording is 45 cents flat …
        note[frames, pitch - 21 - (index % 2)] = 0.8  # … and the model puts every other note a semitone low
        onset[frames.start, pitch - 21 - (index % 2)] = 0.9
    tracked = TrackingStore.from_arrays(note, onset, contour, BARE)
    assert tracked.tuning_cents == pytest.approx(-45, abs=3)
    notes = sorted(track_notes(tracked, BARE), key=lambda n: n.start)
    assert [n.pitch for n in notes] == [60, 62, 64, 65, 67]
    assert all(set(n.bends) <= {-1, 0, 1} for n in notes)


def test_tuning_is_read_between_contour_bins():
    for cents in (-40, -25, -10, 0, 15, 30):
        contour = np.zeros((100, 3 * N), np.float32)
        for index, pitch in enumerate((57, 60, 64, 69, 72)):
            contour_peak(contour, slice(20 * index, 20 * index + 20), pitch + cents / 100)
        estimator = TuningEstimator()
        estimator.add(contour)
        assert estimator.cents() == pytest.approx(cents, abs=4)


def test_an_in_tune_note_peaks_one_contour_bin_above_basic_pitchs_centre():
    contour = np.zeros((1, 3 * N), np.float32)
    contour_peak(contour, slice(0, 1), 69)
    _, position, _ = fractional_peaks(contour)
    assert position == pytest.approx([69 - 21])


def test_no_evidence_means_no_tuning():
    estimator = TuningEstimator()
    estimator.add(np.zeros((50, 3 * N), np.float32))
    assert estimator.cents() is None


def test_streaming_in_chunks_gives_the_same_notes_as_whole_arrays():
    rng = np.random.default_rng(5)
    frames = 900
    note = rng.random((frames, N)).astype(np.float32) ** 6  # mostly quiet, some notes
    onset = rng.random((frames, N)).astype(np.float32) ** 8
    contour = rng.random((frames, 3 * N)).astype(np.float32) ** 4
    profile = AUTO_PROFILE
    whole = track_notes(TrackingStore.from_arrays(note, onset, contour, profile), profile)
    store = TrackingStore(profile)
    for first in range(0, frames, 142):
        rows = slice(first, first + 142)
        store.add(note[rows].copy(), onset[rows].copy(), contour[rows].copy())
    chunked = track_notes(store.finish(frames), profile)
    assert len(whole) > 20
    assert chunked == whole


def test_silence_and_a_lone_note_go_through_every_step():
    note, onset, contour = blank()
    assert notes_of(note, onset, contour, AUTO_PROFILE) == []
    note[20:80, 40] = 0.9
    onset[20, 40] = 0.9
    contour_peak(contour, slice(20, 80), 61)
    assert [(pitch, start) for start, _, pitch in notes_of(note, onset, contour, AUTO_PROFILE)] == [(61, 20)]


@pytest.mark.parametrize("instrument", ["electric_piano", "organ"])
def test_explicit_options_override_the_instrument_profile(instrument):
    options = TranscriptionOptions(instrument=instrument, onset_threshold=0.42, minimum_note_length_ms=58,
                                   melodia_trick=False, minimum_frequency=110.0, maximum_frequency=880.0)
    shipped = FAMILY_PROFILES[Family(instrument)]
    chosen = note_profile(options)
    # organ's hint is routed by attack (profiles.heard_attacks): the options reach each of its profiles
    pairs = (zip(chosen.all, shipped.all, strict=True) if isinstance(shipped, AutoProfiles)
             else [(chosen, shipped)])
    for profile, before in pairs:
        assert profile.onset_threshold == 0.42
        assert profile.min_note_frames == 5
        assert profile.melodia_threshold is None
        assert (profile.lowest_midi, profile.highest_midi) == (45, 81)
        assert profile.ghost_ratio == before.ghost_ratio
    assert note_profile(TranscriptionOptions(instrument=instrument)) == shipped


@pytest.mark.parametrize(("instrument", "onset_peak", "own"), [
    ("strings", 0.5, True), ("strings", 0.95, False), ("brass", 0.5, True), ("brass", 0.95, False),
    ("organ", 0.5, True), ("vocals", 0.5, True), ("vocals", 0.95, False),
])
def test_a_sustained_familys_hint_still_hears_sharp_attacks(instrument, onset_peak, own):
    """strings, brass, organ and vocals: the family's own settings (slow bows and breaths traced back, repeats
    merged) on soft onsets, auto's struck settings on sharp ones (tuning half, csound's and the OPL3 font's
    strings: 1.118 -> 1.248 and 0.976 -> 1.135 in bench/tune.py --hint-routing's objective)."""
    note, onset, contour = blank()
    for index in range(4):
        start = 20 + 40 * index
        note[start : start + 30, 40 + index] = 0.8
        onset[start, 40 + index] = onset_peak
    hint = note_profile(TranscriptionOptions(instrument=instrument, onset_threshold=0.4))
    assert isinstance(hint, AutoProfiles) and hint.low is None  # the hint names the family: no bass-line choice
    tracked = TrackingStore.from_arrays(note, onset, contour, hint.all)
    assert chosen_profile(tracked, hint) is (hint.sustained if own else hint.struck)
    assert hint.sustained.trace_back_frames == FAMILY_PROFILES[Family(instrument)].sustained.trace_back_frames
    assert hint.struck.trace_back_frames == STRUCK_PROFILE.trace_back_frames


@pytest.mark.parametrize("instrument", ["piano", "electric_piano", "guitar", "winds", "bass"])
def test_the_struck_families_and_bass_keep_one_profile(instrument):
    assert isinstance(FAMILY_PROFILES[Family(instrument)], NoteProfile)


def test_every_pitched_family_has_a_profile_and_the_options_reach_each_of_autos():
    assert set(FAMILY_PROFILES) | {Family.AUTO} == set(Family) - {Family.DRUMS}
    choice = note_profile(TranscriptionOptions(onset_threshold=0.45))
    assert isinstance(choice, AutoProfiles)
    assert {profile.onset_threshold for profile in choice.all} == {0.45}
    assert choice.low is not None and choice.low.onset_threshold == 0.45 and len(choice.all) == 4


@pytest.mark.parametrize(("onset_peak", "struck"), [(0.95, True), (0.5, False)])
def test_auto_chooses_by_how_sharply_notes_start(onset_peak, struck):
    note, onset, contour = blank()
    for index in range(4):
        start = 20 + 40 * index
        note[start : start + 30, 40 + index] = 0.8
        onset[start, 40 + index] = onset_peak
    probe = dataclasses.replace(AUTO_PROFILES.probe, onset_threshold=0.4)
    auto = dataclasses.replace(AUTO_PROFILES, probe=probe)
    tracked = TrackingStore.from_arrays(note, onset, contour, auto.all)
    assert chosen_profile(tracked, auto) is (auto.struck if struck else auto.sustained)



@pytest.mark.parametrize(("lowest_index", "high_notes", "low"), [
    (10, 0, True),  # MIDI 31-34: a bass line, sharp onsets or not
    (10, 1, True),  # one note in ten above C3 (a fill) keeps it a bass line
    (10, 3, False),  # three in ten: a low melody or chords, not a bass line
    (24, 0, True),  # MIDI 45-48: C3 is the highest pitch that counts as low ...
    (25, 0, False),  # ... and 46-49 reaches above it
])
def test_auto_reads_a_bass_line_with_the_bass_settings(lowest_index, high_notes, low):
    """Bass recordings under auto got struck or sustained settings, whose onsets and lengths suit the bass less
    (dev set, tuning half: onset F1 0.653 with them, 0.774 with the bass's)."""
    note, onset, contour = blank()
    for index in range(10):
        start = 5 + 19 * index
        pitch = lowest_index + index % 4 if index >= high_notes else 50 + index  # the first few high
        note[start : start + 15, pitch] = 0.8
        onset[start, pitch] = 0.95
    probe = dataclasses.replace(AUTO_PROFILES.probe, onset_threshold=0.4, min_note_frames=5)
    auto = dataclasses.replace(AUTO_PROFILES, probe=probe)
    tracked = TrackingStore.from_arrays(note, onset, contour, auto.all)
    assert chosen_profile(tracked, auto) is (auto.low if low else auto.struck)
    assert auto.low is FAMILY_PROFILES[Family.BASS]


def test_the_bass_settings_chosen_by_auto_keep_to_the_bass_range_as_instrument_bass_does():
    note, onset, contour = blank()
    for index, pitch in enumerate([10, 12, 14, 15, 17, 10, 12, 14, 15, 59]):  # MIDI 31-38, then 80 (above G4)
        start = 5 + 19 * index
        note[start : start + 15, pitch] = 0.8
        onset[start, pitch] = 0.95
    probe = dataclasses.replace(AUTO_PROFILES.probe, onset_threshold=0.4, min_note_frames=5)
    auto = dataclasses.replace(AUTO_PROFILES, probe=probe, low=dataclasses.replace(AUTO_PROFILES.low, min_note_frames=5))
    tracked = TrackingStore.from_arrays(note, onset, contour, auto.all)
    chosen = chosen_profile(tracked, auto)
    assert chosen is auto.low and chosen.highest_midi == 67
    pitches = sorted({n.pitch for n in track_notes(tracked, chosen)})
    assert pitches == [31, 33, 35, 36, 38]  # not 80: the store holds every profile's range, the walk keeps the bass's


def test_a_fragment_tuned_onto_a_held_note_of_its_pitch_is_dropped_or_joins_it():
    from midiscribe.engine.tracking import TrackedNote, _joined_same_pitch

    held = TrackedNote(20, 120, 60, 0.8, tuple([0] * 100))
    inside = TrackedNote(50, 80, 60, 0.5, tuple([1] * 30))
    across = TrackedNote(100, 150, 60, 0.9, tuple([-1] * 50))
    other = TrackedNote(60, 90, 64, 0.7, tuple([0] * 30))
    joined = sorted(_joined_same_pitch([across, other, inside, held]), key=lambda n: (n.pitch, n.start))
    assert [(n.start, n.end, n.pitch, n.amplitude) for n in joined] == [(20, 150, 60, 0.9), (60, 90, 64, 0.7)]
    assert joined[0].bends == tuple([0] * 100 + [-1] * 30)  # the held note's bends, then the fragment's past them
