"""Default note creation: basic-pitch's onset-and-walk tracking, corrected where it goes wrong.

The skeleton is basic-pitch's (see :mod:`.notes`): onset posterior peaks start notes, latest first,
each walks forward while the note posterior holds and clears its pitch and the semitones beside it;
strong frames no onset claimed can become notes too. What the dev set showed it gets wrong, and
what is done about it, each step switchable in the :class:`~.profiles.NoteProfile`:

- **Late onsets on slow attacks.** A bowed, blown or sung note is already sounding when the onset
  posterior peaks (50-100 ms late on strings and brass). Each onset is traced back to where its note
  posterior begins to rise: the lowest point of the posterior in the frames before the peak, then
  forward to where the rise reaches a fraction of its height. A percussive note rises in a frame
  or two, so its onset barely moves.
- **Repeated onsets inside one note.** Vibrato and bow noise make the posteriors wobble, which
  splits a held note into fragments. A same-pitch note that starts right where another ends, with
  a weak onset (and, where the profile asks, no dip in the note posterior between them: a
  re-struck note dips), continues it.
- **Ends in the release.** A note's posterior decays through the instrument's release and the
  room's reverb; the note ends after the last frame at a fraction of its median level instead.
- **Ghost notes.** Harmonics of a note (octave, twelfth, two octaves...) are heard as notes of their
  own; those that start with a note at least so much stronger are dropped (:mod:`.ghosts`).
- **Tuning.** The recording's offset from A4 = 440 Hz is estimated (:mod:`.tuning`); a note goes to
  the nearest semitone of that tuning, and its bends are measured from there.
- **One setting for every sound.** For ``instrument=auto``, :func:`chosen_profile` measures how
  sharply the recording's notes start and picks the struck or the sustained profile.

Memory for a streamed recording (:class:`TrackingStore`): the note posteriorgram as the model gave
it, the onset posteriorgram as bytes (1/255 steps), pitch bends (int8) near frames where notes can
be, and the tuning's running sums. Time is linear in the recording's length: candidates are found
pass by pass, each note costs work proportional to its own length plus a bounded look-back, and
the note list is swept in time order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .ghosts import suppress_ghosts
from .notes import (
    BEND_UNKNOWN,
    N_PITCHES,
    PASS_FRAMES,
    _Energy,
    _frame_rise,
    _Rows,
    cells_notes_can_reach,
    contour_bends,
    walks_from_onsets,
)
from .options import LOWEST_MIDI
from .profiles import LOW_RANGE_QUANTILE, AutoProfiles, NoteProfile
from .tuning import CONTOUR_BIN_OF_LOWEST_MIDI, CONTOUR_BINS_PER_SEMITONE, TuningEstimator

ONSET_SCALE = 255  # onset posteriors are kept as bytes: value * 255, rounded
TRACE_PEAK_FRAMES = 4
# A note's contour peak lies within this many bins of its model pitch's bin when the model's note bin
# is off by at most a semitone and the recording by at most half of one.
OWN_CONTOUR_BINS = 4
# Frames either side of the seam between two same-pitch notes where a re-struck note's dip shows.
MERGE_SEAM_FRAMES = 3  # the height of a note's rise is its posterior's maximum over this many frames from the onset


@dataclass(frozen=True)
class TrackedNote:
    """A note in frame indices, ``[start, end)``; ``pitch`` is the MIDI number after tuning."""

    start: int
    end: int
    pitch: int
    amplitude: float
    bends: tuple[int, ...]  # thirds of a semitone from ``pitch``, per frame; empty when not wanted


@dataclass
class TrackedPosteriors:
    """What note creation reads once the recording has been streamed."""

    note: np.ndarray  # (frames, 88) float32, outside the profile's pitch range zeroed
    onset: np.ndarray  # (frames, 88) uint8, onset posterior * 255, pitch range applied
    onset_max: float  # the onset posteriorgram's maximum (0..1)
    rise_max: float  # the largest frame-difference onset, before rescaling
    bends: np.ndarray  # (frames, 88) int8 thirds of a semitone from the pitch's in-tune bin
    tuning_cents: float | None  # None: too little pitched sound to tell; notes are then placed as if at A4 = 440


class TrackingStore:
    """Collects streamed posteriorgram chunks for :func:`track_notes` with any of ``profiles``."""

    def __init__(self, profiles: NoteProfile | Sequence[NoteProfile], expected_frames: int | None = None):
        self.profiles = (profiles,) if isinstance(profiles, NoteProfile) else tuple(profiles)
        self._note = _Rows(N_PITCHES, np.float32, expected_frames)
        self._onset = _Rows(N_PITCHES, np.uint8, expected_frames)
        self._bends = _Rows(N_PITCHES, np.int8, expected_frames)
        self._tuning = TuningEstimator()
        self._onset_max = 0.0
        self._rise_max = 0.0
        self._rise_onsets = any(profile.rise_onsets for profile in self.profiles)
        self._first = min(profile.lowest_midi for profile in self.profiles) - LOWEST_MIDI
        self._stop = max(profile.highest_midi for profile in self.profiles) - LOWEST_MIDI + 1
        self.frames = 0

    def add(self, note: np.ndarray, onset: np.ndarray, contour: np.ndarray) -> None:
        """Take the next chunk of frames. The arrays may be modified (they are the model's outputs)."""
        if note.shape[0] == 0:
            return
        # The tuning listens to every pitch, inside the family's range or not.
        self._tuning.add(contour)
        for array in (note, onset):
            array[:, : self._first] = 0
            array[:, self._stop :] = 0
        first = self.frames
        self._note.append(note)
        self._onset.append(np.rint(np.clip(onset, 0.0, 1.0) * ONSET_SCALE).astype(np.uint8))
        self._onset_max = max(self._onset_max, float(onset.max()))
        if self._rise_onsets:
            rise = _frame_rise(self._note.data, first, first + note.shape[0])
            self._rise_max = max(self._rise_max, float(rise.max()))
        self._bends.append(contour_bends(contour, self._reachable(note), CONTOUR_BIN_OF_LOWEST_MIDI))
        self.frames += note.shape[0]

    def _reachable(self, note: np.ndarray) -> np.ndarray | None:
        """Cells a note can cover: its walk's tolerance ahead of a sounding frame, plus the trace-back."""
        if any(profile.frame_threshold <= 0 or profile.min_note_frames == 0 for profile in self.profiles):
            return None
        ahead = max(profile.energy_tolerance_frames + profile.trace_back_frames + 1 for profile in self.profiles)
        return cells_notes_can_reach(note, min(profile.frame_threshold for profile in self.profiles), ahead)

    def finish(self, frame_count: int) -> TrackedPosteriors:
        frame_count = min(frame_count, self.frames)
        return TrackedPosteriors(
            note=self._note.view(frame_count),
            onset=self._onset.view(frame_count),
            onset_max=self._onset_max,
            rise_max=self._rise_max,
            bends=self._bends.view(frame_count),
            tuning_cents=self._tuning.cents(),
        )

    @classmethod
    def from_arrays(cls, note, onset, contour, profiles: NoteProfile | Sequence[NoteProfile]) -> TrackedPosteriors:
        store = cls(profiles, expected_frames=note.shape[0])
        store.add(np.array(note, dtype=np.float32), np.array(onset, dtype=np.float32),
                  np.array(contour, dtype=np.float32))
        return store.finish(note.shape[0])


# --------------------------------------------------------------------------------------------------
# Note creation


def chosen_profile(posteriors: TrackedPosteriors, auto: AutoProfiles) -> NoteProfile:
    """auto's choice: the low profile when nine in ten of the probe's notes lie at or below its pitch (a bass
    line); else the struck profile when they start with high onset peaks, the sustained one otherwise."""
    _, _, pitches, strengths = _walk_from_onsets(posteriors, auto.probe)
    if auto.low is not None and len(pitches):
        if np.quantile(pitches + LOWEST_MIDI, LOW_RANGE_QUANTILE) <= auto.low_highest_midi:
            return auto.low
    onsets = strengths[strengths > 0]  # notes from unclaimed frames have no onset to measure
    level = float(np.median(onsets)) if onsets.size else 0.0
    return auto.struck if level >= auto.struck_onset_level else auto.sustained


def track_notes(posteriors: TrackedPosteriors, profile: NoteProfile, with_bends: bool = True) -> list[TrackedNote]:
    """The notes, in no particular order."""
    note = posteriors.note
    frames = note.shape[0]
    if frames == 0:
        return []
    starts, ends, pitches, strengths = _walk_from_onsets(posteriors, profile)
    # The profile's own range: the store's is every profile's it was made for (auto's bass choice among them).
    inside = (pitches + LOWEST_MIDI >= profile.lowest_midi) & (pitches + LOWEST_MIDI <= profile.highest_midi)
    starts, ends, pitches, strengths = starts[inside], ends[inside], pitches[inside], strengths[inside]
    starts, ends, pitches, strengths = _merge_repeats(posteriors.note, starts, ends, pitches, strengths, profile)
    starts = _trace_onsets(note, starts, ends, pitches, profile)
    ends = _trim_releases(note, starts, ends, pitches, profile)
    amplitudes = _mean_levels(note, starts, ends, pitches)
    keep = suppress_ghosts(starts, ends, pitches, amplitudes, profile)
    return _joined_same_pitch(_tuned(posteriors, starts[keep], ends[keep], pitches[keep], amplitudes[keep], with_bends))


def _joined_same_pitch(notes: list[TrackedNote]) -> list[TrackedNote]:
    """No two notes of one pitch overlap. Tuning moves a note by a semitone after the walk kept each
    pitch's notes apart, so a vibrato's fragment can land inside or across a held note of the pitch it
    moved to; in a MIDI file the first note-off would end both. A fragment inside a note is dropped, one
    running past its end extends it (the pitch sounds on): on the dev set's sustained families (80
    files, 47 such notes) onset F1 0.5891 -> 0.5903, onset+offset 0.3355 -> 0.3353."""
    joined: list[TrackedNote] = []
    last_of_pitch: dict[int, int] = {}
    for note in sorted(notes, key=lambda note: (note.start, -note.end)):
        index = last_of_pitch.get(note.pitch)
        if index is not None and note.start < joined[index].end:
            held = joined[index]
            if note.end > held.end:
                bends = held.bends + note.bends[held.end - note.start:] if held.bends else held.bends
                joined[index] = TrackedNote(held.start, note.end, held.pitch, max(held.amplitude, note.amplitude), bends)
            continue
        last_of_pitch[note.pitch] = len(joined)
        joined.append(note)
    return joined


def _walk_from_onsets(posteriors: TrackedPosteriors, profile: NoteProfile):
    """basic-pitch's walks from its onsets, then from unclaimed strong frames: (start, end, pitch index, onset)."""
    note = posteriors.note
    frames = note.shape[0]
    energy = _Energy(note, profile.frame_threshold, profile.energy_tolerance_frames)
    found: list[tuple[int, int, int, float]] = [
        (start, end, pitch, candidate[2])
        for start, end, pitch, candidate in walks_from_onsets(energy, _onset_peaks(posteriors, profile), frames,
                                                              profile.min_note_frames)
    ]
    if profile.melodia_threshold is not None:
        found.extend(_unclaimed_runs(note, energy, profile))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    columns = np.array(found, dtype=np.float64)
    return (columns[:, 0].astype(np.int64), columns[:, 1].astype(np.int64), columns[:, 2].astype(np.int64),
            columns[:, 3])


def _onset_peaks(posteriors: TrackedPosteriors, profile: NoteProfile) -> Iterator[tuple[int, int, float]]:
    """(frame, pitch index, strength) of onset peaks at or above the threshold: latest first, then
    highest pitch first. Strength is the onset posterior, or basic-pitch's rescaled rise of the note
    posterior where that is higher and rise onsets are on."""
    note, onset = posteriors.note, posteriors.onset
    frames = note.shape[0]
    threshold = profile.onset_threshold
    use_rise = profile.rise_onsets and posteriors.rise_max > 0
    last_start = (frames - 1) // PASS_FRAMES * PASS_FRAMES
    for start in range(last_start, -1, -PASS_FRAMES):
        stop = min(start + PASS_FRAMES, frames)
        lo, hi = max(start - 1, 0), min(stop + 1, frames)  # one frame of context each side
        strength = onset[lo:hi].astype(np.float64) / ONSET_SCALE
        if use_rise:
            np.maximum(strength, posteriors.onset_max * _frame_rise(note, lo, hi) / posteriors.rise_max, out=strength)
        centre = strength[1:-1]
        peak = (centre > strength[:-2]) & (centre > strength[2:]) & (centre >= threshold)
        frame_idx, pitch_idx = np.nonzero(peak)
        values = centre[frame_idx, pitch_idx]
        frame_idx += lo + 1
        yield from zip(frame_idx[::-1].tolist(), pitch_idx[::-1].tolist(), values[::-1].tolist(), strict=True)


def _unclaimed_runs(note: np.ndarray, energy: _Energy, profile: NoteProfile) -> list[tuple[int, int, int, float]]:
    """Runs of frames at or above the melodia threshold that no onset note cleared, long enough to keep."""
    threshold = np.float64(profile.melodia_threshold)
    found = []
    for pitch in range(N_PITCHES):
        free = energy.unclaimed(pitch) & (note[:, pitch] >= threshold)
        if not free.any():
            continue
        edges = np.diff(free.astype(np.int8), prepend=0, append=0)
        for start, end in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True):
            if end - start > profile.min_note_frames:
                found.append((start, end, pitch, 0.0))
    return found


