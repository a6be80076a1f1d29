"""Ghost notes: harmonics of a stronger note that the model heard as notes of their own.

A sustained tone with strong overtones (an organ above all, but also brass, bowed strings and
bright synths) lights the model's posteriors at its octave, twelfth, double octave and so on. Such
a ghost starts with its fundamental and is weaker than it; a real note an octave up usually starts
on its own or is about as strong. So a note is dropped when a note it is a harmonic of starts
within a few frames of it, covers at least half of it, and is stronger by the profile's ratio
(``ghost_ratio``: a ghost must be below ratio × the fundamental's level).

Notes are visited strongest first and only notes still kept can suppress others, so a ghost of a
ghost does not take a real note with it. Each note is compared only with the notes starting near
it, which a time-sorted index finds: linear in the number of notes for bounded polyphony.
"""

from __future__ import annotations

import numpy as np

from .profiles import NoteProfile


def suppress_ghosts(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, amplitudes: np.ndarray,
                    profile: NoteProfile) -> np.ndarray:
    """A mask of the notes to keep."""
    count = starts.size
    keep = np.ones(count, dtype=bool)
    if profile.ghost_ratio <= 0 or count < 2:
        return keep
    window = profile.ghost_onset_frames
    intervals = np.array(profile.ghost_intervals)
    by_start = np.argsort(starts, kind="stable")
    sorted_starts = starts[by_start]
    first = np.searchsorted(sorted_starts, starts - window, side="left")
    last = np.searchsorted(sorted_starts, starts + window, side="right")
    for index in np.argsort(-amplitudes, kind="stable").tolist():
        if not keep[index]:
            continue
        near = by_start[first[index] : last[index]]
        near = near[keep[near] & np.isin(pitches[near] - pitches[index], intervals)]
        if near.size == 0:
            continue
        overlap = np.minimum(ends[near], ends[index]) - np.maximum(starts[near], starts[index])
        ghost = (overlap * 2 >= ends[near] - starts[near]) & (amplitudes[near] < profile.ghost_ratio * amplitudes[index])
        keep[near[ghost]] = False
    return keep
