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

    nice -n 10 .venv/bin/python bench/tempo_tune.py --second-look

fits the second look's weights instead (engine/metre.py LOOK_WEIGHTS): a logistic regression, for the reading at
twice and at half the tempo of the level scores' choice, of which of the two is right, on how their
LOOK_FEATURES differ, over the 200 tuning pieces, the seventh set's 160 and the fourteenth set's 320 (where
exactly one of the two is right). It prints the weights to copy into engine/metre.py, then what they do to the
level choice (and what engine/metre.py's weights do): over all 680 pieces, on each group, fitted on the other two
groups to choose on each, and in two-fold cross-validation (10 random splits). engine/metre.py's weights were fitted
on the 360 before the fourteenth set; the fit on all 680 does no better (566 right against their 567), so they stay.

    nice -n 10 .venv/bin/python bench/tempo_tune.py --compound-look

chooses the compound look's margin (engine/metre.py GROUPING_MARGIN): on the same 360 pieces, after the level scores
and the second look, how many tempi each margin gets right, and the same in two-fold cross-validation (20 random
splits; on each fold the middle of the margins with the most tempi right, none where no margin gains).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import tempo_pieces  # noqa: E402
from engine import ensure_fluidsynth  # noqa: E402
from tempo import ACC2_LEVELS, DEV_SETS, TEMPO_TOLERANCE, render, tempo_right, transcribed  # noqa: E402

# The second look's logistic regression: L2 weight on the standardised features, the splits of the
# cross-validation, and the seed they are drawn with.
LOOK_L2 = 1.0
LOOK_SPLITS = 10
LOOK_SEED = 0
# The compound look's margins tried, and its cross-validation's splits.
GROUPING_MARGINS = tuple(np.round(np.arange(0.2, 2.01, 0.1), 1))
GROUPING_SPLITS = 20

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


def tuning_part(name: str) -> list[tuple[int, tempo_pieces.Piece]]:
    """(index for the sound font, piece) of the tuning pieces of bench/tempo.py's dev set ``name``."""
    make_set, split = DEV_SETS[name]
    pieces = make_set()
    return [(index, piece) for index, (piece, tuning) in enumerate(zip(pieces, split(pieces), strict=True)) if tuning]


def tuning_pieces() -> list[tuple[int, tempo_pieces.Piece]]:
    """(index for the sound font, piece) of every tuning piece: the whole first set (both its halves have been
    looked at), the second set's tuning half, the third set and the fifth set's tuning half."""
    return list(enumerate(tempo_pieces.dev_set())) + tuning_part("second") + tuning_part("third") + tuning_part("fifth")


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


def level_choice(index: int, piece: tempo_pieces.Piece):
    """What ``metre.find_metre`` reads of a tuning piece before its looks, as it reads it (no hint, every note
    pitched): (notes, onset rate, candidate readings, their evidence, their level scores), or None without notes,
    pulse or onset rate."""
    from midiscribe.engine import beats, metre
    from midiscribe.engine.rhythm import aligned_to_notes

    onset, notes, _ = transcribed(render(piece, index))
    arrays = metre.NoteArrays.of(notes)
    rate = metre.onsets_per_second(arrays)
    pulse = beats.track_pulse(onset)
    if len(arrays.starts) == 0 or len(pulse) < 4 or not rate:
        return None
    pulse = aligned_to_notes(pulse, arrays)
    candidates = metre.readings(pulse, metre.pulse_division(pulse, arrays))
    evidence = metre.level_evidence(candidates, arrays)
    return arrays, rate, candidates, evidence, metre.level_scores(evidence, onset_rate=rate)


def look_material(pieces: list[tuple[int, tempo_pieces.Piece]]) -> list[dict]:
    """For each piece, what the second look reads: the level scores' choice and, for each ratio of LOOK_WEIGHTS,
    the reading it would be weighed against, with their features' difference and which of the two is right."""
    from midiscribe.engine import metre

    material = []
    for index, piece in pieces:
        truth = piece.median_tempo_bpm
        entry = {"truth": truth, "chosen_bpm": np.nan, "looks": []}
        material.append(entry)
        read = level_choice(index, piece)
        if read is None:
            continue
        arrays, rate, candidates, evidence, levels = read
        chosen = int(np.argmax(levels))
        bpm = evidence[:, 1]
        entry["chosen_bpm"] = bpm[chosen]
        for other in metre.looked_at(evidence, levels, rate):
            if other is None:
                entry["looks"].append(None)
                continue
            mine, theirs = metre.look_features(candidates, evidence, [chosen, other], arrays, None, rate)
            right = [tempo_right(bpm[at], truth) for at in (chosen, other)]
            entry["looks"].append({"delta": theirs - mine, "bpm": bpm[other], "chosen_right": right[0],
                                   "other_right": right[1]})
    return material


def fit_logistic(features: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(bias, weights) on the raw features of an L2-regularised logistic regression (Newton's method) fitted on
    the standardised features, LOOK_L2 on every weight but the bias."""
    mean, spread = features.mean(axis=0), features.std(axis=0) + 1e-9
    design = np.hstack((np.ones((len(features), 1)), (features - mean) / spread))
    penalty = LOOK_L2 * np.diag(np.r_[0.0, np.ones(features.shape[1])]) / len(labels)
    weights = np.zeros(design.shape[1])
    for _ in range(100):
        chance = 1.0 / (1.0 + np.exp(-design @ weights))
        gradient = design.T @ (chance - labels) / len(labels) + penalty @ weights
        hessian = (design.T * (chance * (1 - chance))) @ design / len(labels) + penalty + 1e-9 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    raw = weights[1:] / spread
    return float(weights[0] - raw @ mean), raw


def fit_looks(material: list[dict]) -> list[tuple[float, np.ndarray]]:
    """One (bias, weights) per ratio of LOOK_WEIGHTS, fitted where exactly one of the two readings is right."""
    from midiscribe.engine import metre

    fitted = []
    for look in range(len(metre.LOOK_WEIGHTS)):
        pairs = [entry["looks"][look] for entry in material if entry["looks"] and entry["looks"][look] is not None
                 and entry["looks"][look]["chosen_right"] != entry["looks"][look]["other_right"]]
        features = np.array([pair["delta"] for pair in pairs])
        labels = np.array([pair["other_right"] for pair in pairs], dtype=float)
        fitted.append(fit_logistic(features, labels))
    return fitted


def looked(material: list[dict], fitted: list[tuple[float, np.ndarray]] | None) -> tuple[int, float, int]:
    """(tempi right, band-balanced Acc1, tempi right at some level: Acc2) of the level choice with the second look
    (None: without it)."""
    truths = np.array([entry["truth"] for entry in material])
    chosen = []
    for entry in material:
        bpm = entry["chosen_bpm"]
        for look, (bias, weights) in zip(entry["looks"], fitted or [], strict=False):
            if look is not None and bias + float(look["delta"] @ weights) > 0:
                bpm = look["bpm"]
                break
        chosen.append(bpm)
    right = np.abs(np.array(chosen) / truths - 1) <= TEMPO_TOLERANCE
    levels = sum(tempo_right(bpm, truth, ACC2_LEVELS) for bpm, truth in zip(chosen, truths, strict=True))
    return int(right.sum()), band_balanced(truths, right), int(levels)


def two_fold(items: list, splits: int):
    """(fitted on, scored on) halves of ``items`` for two-fold cross-validation: ``splits`` random halvings (seeded
    with LOOK_SEED), each used both ways."""
    rng = np.random.default_rng(LOOK_SEED)
    for _ in range(splits):
        order = rng.permutation(len(items))
        halves = ([items[i] for i in order[: len(order) // 2]], [items[i] for i in order[len(order) // 2:]])
        yield halves
        yield halves[::-1]


def tune_second_look() -> None:
    from midiscribe.engine import metre

    ensure_fluidsynth()
    groups = {"the 200": look_material(tuning_pieces()), "the seventh set": look_material(tuning_part("seventh")),
              "the fourteenth set": look_material(tuning_part("fourteenth"))}
    everything = [entry for material in groups.values() for entry in material]
    fitted = fit_looks(everything)
    sizes = ", ".join(f"{name}: {len(material)}" for name, material in groups.items())
    print(f"{len(everything)} tuning pieces ({sizes}). LOOK_WEIGHTS for engine/metre.py:")
    for (ratio, _), (bias, weights) in zip(metre.LOOK_WEIGHTS, fitted, strict=True):
        print(f"    ({ratio}, ({bias:.2f}, ({', '.join(f'{weight:.2f}' for weight in weights)}))),")
    print("tempi right (band-balanced Acc1) of the level choice, without -> with the second look:")
    rows = [(f"all {len(everything)}", everything, everything), ("with engine/metre.py's weights, all", None,
                                                                  everything)]
    rows += [(name, everything, material) for name, material in groups.items()]
    rows += [(f"fitted on the others, {name}", [entry for other, rest in groups.items() if other != name
                                                for entry in rest], material) for name, material in groups.items()]
    for name, fit_on, test_on in rows:
        weights = [weights for _, weights in metre.LOOK_WEIGHTS] if fit_on is None else fit_looks(fit_on)
        before, after = looked(test_on, None), looked(test_on, weights)
        print(f"  {name}: {before[0]} ({before[1]:.3f}) -> {after[0]} ({after[1]:.3f}) of {len(test_on)}; "
              f"at some level (Acc2) {before[2]} -> {after[2]}")
    gains = [looked(test_on, fit_looks(fit_on))[0] - looked(test_on, None)[0]
             for fit_on, test_on in two_fold(everything, LOOK_SPLITS)]
    print(f"  two-fold cross-validation ({LOOK_SPLITS} splits): {np.mean(gains):+.1f} tempi right per "
          f"{len(everything) // 2} on the other fold ({min(gains):+d} to {max(gains):+d})")


def compound_material(pieces: list[tuple[int, tempo_pieces.Piece]]) -> list[tuple[bool, float, bool]]:
    """For each piece: whether the reading after the second look is right, the margin by which its halves group in
    threes (``metre.grouping``; -inf where ``metre.compound_guarded``), and whether the
    reading at 2:3 is right; (False, -inf, False) for a piece with no reading (no notes, no pulse)."""
    from midiscribe.engine import metre

    material = []
    for index, piece in pieces:
        read = level_choice(index, piece)
        if read is None:
            material.append((False, -np.inf, False))
            continue
        arrays, rate, candidates, evidence, levels = read
        chosen = candidates[metre.second_look(candidates, evidence, levels, arrays, None, rate)]
        margin, dotted = metre.grouping(chosen, arrays)
        truth = piece.median_tempo_bpm
        right = tempo_right(60.0 / np.median(np.diff(chosen)), truth)
        if metre.compound_guarded(chosen, dotted, arrays, rate):
            margin = -np.inf
        material.append((right, margin, len(dotted) > 1 and tempo_right(60.0 / np.median(np.diff(dotted)), truth)))
    return material


def compound_right(material: list[tuple[bool, float, bool]], margin: float | None) -> int:
    """Tempi right with the compound look at ``margin`` (None: without it)."""
    return sum(other if margin is not None and grouping >= margin else right for right, grouping, other in material)


def tune_compound_look() -> None:
    ensure_fluidsynth()
    material = compound_material(tuning_pieces()) + compound_material(tuning_part("seventh"))
    print(f"{len(material)} tuning pieces; the 2:3 reading is the right one and the second look's is not in "
          f"{sum(other and not right for right, _, other in material)}, the reverse in "
          f"{sum(right and not other for right, _, other in material)}")
    print(f"  without the compound look: {compound_right(material, None)} tempi right")
    for margin in GROUPING_MARGINS:
        print(f"  GROUPING_MARGIN {margin:.1f}: {compound_right(material, margin)}")
    gains = []
    for fit_on, test_on in two_fold(material, GROUPING_SPLITS):
        counts = [compound_right(fit_on, margin) for margin in GROUPING_MARGINS]
        plateau = [margin for margin, count in zip(GROUPING_MARGINS, counts, strict=True) if count == max(counts)]
        best = plateau[len(plateau) // 2] if max(counts) > compound_right(fit_on, None) else None
        gains.append(compound_right(test_on, best) - compound_right(test_on, None))
    print(f"  two-fold cross-validation ({GROUPING_SPLITS} splits): {np.mean(gains):+.2f} tempi right per "
          f"{len(material) // 2} on the other fold ({min(gains):+d} to {max(gains):+d})")


if __name__ == "__main__":
    if sys.argv[1:] == ["--second-look"]:
        tune_second_look()
    elif sys.argv[1:] == ["--compound-look"]:
        tune_compound_look()
    else:
        main()
