"""Note quality on the dev set: basic-pitch 0.4.0 against midiscribe's modes, per file and per family.

    .venv/bin/python bench/quality.py                 # the held-back half (what the README reports)
    .venv/bin/python bench/quality.py --half tune     # the half the settings were chosen on
    .venv/bin/python bench/quality.py --half tune --bleed-gate 20 25 30   # the stems' bleed gate on single recordings
    .venv/bin/python bench/quality.py --ablation      # each change to note creation on its own
    .venv/bin/python bench/quality.py --unseen-fonts  # the held-back half played with two other GM fonts

It sets up what it needs: the reference venv (bench/.venv-ref, as bench/engine.py makes it), the
sound fonts, the dev set's audio and true notes (bench/devset.py), the model's posteriorgrams of
every file (so note creation can be re-run in seconds) and basic-pitch's own notes, all cached
under bench/.cache/devset/. Scores are mir_eval's: onset F1 with a 50 ms onset tolerance, and
onset+offset F1 (offsets within 20 % of the note's length or 50 ms), computed in the reference venv.
Means are over files: a family's mean over its files, the overall mean over all files. ``auto`` and the
family hint drop notes under the product's level gate (``engine.pipeline.LEVEL_GATE_DB``), as
``engine.transcribe`` does; compat and basic-pitch keep every note.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import devset  # noqa: E402
from engine import (  # noqa: E402
    OTHER_GM_FONT_PACKAGES,
    OTHER_GM_FONTS,
    REFERENCE_PYTHON,
    REFERENCE_SCRIPT,
    ensure_fluidsynth,
    ensure_reference_venv,
    levels_db,
    say,
)

from midiscribe.engine.note_creation import note_creator  # noqa: E402
from midiscribe.engine.notes import frame_times  # noqa: E402
from midiscribe.engine.options import TranscriptionOptions  # noqa: E402
from midiscribe.engine.profiles import AUTO_PROFILES, AutoProfiles, NoteProfile  # noqa: E402
from midiscribe.engine.tracking import TrackingStore, chosen_profile, track_notes  # noqa: E402

POSTERIORS = devset.DEVSET / "posteriors"
BASIC_PITCH = devset.DEVSET / "basic-pitch"
Notes = np.ndarray  # (n, 3): onset s, offset s, MIDI pitch


# --------------------------------------------------------------------------------------------------
# Set-up: audio, posteriorgrams, basic-pitch's notes


def posteriors_path(file: devset.DevFile) -> Path:
    return POSTERIORS / f"{file.name}.npz"


def compute_posteriors(file: devset.DevFile) -> None:
    """The model's three posteriorgrams for the file, exactly as the pipeline streams them."""
    from midiscribe.engine.audio import AudioStream
    from midiscribe.engine.inference import ModelRunner

    target = posteriors_path(file)
    if target.exists():
        return
    POSTERIORS.mkdir(parents=True, exist_ok=True)
    runner = ModelRunner()
    parts: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    with AudioStream(str(file.audio)) as audio:
        for chunk in runner.run(audio.blocks()):
            for name in parts:
                parts[name].append(getattr(chunk, name))
    frames = runner.frame_count
    partial = target.with_name(target.stem + ".part.npz")
    np.savez(partial, **{name: np.concatenate(arrays)[:frames] for name, arrays in parts.items()})
    partial.replace(target)


def basic_pitch_csv(file: devset.DevFile) -> Path:
    return BASIC_PITCH / f"{file.name}_basic_pitch.csv"


