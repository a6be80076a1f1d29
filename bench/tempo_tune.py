"""Choose the beat-level settings of engine/metre.py (and the pulse tracker's tempo prior width) by grid
search on the tuning pieces only: the whole first dev set (its held-back half has been looked at
before, so it is tuning material now), the second set's tuning half and the whole third set. Prints the
best settings; changes nothing. The second set's held-back half is never read here.

    nice -n 10 .venv/bin/python bench/tempo_tune.py

The objective is tempo Acc1 over those 160 pieces (ties: the setting nearer the middle of the grid
loses to none; the first best is printed with the next ones, so a plateau is visible).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import tempo_pieces  # noqa: E402
import tempo_styles  # noqa: E402
from engine import ensure_fluidsynth  # noqa: E402
from tempo import TEMPO_TOLERANCE, render, transcribed  # noqa: E402

# The pulse tracker's tempo prior width (octaves) and the level choice's weights and beat prior.
PULSE_PRIOR_WIDTHS = (1.0, 1.5)
# The bar and metre settings, chosen after the level settings (the engine's current ones) by how many
# time signatures come out right.
METRE_GRID = {
    "LONGER_BAR_MARGIN": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
    "MIN_THIRDS_SHARE": (0.0, 0.2, 0.3, 0.4, 0.5, 0.6),
}
GRID = {
    "PULSE_WEIGHT": (0.0, 0.5, 1.0, 1.5),
    "SALIENCE_WEIGHT": (0.0, 0.5, 1.0, 2.0, 3.0),
    "PRIOR_WEIGHT": (0.25, 0.5, 1.0, 2.0),
    "BEAT_PRIOR_CENTRE_BPM": (100.0, 110.0, 120.0, 130.0),
    "BEAT_PRIOR_WIDTH_OCTAVES": (0.5, 0.7, 1.0, 1.5),
}


def tuning_pieces() -> list[tuple[int, tempo_pieces.Piece]]:
    """(index for the sound font, piece) of every tuning piece, rendered and transcribed (cached)."""
    chosen = list(enumerate(tempo_pieces.dev_set()))
    second = tempo_styles.second_set()
    chosen += [(index, piece) for index, (piece, tuning)
               in enumerate(zip(second, tempo_styles.second_set_tuning_half(second), strict=True)) if tuning]
    chosen += list(enumerate(tempo_styles.third_set()))
    return chosen


def main() -> None:
    from midiscribe.engine import beats, metre

    ensure_fluidsynth()
    pieces = tuning_pieces()
    material = []
    for index, piece in pieces:
        onset, notes, _ = transcribed(render(piece, index))
        material.append((piece.median_tempo_bpm, onset, metre.NoteArrays.of(notes)))
    results = []
    for width in PULSE_PRIOR_WIDTHS:
        beats.PRIOR_WIDTH_OCTAVES = width
        evidence = [metre.level_evidence(metre.readings(beats.track_pulse(onset)), notes)
                    for _, onset, notes in material]
        for values in itertools.product(*GRID.values()):
            for name, value in zip(GRID, values, strict=True):
                setattr(metre, name, value)
            right = 0
            for (truth, _, _), rows in zip(material, evidence, strict=True):
                chosen_bpm = rows[int(np.argmax(metre.level_scores(rows))), 1]
                right += abs(chosen_bpm / truth - 1) <= TEMPO_TOLERANCE
            results.append((right / len(material), width, values))
    results.sort(key=lambda result: -result[0])
    print(f"{len(material)} tuning pieces; Acc1 of the level choice, best first:")
    for accuracy, width, values in results[:12]:
        settings = ", ".join(f"{name}={value}" for name, value in zip(GRID, values, strict=True))
        print(f"  {accuracy:6.1%}  beats.PRIOR_WIDTH_OCTAVES={width}, {settings}")
    tune_metre([piece for _, piece in pieces], material)


def tune_metre(pieces: list, material: list) -> None:
    """Time signatures right for each bar and metre setting, with the engine's own level settings."""
    import importlib

    from midiscribe.engine import beats, metre

    importlib.reload(beats)
    importlib.reload(metre)
    pulses = [beats.track_pulse(onset) for _, onset, _ in material]
    results = []
    for values in itertools.product(*METRE_GRID.values()):
        for name, value in zip(METRE_GRID, values, strict=True):
            setattr(metre, name, value)
        right = 0
        for piece, pulse, (_, _, notes) in zip(pieces, pulses, material, strict=True):
            found = metre.find_metre(pulse, notes)
            numerator, denominator = (3 * found.beats_per_bar, 8) if found.compound else (found.beats_per_bar, 4)
            right += piece.metre == f"{numerator}/{denominator}"
        results.append((right, values))
    results.sort(key=lambda result: -result[0])
    print(f"time signatures right (of {len(pieces)}), best first:")
    for right, values in results[:10]:
        print(f"  {right:3d}  " + ", ".join(f"{name}={value}" for name, value in zip(METRE_GRID, values, strict=True)))


if __name__ == "__main__":
    main()
