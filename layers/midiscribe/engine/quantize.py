"""Quantisation: note starts and ends snapped to a grid of the MIDI file's own beats and bars.

The grid is counted from each bar line of the tempo map (engine/tempo_map.py), so it follows the
tracked beats through tempo changes and a pickup bar, and a quantised note lands exactly on a tick
of the quantised MIDI file. A note whose end would snap onto (or before) its start keeps one grid
step, so no note disappears; notes of one pitch that snap to the same start become one note.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .options import QUANTIZE_GRIDS
from .tempo_map import TempoMap
from .transcription import NoteEvent


def snap_quarters(quarters: np.ndarray, tempo_map: TempoMap, step: float) -> np.ndarray:
    """Quarter-note positions moved to the nearest multiple of ``step`` after their bar line."""
    quarters = np.asarray(quarters, dtype=np.float64)
    if quarters.size == 0:
        return quarters
    bar_lines = tempo_map.bar_starts(float(quarters.max()) + 1.0)
    bar = bar_lines[np.clip(np.searchsorted(bar_lines, quarters + 1e-9, side="right") - 1, 0, None)]
    return bar + np.round((quarters - bar) / step) * step


def quantize_notes(notes: list[NoteEvent], tempo_map: TempoMap, grid: str) -> list[NoteEvent]:
    """The notes with starts and ends on the ``grid`` ("1/16", "1/8t"…) of ``tempo_map``, in seconds."""
    if not notes:
        return []
    step = QUANTIZE_GRIDS[grid]
    starts = snap_quarters(tempo_map.quarters_at([note.start_s for note in notes]), tempo_map, step)
    ends = snap_quarters(tempo_map.quarters_at([note.end_s for note in notes]), tempo_map, step)
    ends = np.maximum(ends, starts + step)
    start_s, end_s = tempo_map.seconds_at(starts), tempo_map.seconds_at(ends)
    longest: dict[tuple[float, int], NoteEvent] = {}
    for note, start, end in zip(notes, start_s, end_s, strict=True):
        key = (float(start), note.pitch)
        if key not in longest or end > longest[key].end_s:
            longest[key] = dataclasses.replace(note, start_s=float(start), end_s=float(end))
    return sorted(longest.values(), key=lambda n: (n.start_s, n.pitch, n.end_s))
