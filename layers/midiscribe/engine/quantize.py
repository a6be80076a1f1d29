"""Quantisation: note starts and ends snapped to a grid of the MIDI file's own beats and bars.

The grid is counted from each bar line of the tempo map (engine/tempo_map.py), so it follows the
tracked beats through tempo changes and a pickup bar, and a quantised note lands exactly on a tick
of the quantised MIDI file. A note whose end would snap onto (or before) its start lasts to the next
grid point (one grid step, or less where a bar line comes first), so no note disappears; notes of one
pitch that snap to the same start become one note, and a note that would still be sounding when the
next of its pitch starts ends there (MIDI readers pair overlapping note-ons and note-offs of one key
in different ways).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .options import QUANTIZE_GRIDS
from .tempo_map import TempoMap
from .transcription import NoteEvent


def _bar_of(quarters: np.ndarray, tempo_map: TempoMap) -> tuple[np.ndarray, np.ndarray]:
    """The bar line at or before each position, and the next bar line after it."""
    # The longest bar (12/8) is 6 quarters: the bar lines run on past the last position.
    bar_lines = tempo_map.bar_starts(float(quarters.max()) + 8.0)
    index = np.clip(np.searchsorted(bar_lines, quarters + 1e-9, side="right") - 1, 0, len(bar_lines) - 2)
    return bar_lines[index], bar_lines[index + 1]


def snap_quarters(quarters: np.ndarray, tempo_map: TempoMap, step: float) -> np.ndarray:
    """Quarter-note positions moved to the nearest multiple of ``step`` after their bar line."""
    quarters = np.asarray(quarters, dtype=np.float64)
    if quarters.size == 0:
        return quarters
    bar, _ = _bar_of(quarters, tempo_map)
    return bar + np.round((quarters - bar) / step) * step


def next_grid_points(quarters: np.ndarray, tempo_map: TempoMap, step: float) -> np.ndarray:
    """The grid point after each (grid) position: a step on, or the next bar line where that comes first
    (a grid that does not divide a bar: crotchets in a 3/8 pickup or a 9/8 bar)."""
    quarters = np.asarray(quarters, dtype=np.float64)
    if quarters.size == 0:
        return quarters
    bar, next_bar = _bar_of(quarters, tempo_map)
    return np.minimum(bar + (np.floor((quarters - bar) / step + 1e-9) + 1) * step, next_bar)


def quantize_notes(notes: list[NoteEvent], tempo_map: TempoMap, grid: str) -> list[NoteEvent]:
    """The notes with starts and ends on the ``grid`` ("1/16", "1/8t"…) of ``tempo_map``, in seconds."""
    if not notes:
        return []
    step = QUANTIZE_GRIDS[grid]
    starts = snap_quarters(tempo_map.quarters_at([note.start_s for note in notes]), tempo_map, step)
    ends = snap_quarters(tempo_map.quarters_at([note.end_s for note in notes]), tempo_map, step)
    ends = np.maximum(ends, next_grid_points(starts, tempo_map, step))
    longest: dict[tuple[float, int], tuple[float, float, NoteEvent]] = {}
    for note, start, end in zip(notes, starts.tolist(), ends.tolist(), strict=True):
        key = (start, note.pitch)
        if key not in longest or end > longest[key][1]:
            longest[key] = (start, end, note)
    # A note of a pitch ends where the next note of that pitch starts, if it would still sound then.
    by_pitch = sorted(longest.values(), key=lambda item: (item[2].pitch, item[0]))
    kept = []
    for index, (start, end, note) in enumerate(by_pitch):
        following = by_pitch[index + 1] if index + 1 < len(by_pitch) else None
        if following is not None and following[2].pitch == note.pitch:
            end = min(end, following[0])
        kept.append((start, end, note))
    start_s = tempo_map.seconds_at([start for start, _, _ in kept])
    end_s = tempo_map.seconds_at([end for _, end, _ in kept])
    quantized = [dataclasses.replace(note, start_s=float(start), end_s=float(end))
                 for (_, _, note), start, end in zip(kept, start_s, end_s, strict=True)]
    return sorted(quantized, key=lambda n: (n.start_s, n.pitch, n.end_s))
