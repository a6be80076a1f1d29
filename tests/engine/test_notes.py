"""Note creation on hand-made posteriorgrams, checked against a naive reference written here.

The reference follows basic-pitch 0.4.0's description step by step with plain loops and a global
argmax per melodia note (quadratic, fine for a few hundred frames); the engine's linear version
must give exactly the same notes, amplitudes and bends.
"""

from __future__ import annotations

import numpy as np
import pytest

from midiscribe.engine.errors import InvalidOptionsError
from midiscribe.engine.notes import (
    BEND_UNKNOWN,
    NoteSettings,
    Posteriors,
    PosteriorStore,
    _Energy,
    create_notes,
    frame_times,
    min_note_frames,
    note_bends,
)
from midiscribe.engine.options import TranscriptionOptions

N = 88


def settings(**options) -> NoteSettings:
    return NoteSettings.from_options(TranscriptionOptions.parse(options))


def run(note, onset, contour=None, **options):
    contour = np.zeros((note.shape[0], 3 * N), np.float32) if contour is None else contour
    chosen = settings(**options)
    posteriors = Posteriors.from_arrays(note, onset, contour, chosen)
    raw = create_notes(posteriors, chosen)
    return raw, posteriors


def gentle(level: float, frames: int, low: float = 0.0) -> np.ndarray:
    """A plateau reached by a slow ramp: no frame rises enough to count as an inferred onset."""
    return np.minimum(np.linspace(low, level * 2, frames), level).astype(np.float32)


# --- the naive reference -----------------------------------------------------------------------


def reference_notes(note, onset, contour, onset_t=0.5, frame_t=0.3, min_len=11, melodia=True, lo=None, hi=None):
    frames = note.astype(np.float32).copy()
    onsets = onset.astype(np.float32).copy()
    if hi is not None:
        frames[:, hi:] = 0
        onsets[:, hi:] = 0
    if lo is not None:
        frames[:, :lo] = 0
        onsets[:, :lo] = 0
    n = frames.shape[0]
    padded = np.vstack([np.zeros((2, N)), frames.astype(np.float64)])
    rise = np.minimum(padded[2:] - padded[1:-1], padded[2:] - padded[:-2])
    rise[rise < 0] = 0
    rise[:2] = 0
    rise = np.float64(onsets.max()) * rise / rise.max()
    inferred = np.maximum(onsets.astype(np.float64), rise)
    peaks = np.zeros((n, N))
    for t in range(1, n - 1):
        for f in range(N):
            if inferred[t, f] > inferred[t - 1, f] and inferred[t, f] > inferred[t + 1, f]:
                peaks[t, f] = inferred[t, f]
    candidates = [(t, f) for t in range(n) for f in range(N) if peaks[t, f] >= onset_t]
    remaining = frames.astype(np.float64)
    notes = []
    for t, f in sorted(candidates, reverse=True):
        if t >= n - 1:
            continue
        i, k = t + 1, 0
        while i < n - 1 and k < 11:
            k = k + 1 if remaining[i, f] < frame_t else 0
            i += 1
        i -= k
        if i - t <= min_len:
            continue
        remaining[t:i, max(f - 1, 0) : f + 2] = 0
        notes.append((t, i, f + 21, float(np.mean(frames[t:i, f]))))
    while melodia and remaining.max() > frame_t:
        t, f = np.unravel_index(np.argmax(remaining), remaining.shape)
        remaining[t, f] = 0
        i, k = t + 1, 0
        while i < n - 1 and k < 11:
            k = k + 1 if remaining[i, f] < frame_t else 0
            remaining[i, max(f - 1, 0) : f + 2] = 0
            i += 1
        end = i - 1 - k
        i, k = t - 1, 0
        while i > 0 and k < 11:
            k = k + 1 if remaining[i, f] < frame_t else 0
            remaining[i, max(f - 1, 0) : f + 2] = 0
            i -= 1
        start = i + 1 + k
        if end - start > min_len:
            notes.append((int(start), int(end), int(f) + 21, float(np.mean(frames[start:end, f]))))
    weights = np.exp(-0.5 * (np.arange(-25, 26) / 5.0) ** 2)
    with_bends = []
    for start, end, pitch, amplitude in notes:
        centre = 3 * (pitch - 21)
        low, high = max(centre - 25, 0), min(3 * N, centre + 26)
        window = contour[start:end, low:high] * weights[low - (centre - 25) : 51 - (centre + 26 - high)]
        bends = tuple(int(b) for b in np.argmax(window, axis=1) - (centre - low))
        with_bends.append((start, end, pitch, amplitude, bends))
    return with_bends