def _merge_repeats(note, starts, ends, pitches, strengths, profile: NoteProfile):
    """Join a note to the same-pitch note it follows within the gap when its own onset is weak and,
    if the profile asks, the note posterior did not dip between them (a re-struck note dips)."""
    if profile.merge_onset_below <= 0 or starts.size < 2:
        return starts, ends, pitches, strengths
    order = np.lexsort((starts, pitches))
    starts, ends, pitches, strengths = starts[order], ends[order], pitches[order], strengths[order]
    joins = np.zeros(starts.size, dtype=bool)
    joins[1:] = (pitches[1:] == pitches[:-1]) & (starts[1:] - ends[:-1] <= profile.merge_gap_frames) & (
        strengths[1:] < profile.merge_onset_below)
    if profile.merge_level_above > 0 and joins.any():
        later = np.flatnonzero(joins)
        earlier = later - 1
        levels = _NoteFrames(starts[earlier], ends[earlier], pitches[earlier])
        level = levels.median(levels.values(note))
        # The lowest posterior from the earlier note's last frames to the later note's first ones.
        seam = _NoteFrames(np.maximum(ends[earlier] - MERGE_SEAM_FRAMES, starts[earlier]),
                           np.minimum(starts[later] + MERGE_SEAM_FRAMES, ends[later]), pitches[later])
        lowest = np.full(later.size, np.inf)
        np.minimum.at(lowest, seam.owner, seam.values(note))
        joins[later] = lowest >= profile.merge_level_above * level
    # Each run of joined notes becomes its first note, ending where the run's last note ends.
    heads = np.flatnonzero(~joins)
    run_ends = np.maximum.reduceat(ends, heads)
    return starts[heads], run_ends, pitches[heads], strengths[heads]


