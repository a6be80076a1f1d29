"""Transcription metrics for bench/piano.py, with mir_eval (runs in bench/.venv-piano-ref).

    piano_metrics.py REQUEST.json     prints one JSON object of metrics per pair, as a JSON list

REQUEST is ``[{"est": PATH, "ref": PATH}, ...]``; each file is ``{"notes": [[start, end, pitch,
velocity], ...], "pedals": [[start, end, controller], ...]}``. For each pair:

- ``onset``: note precision/recall/F1, pitch exact, onset within 50 ms, offsets ignored;
- ``onset_offset``: the same plus offsets within 20 % of the note's length or 50 ms;
- ``velocity``: mir_eval's velocity-aware F1 (onset and offset, velocities rescaled per file);
- ``velocity_within_5``: of the notes matched by onset, the share whose velocities differ by at most 5;
- ``sustain`` / ``soft``: the pedal's intervals matched like notes (onset within 50 ms, offset as above):
  precision/recall/F1 and counts.
"""

from __future__ import annotations

import json
import sys

import numpy as np

ONSET_TOLERANCE = 0.05


def _notes(data: dict):
    notes = np.array(data.get("notes", []), dtype=float).reshape(-1, 4)
    return notes[:, :2], 440.0 * 2.0 ** ((notes[:, 2] - 69) / 12), notes[:, 3]


def _pedals(data: dict, controller: int) -> np.ndarray:
    return np.array([pedal[:2] for pedal in data.get("pedals", []) if pedal[2] == controller], dtype=float).reshape(-1, 2)


def _prf(ref_i, ref_p, est_i, est_p, offset_ratio):
    import mir_eval

    if len(ref_i) == 0 or len(est_i) == 0:
        return {"precision": float(len(ref_i) == len(est_i)), "recall": float(len(ref_i) == len(est_i)),
                "f1": float(len(ref_i) == len(est_i)), "ref": len(ref_i), "est": len(est_i)}
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_i, ref_p, est_i, est_p, onset_tolerance=ONSET_TOLERANCE, offset_ratio=offset_ratio)
    return {"precision": p, "recall": r, "f1": f, "ref": len(ref_i), "est": len(est_i)}


def pair_metrics(est: dict, ref: dict) -> dict:
    import mir_eval

    ref_i, ref_p, ref_v = _notes(ref)
    est_i, est_p, est_v = _notes(est)
    result = {"onset": _prf(ref_i, ref_p, est_i, est_p, None),
              "onset_offset": _prf(ref_i, ref_p, est_i, est_p, 0.2)}
    if len(ref_i) and len(est_i):
        p, r, f, _ = mir_eval.transcription_velocity.precision_recall_f1_overlap(
            ref_i, ref_p, ref_v, est_i, est_p, est_v, onset_tolerance=ONSET_TOLERANCE)
        result["velocity"] = {"precision": p, "recall": r, "f1": f}
        matched = mir_eval.transcription.match_notes(ref_i, ref_p, est_i, est_p, onset_tolerance=ONSET_TOLERANCE,
                                                     offset_ratio=None)
        differences = np.array([abs(ref_v[i] - est_v[j]) for i, j in matched])
        result["velocity_within_5"] = float(np.mean(differences <= 5)) if len(differences) else float("nan")
        result["matched"] = len(matched)
    for name, controller in (("sustain", 64), ("soft", 67)):
        ref_pedal, est_pedal = _pedals(ref, controller), _pedals(est, controller)
        result[name] = _prf(ref_pedal, np.full(len(ref_pedal), 440.0), est_pedal, np.full(len(est_pedal), 440.0), 0.2)
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as handle:
        request = json.load(handle)
    results = []
    for pair in request:
        with open(pair["est"]) as est, open(pair["ref"]) as ref:
            results.append(pair_metrics(json.load(est), json.load(ref)))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
