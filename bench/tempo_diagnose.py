"""Why the tracker fails where it fails, per file, on tuning material only: the first set (all of it) or
the second set's tuning half. The held-back half is refused: its files are for the final figures, and
reading their failures would be tuning on them. Prints one line per file that misses and a count per kind.

    nice -n 19 .venv/bin/python bench/tempo_diagnose.py --set second
    nice -n 19 .venv/bin/python bench/tempo_diagnose.py --set first

Kinds, from our tempo against the notated beat's and our beats against the true ones:
- ``level``: the tempo is 2, 3, 1/2 or 1/3 of the beat's (another metrical level);
- ``3:2``: it is 3/2, 2/3, 4/3 or 3/4 of it (a triple grouping read as duple or the reverse);
- ``tempo off``: within 15 % but not within 4 % (the right level, a wrong estimate);
- ``off-beat``: the tempo is right but the beats score better shifted by half a beat;
- ``beats``: the tempo is right but fewer than 85 % of the beats are found for another reason;
- ``metre``: the time signature is wrong (besides any of the above);
- ``downbeat``: the time signature is right but the downbeat F-measure is under 0.6.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import tempo_pieces  # noqa: E402
import tempo_styles  # noqa: E402
from engine import ensure_fluidsynth  # noqa: E402
from tempo import beat_f, downbeat_f, ensure_bench_packages, render, transcribed  # noqa: E402

LEVELS = {"level": (2.0, 3.0, 1 / 2, 1 / 3), "3:2": (3 / 2, 2 / 3, 4 / 3, 3 / 4)}
TEMPO_TOLERANCE = 0.04
NEAR_TEMPO = 0.15
GOOD_BEAT_F = 0.85
GOOD_DOWNBEAT_F = 0.6


def tempo_kind(ratio: float) -> str | None:
    """The failure kind of a tempo ``ratio`` (ours / true), None when it is right."""
    if abs(ratio - 1) <= TEMPO_TOLERANCE:
        return None
    for kind, levels in LEVELS.items():
        if any(abs(ratio / level - 1) <= TEMPO_TOLERANCE for level in levels):
            return kind
    return "tempo off" if abs(ratio - 1) <= NEAR_TEMPO else "other tempo"


def kinds_of(piece: tempo_pieces.Piece, rhythm) -> list[str]:
    if rhythm is None:
        return ["no rhythm"]
    truth = piece.beat_times[:-1]
    found = np.asarray(rhythm.beats)
    kinds = []
    tempo = tempo_kind(rhythm.tempo_bpm / piece.median_tempo_bpm)
    score = beat_f(truth, found)
    if tempo:
        kinds.append(tempo)
    elif score < GOOD_BEAT_F:
        half_period = np.interp(found, found[1:], np.diff(found)) / 2
        kinds.append("off-beat" if beat_f(truth, found + half_period) > score else "beats")
    numerator, denominator = rhythm.time_signature
    if f"{numerator}/{denominator}" != piece.metre:
        kinds.append("metre")
    elif downbeat_f(piece.downbeat_times[:-1], rhythm.downbeats) < GOOD_DOWNBEAT_F:
        kinds.append("downbeat")
    return kinds


def main() -> None:
    from midiscribe.engine.beats import track_pulse
    from midiscribe.engine.rhythm import rhythm_from_pulse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("first", "second", "third"), default="second")
    args = parser.parse_args()
    ensure_fluidsynth()
    ensure_bench_packages()
    if args.set == "second":
        pieces = tempo_styles.second_set()
        chosen = tempo_styles.second_set_tuning_half(pieces)
    else:  # the first set and the third are tuning material throughout
        pieces = tempo_pieces.dev_set() if args.set == "first" else tempo_styles.third_set()
        chosen = [True] * len(pieces)
    counts: Counter = Counter()
    files = 0
    for index, (piece, tuning) in enumerate(zip(pieces, chosen, strict=True)):
        if not tuning:
            continue
        files += 1
        onset, notes, duration = transcribed(render(piece, index))
        rhythm = rhythm_from_pulse(track_pulse(onset), notes, duration)
        kinds = kinds_of(piece, rhythm)
        counts.update(kinds)
        if kinds:
            signature = "-" if rhythm is None else "{}/{}".format(*rhythm.time_signature)
            bpm = float("nan") if rhythm is None else rhythm.tempo_bpm
            print(f"{piece.name:48s} {piece.median_tempo_bpm:6.1f} {bpm:6.1f} {piece.metre:>5s} {signature:>5s}  "
                  + ", ".join(kinds))
    print(f"{files} files; " + ", ".join(f"{kind}: {count}" for kind, count in counts.most_common()))


if __name__ == "__main__":
    main()