def music_like(seed: int, frames: int = 500):
    """Posteriorgrams with blobs like notes: sustained note energy, an onset peak, dips, noise."""
    rng = np.random.default_rng(seed)
    note = (rng.random((frames, N)) * 0.2).astype(np.float32)
    onset = (rng.random((frames, N)) * 0.3).astype(np.float32)
    for _ in range(60):
        pitch = int(rng.integers(0, N))
        start = int(rng.integers(0, frames - 5))
        length = int(rng.integers(3, 80))
        level = rng.uniform(0.25, 0.95)
        decay = np.linspace(1.0, rng.uniform(0.2, 1.0), min(length, frames - start))
        note[start : start + length, pitch] = level * decay * rng.uniform(0.85, 1.0, decay.size)
        if rng.random() < 0.3:  # a dip inside the note
            dip = int(rng.integers(0, max(1, decay.size)))
            note[start + dip : start + dip + int(rng.integers(1, 15)), pitch] *= 0.3
        if rng.random() < 0.7:
            onset[start, pitch] = rng.uniform(0.3, 1.0)
    contour = rng.random((frames, 3 * N)).astype(np.float32)
    return note, onset, contour


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"melodia_trick": False},
        {"onset_threshold": 0.3, "frame_threshold": 0.2, "minimum_note_length_ms": 58},
        {"minimum_frequency": 80.0, "maximum_frequency": 1000.0},
        {"frame_threshold": 0.5, "minimum_note_length_ms": 300},
    ],
)
def test_matches_the_naive_reference(seed, options):
    note, onset, contour = music_like(seed)
    raw, posteriors = run(note, onset, contour, **options)
    chosen = settings(**options)
    lo = hi = None
    if "maximum_frequency" in options:
        hi = int(np.round(12 * (np.log2(options["maximum_frequency"]) - np.log2(440.0)) + 69 - 21))
        lo = int(np.round(12 * (np.log2(options["minimum_frequency"]) - np.log2(440.0)) + 69 - 21))
    expected = reference_notes(
        note, onset, contour, chosen.onset_threshold, chosen.frame_threshold, chosen.min_note_frames,
        chosen.melodia_trick, lo, hi,
    )
    ours = [(n.start, n.end, n.pitch, n.amplitude, note_bends(posteriors, n)) for n in raw]
    assert len(expected) >= 4
    assert ours == expected


def test_melodia_in_many_value_bands_is_unchanged(monkeypatch):
    import midiscribe.engine.notes as notes_module

    note, onset, contour = music_like(3)
    chosen = settings(onset_threshold=0.9)  # few onset notes: the melodia trick does most of the work
    whole = create_notes(Posteriors.from_arrays(note, onset, contour, chosen), chosen)
    monkeypatch.setattr(notes_module, "MELODIA_BAND_CELLS", 40)
    assert notes_module._band_edges(note, notes_module._Energy(note, 0.3)).__len__() > 5
    assert create_notes(Posteriors.from_arrays(note, onset, contour, chosen), chosen) == whole
    assert len(whole) > 20


def test_zero_thresholds_match_the_reference():
    """Every cell is then an onset candidate and nothing is ever below the frame threshold."""
    note, onset, contour = music_like(4, frames=50)
    raw, posteriors = run(note, onset, contour, onset_threshold=0.0, frame_threshold=0.0)
    expected = reference_notes(note, onset, contour, 0.0, 0.0, 11, True)
    assert [(n.start, n.end, n.pitch, n.amplitude, note_bends(posteriors, n)) for n in raw] == expected


