"""Piano model benchmark: midiscribe's torch-free transkun port against transkun 2.0.1 itself. Figures, no assertions.

    .venv/bin/python bench/piano.py hops        F1 of each segment hop on the choosing half of the dev set
    .venv/bin/python bench/piano.py accuracy    piano vs general, and parity with transkun, on the reporting half
    .venv/bin/python bench/piano.py parity      the networks against transkun on 6 more pieces (18 files)
    .venv/bin/python bench/piano.py parity --parity-seeds 106-117   the same on 12 others (36 files)
    .venv/bin/python bench/piano.py speed       whole-process time against transkun on 30 s and 10 min (alternating)
    .venv/bin/python bench/piano.py memory      peak RSS on 10 and 60 minutes; cold start to model ready
    .venv/bin/python bench/piano.py threads     compute seconds per audio second with 1 and 2 CPUs
    .venv/bin/python bench/piano.py stages      where the time goes: each stage per segment, the network by operator
    .venv/bin/python bench/piano.py all
    MIDISCRIBE_PIANO_INT8=auto .venv/bin/python bench/piano.py parity   the 8-bit network too (a CPU with VNNI)

The piano model runs its float32 network unless MIDISCRIBE_PIANO_INT8 is auto (engine/piano/model.py
``network_file``); with auto on a CPU with VNNI, accuracy and parity score the 8-bit network and the float32 one
side by side, and speed times the 8-bit one.

It sets up what it needs: the reference venv (bench/.venv-piano-ref: ``python3.11 -m venv``, torch
2.13.0 from local disk, transkun 2.0.1 without its dependencies, what transkun imports, a shim for
``torchaudio.functional.melscale_fbanks`` and mir_eval for the metrics), FluidSynth and three General
MIDI sound fonts, and the audio: pieces from bench/piano_pieces.py rendered under bench/.cache/piano/.
The dev set is split by piece: even seeds choose settings (the hop), odd seeds report. Timing runs
are wrapped in ``flock /tmp/midiscribe-timing.lock`` and record the load average.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

# numpy's BLAS on one thread, as in `midiscribe`'s own processes (cli/__init__.py): the piano decoder splits its
# products over the CPUs itself. OpenBLAS reads it when numpy loads, so before anything imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from engine import SOUND_FONTS, ensure_fluidsynth  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache" / "piano"
REFERENCE_VENV = BENCH / ".venv-piano-ref"
REFERENCE_PYTHON = REFERENCE_VENV / "bin" / "python"
OUR_PYTHON = ROOT / ".venv" / "bin" / "python"
OUR_COMMAND = [str(ROOT / ".venv" / "bin" / "midiscribe"), "transcribe"]
TIMING_LOCK = "/tmp/midiscribe-timing.lock"
DEV_SEEDS = range(4)  # even: choose, odd: report
# The parity set (``parity``): more pieces, for the 8-bit network's agreement with transkun only. The dev set's
# sustain-pedal parity rests on 38 and 54 intervals per half, where one interval moves a file's share 8-33 points.
PARITY_SEEDS = range(100, 106)
# ``parity --parity-seeds 106-117``: twelve more pieces (36 files), for a pedal figure resting on more intervals.
WIDE_PARITY_SEEDS = range(106, 118)
DEV_SECONDS = 30
HOPS = (8.0, 9.0, 10.0, 12.0, 14.0)
REFERENCE_PACKAGES = ["moduleconf", "pretty_midi", "mir_eval", "scipy", "soxr", "soundfile", "mido", "numpy"]
TORCHAUDIO_SHIM = '''"""Shim for transkun in the bench venv: torchaudio.functional.melscale_fbanks only (no torchaudio matches torch 2.13)."""
import torch


def melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=None, mel_scale="htk"):
    """Triangular HTK-mel filters, (n_freqs, n_mels), unnormalised."""
    assert norm is None and mel_scale == "htk", "transkun uses HTK mels without normalisation"

    def to_mel(hz):
        return 2595.0 * torch.log10(1.0 + torch.as_tensor(float(hz)) / 700.0)

    freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    edges = 700.0 * (10 ** (torch.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2) / 2595.0) - 1.0)
    widths = edges[1:] - edges[:-1]
    distance = edges.unsqueeze(0) - freqs.unsqueeze(1)
    return torch.clamp(torch.minimum(-distance[:, :-2] / widths[:-1], distance[:, 2:] / widths[1:]), min=0)
'''

sys.path.insert(0, str(BENCH))


def say(message: str) -> None:
    print(f"[piano {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------------------------------
# Set-up


def ensure_reference_venv() -> None:
    probe = [str(REFERENCE_PYTHON), "-c", "import torch, transkun.ModelTransformer, mir_eval, torchaudio.functional"]
    if REFERENCE_PYTHON.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    python = shutil.which("python3.11")
    if python is None:
        raise SystemExit("the piano bench needs python3.11: torch 2.13.0's CPU wheel is kept on disk for it")
    say(f"creating {REFERENCE_VENV} (torch 2.13.0 CPU from local disk, transkun 2.0.1 --no-deps)")
    subprocess.run([python, "-m", "venv", str(REFERENCE_VENV)], check=True)
    pip = [str(REFERENCE_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, "--no-deps", "transkun==2.0.1"], check=True)
    subprocess.run([*pip, *REFERENCE_PACKAGES], check=True)
    site = subprocess.run([str(REFERENCE_PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    shim = Path(site) / "torchaudio"
    (shim / "functional").mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").write_text("from . import functional  # noqa: F401\n")
    (shim / "functional" / "__init__.py").write_text(TORCHAUDIO_SHIM)
    subprocess.run(probe, check=True)


def render(name: str, seed: int, seconds: float, font: str) -> tuple[Path, Path]:
    """(audio, ground truth) for a piece, rendered once and cached."""
    import piano_pieces

    audio = CACHE / f"{name}-{font}.wav"
    truth = CACHE / f"{name}.truth.json"
    if audio.exists() and truth.exists():
        return audio, truth
    ensure_fluidsynth()
    CACHE.mkdir(parents=True, exist_ok=True)
    score = piano_pieces.piano_piece(seed, seconds)
    truth.write_text(json.dumps({"notes": [list(note) for note in score.notes],
                                 "pedals": [list(pedal) for pedal in score.pedals]}))
    midi = CACHE / f"{name}.mid"
    score.to_midi().save(midi)
    partial = audio.with_name(audio.name + ".part.wav")
    say(f"rendering {audio.name}")
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", "44100", "-T", "wav", "-F", str(partial),
                    str(SOUND_FONTS[font]), str(midi)], check=True, stdout=subprocess.DEVNULL)
    partial.replace(audio)
    return audio, truth


def dev_set(half: str, pieces: int | None = None) -> list[tuple[Path, Path]]:
    seeds = [seed for seed in DEV_SEEDS if (seed % 2 == 0) == (half == "choose")][:pieces]
    return [render(f"dev-{seed}", seed, DEV_SECONDS, font) for seed in seeds for font in SOUND_FONTS]


def parity_set(pieces: int | None = None, seeds: Sequence[int] = PARITY_SEEDS) -> list[tuple[Path, Path]]:
    return [render(f"parity-{seed}", seed, DEV_SECONDS, font) for seed in seeds[:pieces] for font in SOUND_FONTS]


def speed_file(seconds: int) -> Path:
    return render(f"speed-{seconds}s", 1000 + seconds, seconds, "fluidr3")[0]


# --------------------------------------------------------------------------------------------------
# Running and scoring


def events_of(transcription) -> dict:
    return {"notes": [[n.start_s, n.end_s, n.pitch, n.velocity] for n in transcription.notes],
            "pedals": [[p.start_s, p.end_s, p.controller] for p in transcription.pedals]}


def events_from_json(path: Path) -> dict:
    """midiscribe's notes JSON in the metrics' format."""
    document = json.loads(path.read_text())
    notes = [[n["start"], n["end"], n["pitch"], n["velocity"]] for i in document["instruments"] for n in i["notes"]]
    return {"notes": notes, "pedals": [[p["start"], p["end"], p["controller"]] for p in document.get("pedals", [])]}


def sounding_truth(truth: Path) -> Path:
    """The ground truth with each note extended while the sustain pedal holds it (what one hears)."""
    extended = truth.with_name(truth.name.replace(".truth", ".sounding"))
    if not extended.exists():
        from midiscribe.engine.sonify import sounding_ends
        from midiscribe.engine.transcription import NoteEvent, PedalEvent

        data = json.loads(truth.read_text())
        notes = [NoteEvent(start, end, pitch, velocity / 127, model_velocity=velocity)
                 for start, end, pitch, velocity in data["notes"]]
        pedals = [PedalEvent(int(controller), start, end) for start, end, controller in data["pedals"]]
        ends = sounding_ends(notes, pedals)
        data["notes"] = [[n.start_s, float(end), n.pitch, n.velocity] for n, end in zip(notes, ends, strict=True)]
        extended.write_text(json.dumps(data))
    return extended


def metrics(pairs: list[tuple[Path, Path]]) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as request:
        json.dump([{"est": str(est), "ref": str(ref)} for est, ref in pairs], request)
    try:
        result = subprocess.run([str(REFERENCE_PYTHON), str(BENCH / "piano_metrics.py"), request.name],
                                capture_output=True, text=True, check=True)
    finally:
        os.unlink(request.name)
    return json.loads(result.stdout)


def mean_of(results: list[dict], *keys: str) -> float:
    values = []
    for result in results:
        value = result
        for key in keys:
            value = value.get(key, {}) if isinstance(value, dict) else float("nan")
        values.append(value if isinstance(value, (int, float)) else float("nan"))
    return statistics.fmean(values) if values else float("nan")


def network_tag() -> str:
    """"-int8" where the piano model runs its 8-bit network (MIDISCRIBE_PIANO_INT8=auto on a CPU with VNNI;
    engine/piano/model.py), else "":
    the cached runs of the two are kept apart."""
    from midiscribe.engine.piano.model import INT8_NETWORK_FILE, model_dir, network_file

    return "-int8" if network_file(model_dir()).name == INT8_NETWORK_FILE else ""


_float32_model = None


def float32_model():
    """The piano model with its float32 network whatever the CPU."""
    global _float32_model
    if _float32_model is None:
        from midiscribe.engine.piano.model import load_piano_model

        _float32_model = load_piano_model(float32=True)
    return _float32_model


def piano_build() -> str:
    """The piano model's build (engine/piano/model.py's BUILD_VERSION): a cached run of another build is run again."""
    from midiscribe.engine.piano.model import BUILD_VERSION, MODEL_NAME

    return f"{MODEL_NAME} build {BUILD_VERSION}"


def run_ours_in_process(audio: Path, out: Path, **kwargs) -> Path:
    general = kwargs.pop("general", False)
    build = None if general else piano_build()
    if not out.exists() or json.loads(out.read_text()).get("build") != build:
        from midiscribe.engine import transcribe
        from midiscribe.engine.piano.pipeline import transcribe_piano

        transcription = transcribe(audio) if general else transcribe_piano(audio, **kwargs)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**events_of(transcription), **({"build": build} if build else {})}))
    return out


def run_reference(audio: Path, out: Path) -> Path:
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        say(f"transkun on {audio.name}")
        subprocess.run([str(REFERENCE_PYTHON), str(BENCH / "piano_reference.py"), "transcribe", str(audio), str(out)],
                       check=True, stderr=subprocess.DEVNULL)
    return out


def piano_runs(files: list[tuple[Path, Path]], *, float32: bool = False) -> list[Path]:
    """The piano model on each file at the default hop, cached: with the network this CPU runs (its runs kept
    apart from float32's, ``network_tag``), or with the float32 network whatever the CPU."""
    from midiscribe.engine.piano.pipeline import DEFAULT_HOP_SECONDS

    if float32:
        return [run_ours_in_process(a, CACHE / "runs" / "hop8" / f"{a.stem}.json", hop_seconds=8.0,
                                    model=float32_model()) for a, _ in files]
    tag = network_tag()
    return [run_ours_in_process(a, CACHE / "runs" / f"hop{DEFAULT_HOP_SECONDS:g}{tag}" / f"{a.stem}.json")
            for a, _ in files]


def parity_figures(agreement: list[dict]) -> dict:
    """Means per file of ``metrics`` run against transkun's output: note F1 (and the worst file's), velocities
    within 5, sustain intervals matched and sustain F1."""
    return {"note_f1": mean_of(agreement, "onset", "f1"),
            "min_note_f1": min(r["onset"]["f1"] for r in agreement),
            "velocity_within_5": mean_of(agreement, "velocity_within_5"),
            "sustain_matched": mean_of(agreement, "sustain", "recall"),
            "sustain_f1": mean_of(agreement, "sustain", "f1")}


# --------------------------------------------------------------------------------------------------
# The figures


def hops() -> dict:
    """F1 against the ground truth and against transkun's own hop (8 s) for each hop, choosing half only."""
    files = dev_set("choose")
    tag = network_tag()
    rows = {}
    for hop in HOPS:
        outs = [run_ours_in_process(audio, CACHE / "runs" / f"hop{hop:g}{tag}" / f"{audio.stem}.json",
                                    hop_seconds=hop) for audio, _ in files]
        truth = metrics([(out, gt) for out, (_, gt) in zip(outs, files, strict=True)])
        baseline = [CACHE / "runs" / f"hop8{tag}" / f"{audio.stem}.json" for audio, _ in files]
        agreement = metrics(list(zip(outs, baseline, strict=True)))
        rows[hop] = {"onset_f1": mean_of(truth, "onset", "f1"), "onset_offset_f1": mean_of(truth, "onset_offset", "f1"),
                     "velocity_f1": mean_of(truth, "velocity", "f1"), "sustain_f1": mean_of(truth, "sustain", "f1"),
                     "f1_vs_hop8": mean_of(agreement, "onset", "f1"),
                     "velocity_within_5_vs_hop8": mean_of(agreement, "velocity_within_5"),
                     "segments_per_minute": 60.0 / hop}
        say(f"hop {hop:g} s: {rows[hop]}")
    print("\n| hop (s) | segments per minute | onset F1 | onset+offset F1 | velocity F1 | sustain F1 | note F1 vs hop 8 |")
    print("|---|---|---|---|---|---|---|")
    for hop, row in rows.items():
        print(f"| {hop:g} | {row['segments_per_minute']:.1f} | {row['onset_f1']:.3f} | {row['onset_offset_f1']:.3f} | "
              f"{row['velocity_f1']:.3f} | {row['sustain_f1']:.3f} | {row['f1_vs_hop8']:.4f} |")
    return rows


def accuracy(pieces: int | None = None) -> dict:
    """Reporting half: piano vs general against the ground truth, and the piano model against transkun. Where
    the piano model runs its 8-bit network (MIDISCRIBE_PIANO_INT8=auto, a CPU with VNNI), its float32 network is
    scored beside it."""
    from midiscribe.engine.piano.pipeline import DEFAULT_HOP_SECONDS

    files = dev_set("report", pieces)
    tag = network_tag()
    piano = piano_runs(files)
    general = [run_ours_in_process(a, CACHE / "runs" / "general" / f"{a.stem}.json", general=True) for a, _ in files]
    reference = [run_reference(a, CACHE / "runs" / "transkun" / f"{a.stem}.json") for a, _ in files]
    exact = piano_runs(files, float32=True)
    piano_rows = [("piano", piano)] + ([("piano, float32 network", exact)] if tag else [])
    parity_rows = ([(f"hop {DEFAULT_HOP_SECONDS:g}, 8-bit network", piano), ("hop 8, float32 network", exact)] if tag
                   else [(f"hop {DEFAULT_HOP_SECONDS:g}", piano), ("hop 8", exact)])
    results = {}
    for name, outs in (*piano_rows, ("general", general), ("transkun", reference)):
        truth = metrics([(out, gt) for out, (_, gt) in zip(outs, files, strict=True)])
        sounding = metrics([(out, sounding_truth(gt)) for out, (_, gt) in zip(outs, files, strict=True)])
        results[name] = {"onset_f1": mean_of(truth, "onset", "f1"),
                         "onset_offset_f1": mean_of(truth, "onset_offset", "f1"),
                         "onset_offset_sounding_f1": mean_of(sounding, "onset_offset", "f1"),
                         "velocity_f1": mean_of(truth, "velocity", "f1"),
                         "sustain_f1": mean_of(truth, "sustain", "f1")}
    for name, outs in parity_rows:
        results[f"parity {name}"] = parity_figures(metrics(list(zip(outs, reference, strict=True))))
    print(f"\nReporting half: {len(files)} files ({len(files) // len(SOUND_FONTS)} pieces × {len(SOUND_FONTS)} sound fonts, "
          f"{DEV_SECONDS} s each); mean per file\n")
    print("| model | onset F1 | onset+offset F1 (key release) | onset+offset F1 (sounding) | velocity F1 | sustain pedal F1 |")
    print("|---|---|---|---|---|---|")
    for name in (*(name for name, _ in piano_rows), "general", "transkun"):
        row = results[name]
        print(f"| {name} | {row['onset_f1']:.3f} | {row['onset_offset_f1']:.3f} | {row['onset_offset_sounding_f1']:.3f} | "
              f"{row['velocity_f1']:.3f} | {row['sustain_f1']:.3f} |")
    print("\n| parity with transkun 2.0.1 | note F1 (mean / worst file) | velocity within ±5 | sustain intervals matched |")
    print("|---|---|---|---|")
    for name, _ in parity_rows:
        row = results[f"parity {name}"]
        print(f"| midiscribe, {name} | {row['note_f1']:.4f} / {row['min_note_f1']:.4f} | "
              f"{row['velocity_within_5']:.3f} | {row['sustain_matched']:.3f} |")
    return results


def parity(pieces: int | None = None, seeds: Sequence[int] = PARITY_SEEDS) -> dict:
    """The piano model's networks against transkun on the parity set (pieces neither half of the dev set has;
    ``seeds`` picks others): per file as ``accuracy`` reports it, and the sustain-pedal intervals pooled over
    every file, since a file holds only a few of them."""
    files = parity_set(pieces, seeds)
    reference = [run_reference(a, CACHE / "runs" / "transkun" / f"{a.stem}.json") for a, _ in files]
    rows = ([("8-bit network", piano_runs(files))] if network_tag() else []) + [
        ("float32 network", piano_runs(files, float32=True))]
    results = {}
    for name, outs in rows:
        agreement = metrics(list(zip(outs, reference, strict=True)))
        results[name] = {**parity_figures(agreement),
                         "min_sustain_matched": min(r["sustain"]["recall"] for r in agreement),
                         "sustain_intervals": sum(r["sustain"]["ref"] for r in agreement),
                         "sustain_intervals_matched": sum(round(r["sustain"]["recall"] * r["sustain"]["ref"])
                                                          for r in agreement),
                         "sustain_intervals_found": sum(r["sustain"]["est"] for r in agreement)}
    print(f"\nParity set (seeds {seeds[0]}-{seeds[-1]}): {len(files)} files ({len(files) // len(SOUND_FONTS)} pieces × "
          f"{len(SOUND_FONTS)} sound fonts, {DEV_SECONDS} s each), against transkun 2.0.1\n")
    print("| midiscribe | note F1 (mean / worst file) | velocity within ±5 | sustain matched (mean / worst file) | "
          "sustain intervals: matched / transkun's / found |")
    print("|---|---|---|---|---|")
    for name, _ in rows:
        row = results[name]
        print(f"| {name} | {row['note_f1']:.4f} / {row['min_note_f1']:.4f} | {row['velocity_within_5']:.3f} | "
              f"{row['sustain_matched']:.3f} / {row['min_sustain_matched']:.3f} | {row['sustain_intervals_matched']} / "
              f"{row['sustain_intervals']} / {row['sustain_intervals_found']} |")
    return results


@contextmanager
def timing_lock():
    """The machine's timing lock (what ``flock /tmp/midiscribe-timing.lock`` takes), held around a
    measurement, so that time spent waiting for other timing runs is not counted."""
    with open(TIMING_LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # A wrapper holding the same lock (``flock … bench/piano.py``) would wait here for ever.
            say(f"waiting for {TIMING_LOCK}: another timing run holds it. This bench takes the lock itself, "
                "so do not run it under flock.")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def measure(command: list[str], *, timed: bool = True):
    """Wall time and peak RSS of one process; timed runs hold the machine's timing lock."""
    from engine import measure as measure_process

    if not timed:
        return measure_process(command)
    with timing_lock():
        return measure_process(command)


def speed(rounds: int, long_rounds: int = 1) -> dict:
    """Whole process, ours against transkun's, alternating (who goes first, round by round), on a 30-second file
    ``rounds`` times and a 10-minute file ``long_rounds`` times."""
    results = {}
    for seconds, count in ((30, rounds), (600, long_rounds)):
        if count == 0:
            continue
        audio = speed_file(seconds)
        ours_times, theirs_times, ratios, loads = [], [], [], []
        with tempfile.TemporaryDirectory() as out:
            for round_index in range(count):
                sides = [("ours", [*OUR_COMMAND, "--model", "piano", str(audio), "-o", out, "-q"]),
                         ("theirs", [str(REFERENCE_PYTHON), str(BENCH / "piano_reference.py"), "transcribe",
                                     str(audio), str(Path(out) / "ref.json")])]
                if round_index % 2:
                    sides.reverse()
                walls = {}
                for side, command in sides:
                    loads.append(load_average())
                    run = measure(command)
                    if run.returncode != 0:
                        raise SystemExit(f"{side} failed on {audio.name}: {run.stderr_tail}")
                    walls[side] = run
                ours_times.append(walls["ours"].wall_s)
                theirs_times.append(walls["theirs"].wall_s)
                ratios.append(walls["theirs"].wall_s / walls["ours"].wall_s)
                say(f"{seconds} s round {round_index + 1}: ours {walls['ours'].wall_s:.1f} s "
                    f"({walls['ours'].peak_rss_mb:.0f} MB), transkun {walls['theirs'].wall_s:.1f} s "
                    f"({walls['theirs'].peak_rss_mb:.0f} MB), load {loads[-1]}")
        results[seconds] = {"ours_s": ours_times, "transkun_s": theirs_times, "ratio": statistics.median(ratios),
                            "ours_rss_mb": walls["ours"].peak_rss_mb, "transkun_rss_mb": walls["theirs"].peak_rss_mb,
                            "loads": loads}
    print("\n| file | midiscribe --model piano | transkun 2.0.1 | speed-up (median of rounds) | peak RSS ours / transkun |")
    print("|---|---|---|---|---|")
    for seconds, row in results.items():
        print(f"| {seconds} s | {statistics.median(row['ours_s']):.1f} s | {statistics.median(row['transkun_s']):.1f} s | "
              f"{row['ratio']:.2f}× | {row['ours_rss_mb']:.0f} / {row['transkun_rss_mb']:.0f} MB |")
    for seconds, row in results.items():
        print(f"{seconds} s: load averages before each run: {', '.join(row['loads'])}")
    return results


def memory(lengths: tuple[int, ...] = (600, 3600)) -> dict:
    """Peak RSS of the whole process on 10 and 60 minutes (not timed: they do not take the timing lock);
    cold start to a loaded model (timed)."""
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for seconds in lengths:
            audio = speed_file(seconds)
            run = measure([*OUR_COMMAND, "--model", "piano", str(audio), "-o", out, "-q"],
                          timed=False)
            results[f"{seconds}s"] = {"peak_rss_mb": run.peak_rss_mb, "wall_s": run.wall_s, "load": load_average()}
            say(f"{seconds} s: {results[f'{seconds}s']}")
    code = "import time\nfrom midiscribe.engine.piano.model import get_piano_model\nget_piano_model()\nprint(time.time())"
    starts = []
    for _ in range(5):
        with timing_lock():
            began = time.time()
            printed = subprocess.run([str(OUR_PYTHON), "-c", code], capture_output=True, text=True, check=True).stdout
        starts.append(float(printed.strip().splitlines()[-1]) - began)
    results["cold_start_s"] = statistics.median(starts)
    if lengths:
        print("\n| input | peak RSS | wall (shared machine, not a timing figure) |")
        print("|---|---|---|")
    for seconds in lengths:
        row = results[f"{seconds}s"]
        print(f"| {seconds // 60} min | {row['peak_rss_mb']:.0f} MB | {row['wall_s']:.0f} s (load {row['load']}) |")
    print(f"cold start to model ready (median of 5): {results['cold_start_s']:.2f} s; load {load_average()}")
    return results


def threads() -> dict:
    """Compute seconds per second of audio with 1 and 2 CPUs (taskset), the figure that sizes the worker."""
    audio = speed_file(120)
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for cpus in ("0", "0,1"):
            load = load_average()
            run = measure(["taskset", "-c", cpus, *OUR_COMMAND, "--model", "piano", str(audio), "-o", out, "-q"])
            results[cpus] = {"seconds_per_audio_second": run.wall_s / 120, "peak_rss_mb": run.peak_rss_mb, "load": load}
            say(f"CPUs {cpus}: {results[cpus]}")
    print("\n| CPUs | seconds of compute per second of piano audio | peak RSS | load before |")
    print("|---|---|---|---|")
    for cpus, row in results.items():
        print(f"| {len(cpus.split(','))} | {row['seconds_per_audio_second']:.3f} | {row['peak_rss_mb']:.0f} MB | {row['load']} |")
    return results


STAGES_SECONDS = 120
PROFILE_RUNS = 4
PROFILED_SEGMENT = 2  # the third segment: a whole 16 s of music, not the lead-in


def stages(seconds: int = STAGES_SECONDS) -> dict:
    """Where the piano model's time goes on the first ``seconds`` of the 10-minute speed file, in this process
    under the timing lock (numpy's BLAS on one thread, as ``midiscribe`` runs it): each stage of each segment one
    after another (front end, network, scorer, decoder, note heads), the same audio through ``transcribe_piano``,
    whose stages overlap in threads, and onnxruntime's own profile of the network on one segment, by operator."""
    import collections
    from concurrent.futures import ThreadPoolExecutor

    import onnxruntime as ort
    import soundfile

    from midiscribe.engine.audio import AudioStream
    from midiscribe.engine.model import available_cpus
    from midiscribe.engine.piano.config import SAMPLE_RATE
    from midiscribe.engine.piano.decode import decode
    from midiscribe.engine.piano.model import get_piano_model, model_dir, network_file, session_options
    from midiscribe.engine.piano.pipeline import DEFAULT_HOP_SECONDS, transcribe_piano
    from midiscribe.engine.piano.segments import SegmentPlan, Stitcher, segment_events, segments

    source = speed_file(600)
    info = soundfile.info(str(source))
    excerpt = CACHE / f"speed-{seconds}s-excerpt.wav"
    samples, rate = soundfile.read(str(source), frames=int(seconds * info.samplerate), dtype="float32")
    soundfile.write(str(excerpt), samples, rate)
    model = get_piano_model()
    network = network_file(model_dir())
    plan = SegmentPlan(DEFAULT_HOP_SECONDS)
    times: dict[str, list[float]] = {name: [] for name in ("front end", "network", "scorer", "decoder", "note heads")}
    load = load_average()
    with timing_lock():
        with AudioStream(str(excerpt), sample_rate=SAMPLE_RATE, mono=False) as audio, \
                ThreadPoolExecutor(available_cpus()) as pool:
            stitcher, shared, profiled = Stitcher(plan), None, None
            for begin_time, segment in segments(audio.blocks(), audio.info.channels, plan):
                began = time.perf_counter()
                features, shared = model.front_end.segment_features(segment, round(begin_time * SAMPLE_RATE), shared,
                                                                    plan.hop_frames)
                featured = time.perf_counter()
                context = model.network(features)
                networked = time.perf_counter()
                scores, singletons = model.scorer(context)
                scored = time.perf_counter()
                intervals = decode(scores, singletons, stitcher.start_frames, pool)
                decoded = time.perf_counter()
                attributes = model.heads(context, intervals.track, intervals.begin, intervals.end)
                finished = time.perf_counter()
                stitcher.add(*segment_events(intervals, attributes, begin_time))
                for name, (start, end) in zip(times, ((began, featured), (featured, networked), (networked, scored),
                                                      (scored, decoded), (decoded, finished)), strict=True):
                    times[name].append(end - start)
                if profiled is None or len(times["network"]) == PROFILED_SEGMENT + 1:
                    profiled = features  # the profile's segment: the third (the first where there are fewer)
        began = time.perf_counter()
        transcribe_piano(excerpt, model=model)
        overlapped = time.perf_counter() - began
        options = session_options(available_cpus())  # as the product's sessions, with the profiler on
        options.enable_profiling = True
        options.profile_file_prefix = str(CACHE / "network-profile")
        session = ort.InferenceSession(str(network), sess_options=options,
                                       providers=["CPUExecutionProvider"])
        for _ in range(PROFILE_RUNS):
            session.run(["context"], {"features": profiled})
        profile_path = Path(session.end_profiling())
    by_operator: collections.Counter = collections.Counter()
    for event in json.loads(profile_path.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_operator[event["args"]["op_name"]] += event["dur"] / 1e6 / PROFILE_RUNS
    profile_path.unlink()
    total = sum(sum(values) for values in times.values())
    kernels = sum(by_operator.values())
    print(f"\n{seconds} s of the 10-minute speed file, {len(times['network'])} segments, {network.name}, "
          f"load before {load}:\n")
    print("| stage, one after another | seconds | per segment (median) | share |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {sum(values):.2f} | {statistics.median(values):.3f} | {sum(values) / total:.1%} |")
    print(f"| all, one after another | {total:.2f} | | |")
    print(f"| all, overlapped (`transcribe_piano`) | {overlapped:.2f} | | |")
    print(f"\nThe network on one segment, onnxruntime's profile ({PROFILE_RUNS} runs; kernel time {kernels:.3f} s a run):\n")
    print("| operator | seconds a run | share |")
    print("|---|---|---|")
    for name, value in by_operator.most_common(12):
        print(f"| {name} | {value:.3f} | {value / kernels:.1%} |")
    return {"seconds": seconds, "load": load, "stages_s": {name: sum(values) for name, values in times.items()},
            "overlapped_s": overlapped, "operators_s": dict(by_operator), "network_file": network.name}


def seed_range(text: str) -> range:
    """``FIRST-LAST`` (inclusive) or one seed."""
    first, _, last = text.partition("-")
    try:
        bounds = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed or a range of them like 106-117") from None
    if bounds[1] < bounds[0]:
        raise argparse.ArgumentTypeError(f"{text!r} ends before it starts")
    return range(bounds[0], bounds[1] + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["hops", "accuracy", "parity", "speed", "memory", "threads", "stages", "all"])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds on the 30-second file (0: the 10-minute file only)")
    parser.add_argument("--minutes", type=int, nargs="*", default=[10, 60],
                        help="input lengths for memory (none: the cold start only)")
    parser.add_argument("--pieces", type=int, default=None,
                        help="accuracy, parity: only the first N pieces of the half or of the parity set")
    parser.add_argument("--long-rounds", type=int, default=1,
                        help="speed: alternating rounds on the 10-minute file (0: the 30-second file only)")
    parser.add_argument("--parity-seeds", type=seed_range, default=PARITY_SEEDS, metavar="FIRST-LAST",
                        help=f"parity: the pieces of these seeds (default {PARITY_SEEDS[0]}-{PARITY_SEEDS[-1]}; "
                             f"{WIDE_PARITY_SEEDS[0]}-{WIDE_PARITY_SEEDS[-1]} is a second set)")
    args = parser.parse_args(argv)
    ensure_reference_venv()
    subprocess.run([*OUR_COMMAND[:1], "fetch-model"], check=True)
    results = {}
    for what in (["hops", "accuracy", "parity", "speed", "memory", "threads", "stages"] if args.what == "all"
                 else [args.what]):
        results[what] = {"hops": hops, "accuracy": lambda: accuracy(args.pieces),
                         "parity": lambda: parity(args.pieces, args.parity_seeds),
                         "speed": lambda: speed(args.rounds, args.long_rounds),
                         "memory": lambda: memory(tuple(60 * minutes for minutes in args.minutes)), "threads": threads,
                         "stages": stages}[what]()
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / f"results-{args.what}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
