"""Timing figures for the rhythm and score features. Prints figures; asserts nothing. Run under the
machine's timing lock, so that no other timing run overlaps:

    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/tempo_speed.py
    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/tempo_speed.py --against /tmp/before/layers

- rhythm: the engine's ``rhythm_s`` against its ``total_s`` on a 10-minute band piece (median of 3 warm
  runs), and the tracker's cold start (a fresh interpreter importing it and tracking once);
- score: ``write_musicxml`` of that piece's transcription (4000-odd notes), in a fresh interpreter, and
  the import of music21 alone;
- command line: whole-process wall time of ``midiscribe transcribe`` on a 40-s dev piece (MIDI, WAV,
  CSV, JSON; no score), median of 5 fresh processes, and which of music21 and librosa it imported.

``--against DIR`` times another checkout's package (``git archive <commit> layers | tar -x -C /tmp/before``
gives one) beside this one, alternating, with the bench-only packages (librosa and numba, which older
versions imported) on its path and a fresh numba cache per process, as a new Lambda container has.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import tempo_pieces  # noqa: E402
from engine import audio_seconds, ensure_fluidsynth, say  # noqa: E402
from tempo import BENCH_SITE, engine_fingerprint, ensure_bench_packages, render, transcribed  # noqa: E402

LAYERS = BENCH.parent / "layers"
SPEED_PIECE_S = 600.0
CLI_PIECE = 0  # index of the dev-set piece the command line is timed on
CLI_ROUNDS = 5
SCORE_ROUNDS = 3

# Run in a fresh interpreter: the 10-minute transcription's score, written from its cached notes.
SCORE_TIMER = """
import sys, time, io
import numpy as np
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.rhythm import track_rhythm
from midiscribe.engine.transcription import NoteEvent, Transcription
data = np.load(sys.argv[1])
notes = [NoteEvent(float(s), float(e), int(p), float(a)) for s, e, p, a in data["notes"]]
rhythm = track_rhythm(data["onset"], notes, float(data["duration"]))
transcription = Transcription(notes, float(data["duration"]), TranscriptionOptions(score=True), rhythm=rhythm)
started = time.perf_counter()
transcription.write_musicxml(io.BytesIO())
print(time.perf_counter() - started)
"""
TRACKER_COLD_START = """
import time
started = time.perf_counter()
import numpy as np
from midiscribe.engine.beats import track_pulse
track_pulse(np.random.default_rng(0).random(2000))
print(time.perf_counter() - started)
"""


def speed_piece() -> Path:
    piece = tempo_pieces.make_piece(7, "4/4", 104.0, "steady", "band", seconds=SPEED_PIECE_S, drums=True)
    piece.name = f"speed-{int(SPEED_PIECE_S)}s"
    return render(piece, 0)


def environment(layers: Path) -> dict[str, str]:
    """This process's environment with ``layers`` first on the path (and the bench-only packages after
    it for another checkout), and a numba cache of its own."""
    path = str(layers) if layers == LAYERS else os.pathsep.join((str(layers), str(BENCH_SITE)))
    return {**os.environ, "PYTHONPATH": path, "NUMBA_CACHE_DIR": tempfile.mkdtemp(prefix="numba-")}


def fresh_seconds(layers: Path, code: str, *arguments: str) -> float:
    """What ``code`` prints (seconds) when run in a fresh interpreter on ``layers``."""
    result = subprocess.run([sys.executable, "-c", code, *arguments], env=environment(layers),
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def command_line(layers: Path, audio: Path) -> tuple[float, set[str]]:
    """Wall time of ``midiscribe transcribe`` in a new process, and which heavy packages it imported."""
    output = tempfile.mkdtemp(prefix="midiscribe-cli-")
    code = ("import sys; from midiscribe.cli import main; "
            f"sys.argv = ['midiscribe', 'transcribe', {str(audio)!r}, '-o', {output!r}, '-q']; sys.exit(main())")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=environment(layers),
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return seconds, {name for name in ("music21", "librosa", "numba") if name in imported}


def rhythm_share(audio: Path) -> None:
    from midiscribe.engine import transcribe

    transcribe(audio)  # warm-up: the model session
    runs = [transcribe(audio).timings for _ in range(3)]
    rhythm = statistics.median(run["rhythm_s"] for run in runs)
    total = statistics.median(run["total_s"] for run in runs)
    print(f"rhythm on the 10-minute file ({audio.name}), median of 3 warm runs: {rhythm:.3f} s of {total:.2f} s "
          f"= {rhythm / total:.2%} (target <= 5 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout's layers/ folder to time beside this one")
    args = parser.parse_args()
    ensure_fluidsynth()
    if args.against:
        ensure_bench_packages()
    versions = {"this checkout": LAYERS} | ({f"{args.against}": args.against.resolve()} if args.against else {})
    load_before = os.getloadavg()
    long_audio = speed_piece()
    transcribed(long_audio)  # the cached notes and onset strength the score timer reads
    cached = long_audio.with_suffix(f".ours-{engine_fingerprint()}.npz")  # as tempo.transcribed names it
    rhythm_share(long_audio)
    cli_audio = render(tempo_pieces.dev_set()[CLI_PIECE], CLI_PIECE)
    for name, layers in versions.items():
        cold = fresh_seconds(layers, TRACKER_COLD_START)
        print(f"[{name}] tracker cold start (fresh interpreter: import, first call): {cold:.2f} s")
    music21_import = fresh_seconds(LAYERS, "import time; t = time.perf_counter(); import music21; "
                                           "print(time.perf_counter() - t)")
    print(f"import music21 alone: {music21_import:.2f} s")
    for name, layers in versions.items():
        runs = [fresh_seconds(layers, SCORE_TIMER, str(cached)) for _ in range(SCORE_ROUNDS)]
        print(f"[{name}] score of the 10-minute transcription: write_musicxml {statistics.median(runs):.2f} s "
              f"(median of {SCORE_ROUNDS} fresh processes: {', '.join(f'{run:.1f}' for run in runs)})")
    timings: dict[str, list[float]] = {name: [] for name in versions}
    imports: dict[str, set[str]] = {}
    for round_index in range(CLI_ROUNDS):
        order = list(versions) if round_index % 2 == 0 else list(versions)[::-1]
        for name in order:
            seconds, imports[name] = command_line(versions[name], cli_audio)
            timings[name].append(seconds)
    for name, runs in timings.items():
        print(f"[{name}] midiscribe transcribe {cli_audio.name} ({audio_seconds(cli_audio):.0f} s of audio), "
              f"whole process, median of {CLI_ROUNDS}: {statistics.median(runs):.2f} s "
              f"({', '.join(f'{run:.1f}' for run in runs)}); imported: {', '.join(sorted(imports[name])) or 'neither music21 nor librosa'}")
    say(f"done; load before {load_before}, after {os.getloadavg()}")
    print(f"load (1, 5, 15 min): before {tuple(round(x, 1) for x in load_before)}, "
          f"after {tuple(round(x, 1) for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