def test_order_is_onset_notes_latest_first_then_melodia_strongest_first():
    note = np.zeros((200, N), np.float32)
    onset = np.zeros((200, N), np.float32)
    for start, pitch in ((10, 30), (100, 40)):
        note[start : start + 30, pitch] = 0.8
        onset[start, pitch] = 0.9
    # No onsets, and rising too gently for a frame-difference onset: only the melodia trick finds these.
    note[60:90, 50] = gentle(0.6, 30)
    note[150:190, 60] = gentle(0.7, 40)
    raw, _ = run(note, onset)
    assert [(n.start, n.pitch - 21) for n in raw][:2] == [(100, 40), (10, 30)]
    assert [n.pitch - 21 for n in raw[2:]] == [60, 50]
    assert [n.pitch - 21 for n in run(note, onset, melodia_trick=False)[0]] == [40, 30]


def test_sustained_note_with_short_dip_is_one_note_and_long_gap_splits():
    note = np.zeros((300, N), np.float32)
    onset = np.zeros((300, N), np.float32)
    note[20:120, 39] = 0.8
    note[60:70, 39] = 0.29  # 10 frames below the threshold: bridged
    note[70:120, 39] = gentle(0.8, 50, 0.3)
    note[150:200, 39] = 0.8
    note[200:211, 39] = 0.1  # 11 frames below: the note ends at 200
    note[211:240, 39] = gentle(0.8, 29, 0.12)
    onset[20, 39] = onset[150, 39] = 0.9
    raw, _ = run(note, onset, melodia_trick=False)
    assert sorted((n.start, n.end) for n in raw) == [(20, 120), (150, 200)]


def test_short_notes_are_dropped_by_minimum_length():
    note = np.zeros((100, N), np.float32)
    onset = np.zeros((100, N), np.float32)
    note[10:20, 50] = 0.9  # 10 frames = 116 ms
    onset[10, 50] = 0.9
    assert run(note, onset, minimum_note_length_ms=127.7)[0] == []
    assert [(n.start, n.end) for n in run(note, onset, minimum_note_length_ms=58)[0]] == [(10, 20)]
    assert min_note_frames(127.70) == 11


def test_frequency_limits_remove_notes_outside():
    note = np.zeros((100, N), np.float32)
    onset = np.zeros((100, N), np.float32)
    for pitch in (24, 48, 84):  # MIDI 45 (110 Hz), 69 (440 Hz), 105 (3520 Hz)
        note[10:50, pitch] = 0.8
        onset[10, pitch] = 0.9
    raw, _ = run(note, onset, minimum_frequency=200, maximum_frequency=2000)
    assert [n.pitch for n in raw] == [69]


def test_onsets_are_inferred_from_rising_frames():
    note = np.zeros((100, N), np.float32)
    onset = np.zeros((100, N), np.float32)
    onset[5, 10] = 0.9  # sets the onsets' global max the frame rises are scaled to
    note[5:40, 10] = 0.9
    note[30:70, 70] = 0.9  # no onset posterior at all
    raw, _ = run(note, onset, melodia_trick=False)
    assert sorted((n.start, n.pitch - 21) for n in raw) == [(5, 10), (30, 70)]


def test_pitch_bends_follow_the_contour_within_the_window_and_edges():
    frames = 60
    note = np.zeros((frames, N), np.float32)
    onset = np.zeros((frames, N), np.float32)
    contour = np.full((frames, 3 * N), 0.01, np.float32)
    note[5:40, 40] = 0.8
    onset[5, 40] = 0.9
    contour[:, 3 * 40 + 2] = 0.9  # two bins (2/3 semitone) above the note
    note[5:40, 87] = 0.8  # top key: the window is clipped at the contour's edge
    onset[5, 87] = 0.9
    contour[:, 3 * 87 - 4] = 0.9
    raw, posteriors = run(note, onset, contour)
    bends = {n.pitch - 21: note_bends(posteriors, n) for n in raw}
    assert bends[40] == (2,) * 35
    assert bends[87] == (-4,) * 35