def _trace_onsets(note, starts, ends, pitches, profile: NoteProfile) -> np.ndarray:
    """Each onset moved back to where its note's rise reaches ``trace_fraction`` of its height.

    The rise starts at the lowest posterior in the ``trace_back_frames`` before the onset (never
    before the previous note of the same pitch ends); its height is the highest posterior in the
    first frames of the note. Vectorised over notes: a window of frames per note.
    """
    back = profile.trace_back_frames
    if back <= 0 or starts.size == 0:
        return starts
    frames = note.shape[0]
    floor = _previous_end(starts, ends, pitches)
    offsets = np.arange(-back, 1)
    window_frames = starts[:, None] + offsets[None, :]
    usable = (window_frames >= np.maximum(floor, 0)[:, None]) & (window_frames >= 0)
    window = note[np.clip(window_frames, 0, frames - 1), pitches[:, None]].astype(np.float64)
    window[~usable] = np.inf
    valley_at = np.argmin(window, axis=1)
    valley = window[np.arange(starts.size), valley_at]
    ahead = starts[:, None] + np.arange(TRACE_PEAK_FRAMES)[None, :]
    peak = note[np.clip(ahead, 0, frames - 1), pitches[:, None]].max(axis=1)
    level = valley + profile.trace_fraction * (peak - valley)
    # The first frame from the valley on that reaches the level (the onset itself always counts).
    reaches = (window >= level[:, None]) & (np.arange(back + 1)[None, :] >= valley_at[:, None]) & usable
    reaches[:, -1] = True
    return starts + np.argmax(reaches, axis=1) - back


