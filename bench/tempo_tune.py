"""Choose the beat-level settings of engine/metre.py (and the pulse tracker's tempo prior width) by grid
search on the tuning pieces only: the whole first dev set (its held-back half has been looked at
before, so it is tuning material now), the second set's tuning half, the whole third set and the fifth
set's tuning half (200 pieces). Prints the best settings; changes nothing. The held-back halves and the
fourth set are never read here.

    nice -n 10 .venv/bin/python bench/tempo_tune.py

The objective is tempo Acc1 over those pieces, then (ties) Acc1 averaged over the 20-BPM bands of
60-180 BPM (pieces outside in the nearest), which weighs fast pieces as a set spread evenly over the
issue's range would; the first best is printed with the next ones, so a plateau is visible. The level
choice is scored alone (the reading's own tempo), as the full tracker's tempo follows it.
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

# The pulse tracker's tempo prior width (octaves) and the level choice's weights, its onset-density prior
# (DENSITY_WEIGHT 0: none) and the beat tempo prior's centre and width (BPM, octaves).
PULSE_PRIOR_WIDTHS = (1.0, 1.5)
# The bar and metre settings, chosen after the level settings (the engine's current ones) by how many
# time signatures come out right.
METRE_GRID = {
    "LONGER_BAR_MARGIN": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
    "MIN_THIRDS_SHARE": (0.0, 0.2, 0.3, 0.4, 0.5, 0.6),
}
GRID = {
    "PULSE_WEIGHT": (1.0, 1.5, 2.0),
    "SALIENCE_WEIGHT": (1.0, 2.0, 3.0),
    "PRIOR_WEIGHT": (0.25, 0.5, 1.0),
    "DENSITY_WEIGHT": (0.0, 1.0, 2.0, 4.0),
    "DENSITY_CENTRE": (1.4, 1.6, 1.8, 2.0, 2.4),
    "BEAT_PRIOR_CENTRE_BPM": (110.0, 120.0, 130.0),
    "BEAT_PRIOR_WIDTH_OCTAVES": (0.7,),
}
# The bands of the balanced objective (BPM).
BANDS = (60.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0)


def tuning_pieces() -> list[tuple[int, tempo_pieces.Piece]]:
    """(index for the sound font, piece) of every tuning piece, rendered and transcribed (cached)."""
    chosen = list(enumerate(tempo_pieces.dev_set()))
    second = tempo_styles.second_set()
    chosen += [(index, piece) for index, (piece, tuning)
               in enumerate(zip(second, tempo_styles.second_set_tuning_half(second), strict=True)) if tuning]
    chosen += list(enumerate(tempo_styles.third_set()))
    fifth = tempo_styles.fifth_set()
    chosen += [(index, piece) for index, (piece, tuning)
               in enumerate(zip(fifth, tempo_styles.second_set_tuning_half(fifth), strict=True)) if tuning]
    return chosen


def band_balanced(truths: np.ndarray, right: np.ndarray) -> float:
    """Acc1 averaged over BANDS (a piece outside them in the nearest), each band that holds a piece alike."""
    bands = np.clip(np.searchsorted(BANDS, truths, side="right") - 1, 0, len(BANDS) - 2)
    return float(np.mean([right[bands == band].mean() for band in range(len(BANDS) - 1) if np.any(bands == band)]))


def main() -> None:
    from midiscribe.engine import beats, metre

    ensure_fluidsynth()
    pieces = tuning_pieces()
    material = []
    for index, piece in pieces:
        onset, notes, _ = transcribed(render(piece, index))
        arrays = metre.NoteArrays.of(notes)
        material.append((piece.median_tempo_bpm, onset, arrays, metre.onsets_per_second(arrays)))
    truths = np.array([truth for truth, *_ in material])
    results = []
    for width in PULSE_PRIOR_WIDTHS:
        beats.PRIOR_WIDTH_OCTAVES = width
        evidence = [metre.level_evidence(metre.readings(beats.track_pulse(onset)), notes)
                    for _, onset, notes, _ in material]
        for values in itertools.product(*GRID.values()):
            settings = dict(zip(GRID, values, strict=True))
            if settings["DENSITY_WEIGHT"] == 0 and settings["DENSITY_CENTRE"] != GRID["DENSITY_CENTRE"][0]:
                continue  # the centre of no prior: one of them is enough
            for name, value in settings.items():
                setattr(metre, name, value)
            chosen = np.array([rows[int(np.argmax(metre.level_scores(rows, onset_rate=rate))), 1] if len(rows)
                               else np.nan for rows, (*_, rate) in zip(evidence, material, strict=True)])
            right = np.abs(chosen / truths - 1) <= TEMPO_TOLERANCE
            results.append((int(right.sum()), band_balanced(truths, right), width, values))
    results.sort(key=lambda result: (-result[0], -result[1]))
    print(f"{len(material)} tuning pieces; tempi right (band-balanced Acc1) of the level choice, best first:")
    for right, balanced, width, values in results[:20]:
        settings = ", ".join(f"{name}={value}" for name, value in zip(GRID, values, strict=True))
        print(f"  {right:3d} ({balanced:.3f})  beats.PRIOR_WIDTH_OCTAVES={width}, {settings}")
    tune_metre([piece for _, piece in pieces], material)


def tune_metre(pieces: list, material: list) -> None:
    """Time signatures right for each bar and metre setting, with the engine's own level settings."""
    import importlib

    from midiscribe.engine import beats, metre

    importlib.reload(beats)
    importlib.reload(metre)
    pulses = [beats.track_pulse(onset) for _, onset, *_ in material]
    results = []
    for values in itertools.product(*METRE_GRID.values()):
        for name, value in zip(METRE_GRID, values, strict=True):
            setattr(metre, name, value)
        right = 0
        for piece, pulse, (_, _, notes, _) in zip(pieces, pulses, material, strict=True):
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