def test_bends_are_only_left_out_where_no_note_can_reach():
    note, onset, contour = music_like(11, frames=400)
    chosen = settings()
    store = PosteriorStore(chosen)
    for start in range(0, 400, 142):
        store.add(note[start : start + 142].copy(), onset[start : start + 142].copy(), contour[start : start + 142])
    posteriors = store.finish(400)
    unknown = posteriors.bends == BEND_UNKNOWN
    assert 0.2 < unknown.mean() < 1.0  # work is actually skipped
    for raw in create_notes(posteriors, chosen):
        note_bends(posteriors, raw)  # raises if any frame of a note was skipped


def test_streamed_chunks_equal_one_array():
    note, onset, contour = music_like(5, frames=700)
    chosen = settings()
    whole = create_notes(Posteriors.from_arrays(note, onset, contour, chosen), chosen)
    store = PosteriorStore(chosen, expected_frames=100)  # also exercises growing
    for start in range(0, 700, 142):
        store.add(note[start : start + 142].copy(), onset[start : start + 142].copy(), contour[start : start + 142])
    assert create_notes(store.finish(700), chosen) == whole


def test_frames_past_the_kept_count_are_ignored():
    note, onset, contour = music_like(2, frames=300)
    chosen = settings()
    trimmed = create_notes(Posteriors.from_arrays(note[:250], onset[:250], contour[:250], chosen), chosen)
    store = PosteriorStore(chosen)
    store.add(note.copy(), onset.copy(), contour)
    assert create_notes(store.finish(250), chosen) == trimmed


@pytest.mark.parametrize("seed", range(20))
def test_energy_walks_equal_step_by_step_walks(seed):
    rng = np.random.default_rng(seed)
    frames = 200
    column = (rng.random(frames) < rng.uniform(0.3, 0.95)).astype(np.float32)
    note = np.zeros((frames, N), np.float32)
    note[:, 5] = column
    energy = _Energy(note, 0.5)
    for first in range(0, frames, 7):
        i, k = first, 0
        while i < frames - 1 and k < 11:
            k = k + 1 if column[i] < 0.5 else 0
            i += 1
        assert energy.walk_forward(5, first, frames - 1) == ((i - k) - first, i - first)
        i, k = first, 0
        while i > 0 and k < 11:
            k = k + 1 if column[i] < 0.5 else 0
            i -= 1
        assert energy.walk_backward(5, first, 1) == (first - (i + k), first - i)


def test_frame_times_follow_basic_pitchs_window_correction():
    times = frame_times(np.array([0, 1, 171, 172, 344]))
    offset = (256 / 22050) * (172 - 43844 / 256) + 0.0018
    expected = np.array([0, 256, 171 * 256, 172 * 256 - offset * 22050, 344 * 256 - 2 * offset * 22050]) / 22050
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-12)


def test_silence_gives_no_notes():
    zeros = np.zeros((300, N), np.float32)
    assert run(zeros, zeros)[0] == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"onset_threshold": 1.5}, "onset_threshold"),
        ({"frame_threshold": -0.1}, "frame_threshold"),
        ({"minimum_note_length_ms": -1}, "minimum_note_length_ms"),
        ({"minimum_frequency": 2000, "maximum_frequency": 1000}, "minimum_frequency"),
        ({"melodia": True}, "melodia"),
        ({"midi_tempo": "fast"}, "midi_tempo"),
        ({"tempo_hint": 5}, "tempo_hint"),
        ({"tempo_hint": 1000}, "tempo_hint"),
        ({"time_signature": "5/4"}, "time_signature"),
    ],
)
def test_invalid_options_name_the_field(options, field):
    with pytest.raises(InvalidOptionsError, match=field):
        TranscriptionOptions.parse(options)