def _previous_end(starts, ends, pitches) -> np.ndarray:
    """For each note, where the previous note of the same pitch ends (-1 when there is none)."""
    order = np.lexsort((starts, pitches))
    previous = np.full(starts.size, -1, dtype=np.int64)
    sorted_pitches = pitches[order]
    same = np.flatnonzero(sorted_pitches[1:] == sorted_pitches[:-1]) + 1
    previous[order[same]] = ends[order[same - 1]]
    return previous


class _NoteFrames:
    """The frames of many notes laid end to end, so per-note statistics need no loop over notes."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray):
        # int32 throughout: an hour of notes lays out a few million frames, which int64 would double.
        self.count = starts.size
        self.lengths = np.maximum(ends - starts, 0).astype(np.int32)
        self.offsets = np.cumsum(self.lengths, dtype=np.int64) - self.lengths
        self.owner = np.repeat(np.arange(self.count, dtype=np.int32), self.lengths)
        self.position = (np.arange(self.owner.size, dtype=np.int64) - self.offsets[self.owner]).astype(np.int32)
        self.frames = starts.astype(np.int32)[self.owner] + self.position
        self.pitches = pitches.astype(np.int32)[self.owner]

    def values(self, array: np.ndarray) -> np.ndarray:
        """Each note frame's value in a (frames, 88) array."""
        return array[self.frames, self.pitches]

    def mean(self, values: np.ndarray) -> np.ndarray:
        sums = np.bincount(self.owner, weights=values, minlength=self.count)
        return sums / np.maximum(self.lengths, 1)

    def median(self, values: np.ndarray, counted: np.ndarray | None = None, empty: float = 0.0) -> np.ndarray:
        """Each note's median over its frames (those ``counted``), ``empty`` for a note with none."""
        owner = self.owner if counted is None else self.owner[counted]
        values = values if counted is None else values[counted]
        ordered = values[np.lexsort((values, owner))].astype(np.float64)
        counts = np.bincount(owner, minlength=self.count)
        firsts = np.cumsum(counts) - counts
        has = counts > 0
        medians = np.full(self.count, float(empty))
        low = firsts[has] + (counts[has] - 1) // 2
        high = firsts[has] + counts[has] // 2
        medians[has] = (ordered[low] + ordered[high]) / 2
        return medians

    def last(self, mask: np.ndarray) -> np.ndarray:
        """Each note's last position where ``mask`` holds, -1 where it never does."""
        latest = np.full(self.count, -1, dtype=np.int64)
        np.maximum.at(latest, self.owner[mask], self.position[mask])
        return latest

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """One array per note, of its frames' values."""
        return np.split(values, self.offsets[1:]) if self.count else []


