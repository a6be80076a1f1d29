"""The reference side of the benchmark. Runs inside bench/.venv-ref (Python 3.11, basic-pitch 0.4.0).

Kept apart from bench/engine.py because it imports basic-pitch, librosa and mir_eval, none of
which belong in midiscribe's own environment. Sub-commands:

  predict-and-save OUTDIR AUDIO...   basic-pitch's own predict_and_save: MIDI, sonified WAV, note CSV
  notes OUTDIR AUDIO...              predict_and_save with only the note CSV (for parity)
  ready                              print seconds from interpreter start to a loaded model
  f1 OURS.csv THEIRS.csv             note F1 (mir_eval, onset 50 ms, no offset criterion) as JSON
  f1-whole OURS.csv THEIRS.csv       the same in one mir_eval call (quadratic memory: short files only)
  score JOBS.json                    note quality against true notes (bench/quality.py's jobs) as JSON
"""

from __future__ import annotations

import csv
import json
import sys
import time


def load_notes(path: str):
    """Intervals and pitches (Hz) from a note CSV: basic-pitch's ragged rows or midiscribe's."""
    import librosa
    import numpy as np

    intervals, pitches = [], []
    with open(path, newline="") as handle:
        rows = csv.reader(handle)
        next(rows, None)
        for row in rows:
            if len(row) < 3:
                continue
            intervals.append((float(row[0]), float(row[1])))
            pitches.append(float(row[2]))
    interval_array = np.array(intervals, dtype=float).reshape(-1, 2)
    return interval_array, librosa.midi_to_hz(np.array(pitches, dtype=float))


def note_f1(ours: str, theirs: str) -> dict:
    """mir_eval's note precision, recall and F1 (onsets within 50 ms, offsets ignored).

    mir_eval compares every reference note with every estimated one, which for an hour of music
    (about 50,000 notes a side) needs tens of gigabytes. Notes a semitone or more apart can never
    match (its pitch tolerance is 50 cents), so matching pitch by pitch gives the same result.
    """
    import mir_eval
    import numpy as np

    our_intervals, our_pitches = load_notes(ours)
    their_intervals, their_pitches = load_notes(theirs)
    if len(our_intervals) == 0 and len(their_intervals) == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "ours": 0, "theirs": 0}
    our_keys = np.rint(12 * np.log2(our_pitches / 440.0)).astype(int)
    their_keys = np.rint(12 * np.log2(their_pitches / 440.0)).astype(int)
    matched = 0
    for key in np.intersect1d(our_keys, their_keys):
        mine, reference = our_keys == key, their_keys == key
        # basic-pitch is the reference; ours is the estimate.
        matched += len(mir_eval.transcription.match_notes(
            their_intervals[reference], their_pitches[reference], our_intervals[mine], our_pitches[mine],
            onset_tolerance=0.05, offset_ratio=None,
        ))
    precision = matched / len(our_intervals) if len(our_intervals) else 0.0
    recall = matched / len(their_intervals) if len(their_intervals) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "ours": int(len(our_intervals)), "theirs": int(len(their_intervals))}


def whole_file_f1(ours: str, theirs: str) -> dict:
    """mir_eval's own one-call F1, to check :func:`note_f1` against on short files."""
    import mir_eval

    our_intervals, our_pitches = load_notes(ours)
    their_intervals, their_pitches = load_notes(theirs)
    precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        their_intervals, their_pitches, our_intervals, our_pitches, onset_tolerance=0.05, offset_ratio=None
    )
    return {"precision": precision, "recall": recall, "f1": f1}


def score_jobs(path: str) -> dict:
    """mir_eval's onset F1 (50 ms) and onset+offset F1 (offsets within 20 % or 50 ms) for each job.

    A job is ``{"key": ..., "truth": [[onset_s, offset_s, midi], ...], "notes": [[...], ...]}``;
    the answer maps each key to precision, recall and F1 for both criteria plus the note counts.
    """
    import mir_eval
    import numpy as np

    def intervals_and_hz(rows):
        array = np.asarray(rows, dtype=float).reshape(-1, 3)
        return array[:, :2], 440.0 * 2.0 ** ((array[:, 2] - 69) / 12)

    with open(path) as handle:
        jobs = json.load(handle)
    results = {}
    for job in jobs:
        ref_intervals, ref_hz = intervals_and_hz(job["truth"])
        est_intervals, est_hz = intervals_and_hz(job["notes"])
        row = {"truth": len(ref_hz), "notes": len(est_hz)}
        for name, offset_ratio in (("onset", None), ("onset_offset", 0.2)):
            if len(ref_hz) == 0 or len(est_hz) == 0:
                precision = recall = f1 = 0.0
            else:
                precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
                    ref_intervals, ref_hz, est_intervals, est_hz, onset_tolerance=0.05, offset_ratio=offset_ratio,
                    offset_min_tolerance=0.05)
            row[name] = {"precision": precision, "recall": recall, "f1": f1}
        results[job["key"]] = row
    return results


def predict_and_save(output_directory: str, audio_paths: list[str], *, midi: bool, sonify: bool) -> None:
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict_and_save

    model = Model(ICASSP_2022_MODEL_PATH)
    predict_and_save(
        audio_paths,
        output_directory,
        save_midi=midi,
        sonify_midi=sonify,
        save_model_outputs=False,
        save_notes=True,
        model_or_model_path=model,
    )


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "predict-and-save":
        predict_and_save(rest[0], rest[1:], midi=True, sonify=True)
    elif command == "notes":
        predict_and_save(rest[0], rest[1:], midi=False, sonify=False)
    elif command == "ready":
        from basic_pitch import ICASSP_2022_MODEL_PATH
        from basic_pitch.inference import Model

        Model(ICASSP_2022_MODEL_PATH)
        print(json.dumps({"ready_at": time.time()}))
    elif command == "f1":
        print(json.dumps(note_f1(rest[0], rest[1])))
    elif command == "score":
        print(json.dumps(score_jobs(rest[0])))
    elif command == "f1-whole":
        print(json.dumps(whole_file_f1(rest[0], rest[1])))
    else:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
