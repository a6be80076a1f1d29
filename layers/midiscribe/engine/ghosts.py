"""Ghost notes: harmonics of a stronger note that the model heard as notes of their own.

A sustained tone with strong overtones (an organ above all, but also brass, bowed strings and
bright synths) lights the model's posteriors at its octave, twelfth, double octave and so on. Such
a ghost starts with its fundamental and is weaker than it; a real note an octave up usually starts
on its own or is about as strong. So a note is dropped when a note it is a harmonic of starts
within a few frames of it, covers at least half of it, and is stronger by the profile's ratio
(``ghost_ratio``: a ghost must be below ratio × the fundamental's level).

Fundamentals are visited strongest first and only notes still kept can suppress others, so a
ghost of a ghost does not take a real note with it. Each note is compared only with the notes
starting near it (the next few in start order): linear in the number of notes for bounded polyphony.
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
    fundamental, ghost = _ghost_pairs(starts, ends, pitches, amplitudes, profile)
    # Strongest fundamentals first; a note already dropped suppresses nothing.
    for index in np.argsort(-amplitudes[fundamental], kind="stable").tolist():
        if keep[fundamental[index]]:
            keep[ghost[index]] = False
    return keep


def _ghost_pairs(starts, ends, pitches, amplitudes, profile: NoteProfile) -> tuple[np.ndarray, np.ndarray]:
    """(fundamental, ghost) index pairs: every pair of notes starting within the window, filtered."""
    window = profile.ghost_onset_frames
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    # Notes starting within the window of each note are the next few in start order.
    reach = np.searchsorted(sorted_starts, sorted_starts + window, side="right") - np.arange(starts.size)
    is_interval = np.zeros(2 * 128 + 1, dtype=bool)
    is_interval[np.array(profile.ghost_intervals) + 128] = True
    firsts, seconds = [], []
    for step in range(1, int(reach.max())):
        left = np.flatnonzero(reach > step)
        firsts.append(order[left])
        seconds.append(order[left + step])
    if not firsts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    # Either note of a pair may be the fundamental.
    fundamental, ghost = np.concatenate([a, b]), np.concatenate([b, a])
    related = is_interval[pitches[ghost] - pitches[fundamental] + 128]
    overlap = np.minimum(ends[ghost], ends[fundamental]) - np.maximum(starts[ghost], starts[fundamental])
    covered = overlap * 2 >= ends[ghost] - starts[ghost]
    weaker = amplitudes[ghost] < profile.ghost_ratio * amplitudes[fundamental]
    chosen = related & covered & weaker
    return fundamental[chosen], ghost[chosen]