def prepare(files: list[devset.DevFile], *, with_basic_pitch: bool = True) -> None:
    ensure_reference_venv()
    ensure_fluidsynth()
    missing = [file for file in files if not (file.audio.exists() and file.truth.exists())]
    if missing:
        say(f"rendering {len(missing)} dev-set files with FluidSynth")
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(devset.render, missing))
    missing = [file for file in files if not posteriors_path(file).exists()]
    if missing:
        say(f"running the model on {len(missing)} files")
        for file in missing:
            compute_posteriors(file)
    missing = [file for file in files if with_basic_pitch and not basic_pitch_csv(file).exists()]
    if missing:
        say(f"running basic-pitch 0.4.0 on {len(missing)} files")
        BASIC_PITCH.mkdir(parents=True, exist_ok=True)
        for first in range(0, len(missing), 50):  # one model load per batch; a crash loses little
            batch = [str(file.audio) for file in missing[first : first + 50]]
            subprocess.run([str(REFERENCE_PYTHON), str(REFERENCE_SCRIPT), "notes", str(BASIC_PITCH), *batch],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------------------
# Notes from each system


def load_posteriors(file: devset.DevFile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(posteriors_path(file)) as arrays:
        return arrays["note"], arrays["onset"], arrays["contour"]


def true_notes(file: devset.DevFile) -> Notes:
    return np.array(devset.load_truth(file)["notes"], dtype=float).reshape(-1, 3)


def basic_pitch_notes(file: devset.DevFile) -> Notes:
    rows = []
    with open(basic_pitch_csv(file)) as handle:
        next(handle)
        for line in handle:
            fields = line.split(",")
            rows.append((float(fields[0]), float(fields[1]), float(fields[2])))
    return np.array(rows, dtype=float).reshape(-1, 3)


def engine_notes(posteriors, options: TranscriptionOptions, levels=None) -> tuple[Notes, float | None]:
    """Notes through the engine's own note creation, fed in the pipeline's chunk sizes; with ``levels`` (the
    file's ``levels_db``), gated as ``engine.transcribe`` gates a single recording (its LEVEL_GATE_DB)."""
    from midiscribe.engine.pipeline import LEVEL_GATE_DB, bleed_mask

    note, onset, contour = posteriors
    creator = note_creator(options, note.shape[0])
    for first in range(0, note.shape[0], 142):  # one model window's kept frames at a time
        rows = slice(first, first + 142)
        creator.add(note[rows].copy(), onset[rows].copy(), contour[rows].copy())
    created = creator.finish(note.shape[0])
    notes = np.array([(n.start_s, n.end_s, n.pitch) for n in created.notes], dtype=float).reshape(-1, 3)
    if levels is not None and not options.basic_pitch_compat and len(notes):
        notes = notes[bleed_mask(notes[:, 0], levels, LEVEL_GATE_DB)]
    return notes, created.tuning_cents


def profile_notes(posteriors, profile: NoteProfile | AutoProfiles, use_tuning: bool = True) -> Notes:
    """Notes from a profile that is not (or not yet) one of the engine's own: for ablations and tuning."""
    note, onset, contour = posteriors
    needed = profile.all if isinstance(profile, AutoProfiles) else profile
    tracked = TrackingStore.from_arrays(note, onset, contour, needed)
    if not use_tuning:
        tracked.tuning_cents = 0.0
    if isinstance(profile, AutoProfiles):
        profile = chosen_profile(tracked, profile)
    made = track_notes(tracked, profile, with_bends=False)
    starts = frame_times(np.array([n.start for n in made], dtype=np.int64))
    ends = frame_times(np.array([n.end for n in made], dtype=np.int64))
    return np.column_stack([starts, ends, [n.pitch for n in made]]).reshape(-1, 3)


# --------------------------------------------------------------------------------------------------
# Scoring


def score(jobs: dict[str, tuple[Notes, Notes]]) -> dict[str, dict]:
    """mir_eval scores for {key: (true notes, estimated notes)}, in one reference-venv process."""
    payload = [{"key": key, "truth": truth.tolist(), "notes": notes.tolist()} for key, (truth, notes) in jobs.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(payload, handle)
    try:
        result = subprocess.run([str(REFERENCE_PYTHON), str(REFERENCE_SCRIPT), "score", handle.name],
                                capture_output=True, text=True, check=True)
    finally:
        os.unlink(handle.name)
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclasses.dataclass
class Summary:
    """Mean F1s per family and overall, for one system."""

    onset: dict[str, float]
    onset_offset: dict[str, float]
    notes: dict[str, int]
    overall_onset: float
    overall_onset_offset: float


def summarise(files: list[devset.DevFile], scores: dict[str, dict], system: str) -> Summary:
    by_family: dict[str, list[dict]] = defaultdict(list)
    for file in files:
        by_family[file.family].append(scores[f"{system}|{file.name}"])
    everything = [row for rows in by_family.values() for row in rows]
    return Summary(
        onset={family: float(np.mean([r["onset"]["f1"] for r in rows])) for family, rows in by_family.items()},
        onset_offset={family: float(np.mean([r["onset_offset"]["f1"] for r in rows]))
                      for family, rows in by_family.items()},
        notes={family: int(sum(r["notes"] for r in rows)) for family, rows in by_family.items()},
        overall_onset=float(np.mean([r["onset"]["f1"] for r in everything])),
        overall_onset_offset=float(np.mean([r["onset_offset"]["f1"] for r in everything])),
    )


# --------------------------------------------------------------------------------------------------
# Reports


def systems_for(file: devset.DevFile, posteriors) -> dict[str, Notes]:
    levels = levels_db(file.audio)  # the product's level gate (engine.pipeline.LEVEL_GATE_DB) on auto and hint
    auto, _ = engine_notes(posteriors, TranscriptionOptions(), levels)
    hinted, _ = engine_notes(posteriors, TranscriptionOptions(instrument=file.family), levels)
    compat, _ = engine_notes(posteriors, TranscriptionOptions(basic_pitch_compat=True))
    return {"basic-pitch": basic_pitch_notes(file), "compat": compat, "auto": auto, "hint": hinted}


def main_report(files: list[devset.DevFile], half: str, played: str = "") -> str:
    jobs: dict[str, tuple[Notes, Notes]] = {}
    parity: dict[str, tuple[Notes, Notes]] = {}
    tuning_errors = []
    for file in files:
        posteriors = load_posteriors(file)
        truth = true_notes(file)
        for system, notes in systems_for(file, posteriors).items():
            jobs[f"{system}|{file.name}"] = (truth, notes)
            if system == "compat":
                parity[f"parity|{file.name}"] = (basic_pitch_notes(file), notes)
        _, tuning = engine_notes(posteriors, TranscriptionOptions())
        tuning_errors.append(None if tuning is None else tuning - file.detune_cents)  # None: too little to tell
    scores = score({**jobs, **parity})
    summaries = {system: summarise(files, scores, system) for system in ("basic-pitch", "compat", "auto", "hint")}
    families = list(devset.FAMILIES)
    fonts = len({f.font for f in files})
    lines = [
        f"Dev set, {half} half{played}: {len(files)} files ({len({f.piece for f in files})} pieces × "
        f"{len(families)} families × {devset.SOUNDS_PER_PIECE_AND_FAMILY} sounds, "
        f"{fonts} sound font{'s' if fonts > 1 else ''}, "
        "dry / hall / noise / detuned). mir_eval F1, onset within 50 ms; onset+offset adds offsets within "
        "20 % or 50 ms.",
        "",
        "| family | files | basic-pitch 0.4.0 onset / on+off | auto onset / on+off | with the family's "
        "`instrument` onset / on+off | hint − auto (onset) |",
        "|---|---|---|---|---|---|",
    ]
    for family in families:
        count = sum(1 for f in files if f.family == family)
        bp, auto, hint = summaries["basic-pitch"], summaries["auto"], summaries["hint"]
        lines.append(
            f"| {family} | {count} | {bp.onset[family]:.3f} / {bp.onset_offset[family]:.3f} "
            f"| **{auto.onset[family]:.3f}** / {auto.onset_offset[family]:.3f} "
            f"| {hint.onset[family]:.3f} / {hint.onset_offset[family]:.3f} "
            f"| {hint.onset[family] - auto.onset[family]:+.3f} |")
    bp, auto, hint = summaries["basic-pitch"], summaries["auto"], summaries["hint"]
    lines.append(f"| **all** | {len(files)} | {bp.overall_onset:.3f} / {bp.overall_onset_offset:.3f} "
                 f"| **{auto.overall_onset:.3f}** / **{auto.overall_onset_offset:.3f}** "
                 f"| {hint.overall_onset:.3f} / {hint.overall_onset_offset:.3f} "
                 f"| {hint.overall_onset - auto.overall_onset:+.3f} |")
    compat = summaries["compat"]
    parity_f1 = [scores[f"parity|{file.name}"]["onset"]["f1"] for file in files]
    worst = int(np.argmin(parity_f1))
    errors = np.abs(np.array([error for error in tuning_errors if error is not None]))
    unknown = sum(error is None for error in tuning_errors)
    lines += [
        "",
        f"`--basic-pitch-compat` on the same posteriorgrams: onset F1 {compat.overall_onset:.3f}, on+off "
        f"{compat.overall_onset_offset:.3f}; note parity with basic-pitch 0.4.0 (onset F1 against its notes): "
        f"min {min(parity_f1):.4f} ({files[worst].name}), mean {np.mean(parity_f1):.4f}.",
        f"Tuning estimate (`tuning_cents`) against the rendering's detune: mean absolute error "
        f"{errors.mean():.1f} cents, worst {errors.max():.1f} cents"
        + (f"; not estimated (too little pitched sound agreeing on it) on {unknown} of {len(files)} files." if unknown
           else "."),
        "",
        "Notes written (auto / basic-pitch / true) per family: " + ", ".join(
            f"{family} {auto.notes[family]} / {bp.notes[family]} / "
            f"{sum(len(true_notes(f)) for f in files if f.family == family)}" for family in families),
    ]
    return "\n".join(lines)


def ablation_steps() -> list[tuple[str, NoteProfile | AutoProfiles, bool]]:
    """(label, profile, tuning on) for basic-pitch's skeleton, each change alone, and each left out of auto."""
    auto = AUTO_PROFILES
    off = {
        "onset tracing": {"trace_back_frames": 0},
        "repeated-note merging": {"merge_onset_below": 0.0},
        "release trimming": {"offset_fraction": 0.0},
        "ghost suppression": {"ghost_ratio": 0.0},
        "melodia threshold": {"melodia_threshold": auto.probe.frame_threshold},
    }

    def without(profiles: AutoProfiles, change: dict) -> AutoProfiles:
        return profiles.with_each(lambda profile: dataclasses.replace(profile, **change))

    everything_off = {key: value for change in off.values() for key, value in change.items()}
    skeleton = dataclasses.replace(auto.probe, **everything_off)
    steps = [("skeleton: basic-pitch's walk with auto's thresholds, no changes", skeleton, False),
             ("skeleton + tuning", skeleton, True)]
    for name, change in off.items():
        alone = {key: getattr(auto.probe, key) for key in change}
        steps.append((f"skeleton + {name} only", dataclasses.replace(skeleton, **alone), False))
    steps.append(("skeleton + choosing (struck, sustained, bass line) only", without(auto, everything_off), False))
    for name, change in off.items():
        steps.append((f"auto without {name}", without(auto, change), True))
    steps.append(("auto without tuning", auto, False))
    steps.append(("auto without the bass-line choice", dataclasses.replace(auto, low=None), True))
    steps.append(("auto without choosing (the probe's settings for all)", auto.probe, True))
    steps.append(("auto (all changes)", auto, True))
    return steps


def ablation_report(files: list[devset.DevFile], half: str) -> str:
    steps = ablation_steps()
    jobs = {}
    for file in files:
        posteriors, truth = load_posteriors(file), true_notes(file)
        for index, (_, profile, tuning) in enumerate(steps):
            jobs[f"{index}|{file.name}"] = (truth, profile_notes(posteriors, profile, tuning))
    scores = score(jobs)
    families = list(devset.FAMILIES)
    lines = [f"Ablation on the {half} half ({len(files)} files), instrument=auto; onset F1 / onset+offset F1.", "",
             "| step | all | " + " | ".join(families) + " |", "|---|---|" + "---|" * len(families)]
    for index, (label, _, _) in enumerate(steps):
        summary = summarise(files, scores, str(index))
        lines.append(f"| {label} | **{summary.overall_onset:.3f}** / {summary.overall_onset_offset:.3f} | "
                     + " | ".join(f"{summary.onset[f]:.2f} / {summary.onset_offset[f]:.2f}" for f in families) + " |")
    return "\n".join(lines)


def bleed_gate_report(files: list[devset.DevFile], half: str, gates: list[float]) -> str:
    """What the stems' bleed gate costs on recordings that hold no bleed: ``auto``'s notes, gated or not."""
    from midiscribe.engine.pipeline import bleed_mask

    jobs = {}
    for file in files:
        auto, _ = engine_notes(load_posteriors(file), TranscriptionOptions())
        truth = true_notes(file)
        jobs[f"none|{file.name}"] = (truth, auto)
        levels = levels_db(file.audio)
        for gate in gates:
            jobs[f"{gate:g}|{file.name}"] = (truth, auto[bleed_mask(auto[:, 0], levels, gate)] if len(auto) else auto)
    scores = score(jobs)
    lines = [f"The bleed gate on the {half} half ({len(files)} recordings without bleed), instrument=auto; "
             "onset F1 / onset+offset F1, notes, and the recordings whose onset F1 the gate lowers.", "",
             "| gate | onset F1 | on+off F1 | notes | recordings that lose onset F1 (worst loss) |", "|---|---|---|---|---|"]
    for system in ["none", *(f"{gate:g}" for gate in gates)]:
        summary = summarise(files, scores, system)
        losses = [scores[f"none|{f.name}"]["onset"]["f1"] - scores[f"{system}|{f.name}"]["onset"]["f1"] for f in files]
        lost = [loss for loss in losses if loss > 1e-9]
        lines.append(f"| {'no gate' if system == 'none' else system + ' dB'} | {summary.overall_onset:.4f} | "
                     f"{summary.overall_onset_offset:.4f} | {sum(summary.notes.values())} | "
                     f"{len(lost)} ({max(lost, default=0.0):.3f}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("held", "tune"), default="held", help="which half of the dev set")
    parser.add_argument("--ablation", action="store_true", help="measure each note-creation change on its own")
    parser.add_argument("--bleed-gate", type=float, nargs="+", metavar="DB",
                        help="what the stems' bleed gate at these levels costs on recordings without bleed")
    parser.add_argument("--unseen-fonts", action="store_true",
                        help="the half's files played with each of the other GM fonts (OTHER_GM_FONTS) instead, "
                             "as a check: no setting was chosen on them")
    args = parser.parse_args(argv)
    if args.unseen_fonts:
        if args.ablation or args.bleed_gate:
            parser.error("--unseen-fonts prints the main table per font only: leave out --ablation and --bleed-gate")
        ensure_fluidsynth(OTHER_GM_FONTS, OTHER_GM_FONT_PACKAGES)
        files = devset.other_font_files(args.half)
        prepare(files)
        for font in OTHER_GM_FONTS:
            print(main_report([file for file in files if file.font == font], args.half, f", played with {font}"))
            print()
        return 0
    prepare(devset.dev_files())
    files = devset.dev_files(args.half)
    began = time.perf_counter()
    if args.bleed_gate:
        print(bleed_gate_report(files, args.half, args.bleed_gate))
    else:
        print(ablation_report(files, args.half) if args.ablation else main_report(files, args.half))
    load = os.getloadavg()[0]
    say(f"scored in {time.perf_counter() - began:.0f} s; 1-min load average {load:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