def _trim_releases(note, starts, ends, pitches, profile: NoteProfile) -> np.ndarray:
    """Each note ends after its last frame at ``offset_fraction`` of its median level (or the frame threshold)."""
    fraction = profile.offset_fraction
    if fraction <= 0 or starts.size == 0:
        return ends
    frames = _NoteFrames(starts, ends, pitches)
    levels = frames.values(note)
    level = np.maximum(profile.frame_threshold, fraction * frames.median(levels))
    last = frames.last(levels >= level[frames.owner])
    return np.where(last >= 0, starts + last + 1, ends)


def _mean_levels(note, starts, ends, pitches) -> np.ndarray:
    """Each note's mean note posterior over its frames."""
    frames = _NoteFrames(starts, ends, pitches)
    return frames.mean(frames.values(note))


def _tuned(posteriors: TrackedPosteriors, starts, ends, pitches, amplitudes, with_bends: bool) -> list[TrackedNote]:
    """Notes at the nearest semitone of the recording's tuning, their bends measured from it.

    A note's own pitch, to a third of a semitone, is its model pitch plus the median contour bend
    over its frames (those near its bin); less the tuning, rounded, that is its semitone. Bends are
    then counted from that semitone in the recording's tuning.
    """
    tuning_bins = (posteriors.tuning_cents or 0.0) / 100 * CONTOUR_BINS_PER_SEMITONE
    frames = _NoteFrames(starts, ends, pitches)
    bends = frames.values(posteriors.bends).astype(np.int64)
    # Bends further out follow another note's contour (or none: an empty contour gives the window's edge).
    own = np.abs(bends) <= OWN_CONTOUR_BINS
    median_bend = frames.median(bends, own, empty=tuning_bins)
    shifts = np.clip(np.round((median_bend - tuning_bins) / CONTOUR_BINS_PER_SEMITONE), -1, 1).astype(np.int64)
    if with_bends:
        relative = np.where(bends == BEND_UNKNOWN, 0, bends) - tuning_bins - CONTOUR_BINS_PER_SEMITONE * shifts[frames.owner]
        per_note = [tuple(part.tolist()) for part in frames.split(np.rint(relative).astype(np.int64))]
    else:
        per_note = [()] * starts.size
    midi = pitches + LOWEST_MIDI + shifts
    return [TrackedNote(start, end, pitch, amplitude, note_bends) for start, end, pitch, amplitude, note_bends
            in zip(starts.tolist(), ends.tolist(), midi.tolist(), amplitudes.tolist(), per_note, strict=True)]
