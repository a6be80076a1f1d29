"""Stems bench: a four-stem piece (drums, bass, piano, flute) transcribed stem by stem and all together.

    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/stems.py            # figures for the README
    .venv/bin/python bench/stems.py --seconds 30 --runs 1                        # a quick look

The pieces are bench/pieces.py's "band" style without its string pad: piano comping, a fingered bass,
a flute melody and a drum kit. Each part is written to its own MIDI file and rendered on its own with
FluidSynth (FluidR3_GM), as a separation or a multitrack session would deliver it, cached under
bench/.cache/stems/.

It reports, for each pitched stem, note F1 against the stem's own MIDI (onsets within 50 ms, same pitch,
matched one to one) when the stem is transcribed alone with ``transcribe`` and as a track of
``transcribe_stems``; the drums' onset F1 per class; and two timings, medians of ``--runs`` rounds
whose orders alternate:

- in one process (model and drum templates loaded first): ``transcribe_stems`` on the four stems
  against the four transcribed one after another, with the CPU time each took and the floor that sets
  (together's CPU time spread over every CPU, as a share of one after another's wall time);
- as a user runs it: one ``midiscribe transcribe --stem …`` process against four ``midiscribe
  transcribe STEM --instrument FAMILY`` processes one after another, all writing every output.

With ``--http`` it measures the same through the API instead, on the local stack (``midiscribe serve``
on a loopback port, one worker): four ``POST /v1/audio_to_midi`` requests, one per stem with its
``instrument``, each waited for before the next, against one request carrying the four stems as a
``stems`` list (every stem uploaded once beforehand with ``POST /v1/uploads``, untimed); wall time from the first byte sent to COMPLETED seen on ``/v1/byId`` (polled
every 0.2 s), and each pitched track's note F1 read back from the notes JSON against the stem's alone.

    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/stems.py --http --seconds 60 --runs 3

With ``--http --slow-stem MBPS`` it times one 4-stem request whose flute is an ``audio_url`` on a 127.0.0.1
server sending MBPS megabytes a second (a slow host), the other three uploaded: what a stem still downloading
costs the others. ``--against DIR`` runs a second stack from another checkout (``git archive <commit> | tar -x
-C DIR``) beside this tree's, alternating request by request; medians of ``--runs``.

    git archive <commit> | tar -x -C /tmp/before
    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/stems.py --http --slow-stem 2 --keys --seconds 60 \
        --runs 3 --against /tmp/before

With ``--keys`` the comping part is rendered as an electric piano and named ``keys``, so the general
model transcribes it instead of the piano model (the issue's "piano or keys"); every mode takes it.

With ``--rests`` it measures what digital silence costs: the same stems, and copies in which the parts
rest (muted to exact zeros, as a DAW or a multitrack session exports a part that does not play: the flute
for 45 % of the piece, the bass for its first eighth, the comping part for its last fifth); each pitched
stem alone and the four together, medians of ``--runs`` alternating rounds, with the model windows that
ran and that reused the first silent window's outputs.

    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/stems.py --rests --keys --seconds 60

With ``--bleed`` it measures the stems' bleed rules: each pitched stem that the general model transcribes,
with its rests (as ``--rests``), and the other three stems leaking into it at 20, 30 and 40 dB below their
own level, as a separation's leftovers or another instrument's microphone would; note F1 against the
stem's own part (outside its rests) for each level gate and cross-stem margin (engine/stems.py), the one
``transcribe_stems`` applies in bold. With ``--dynamics`` the same grid on stems without leakage whose
velocities go from pp to ff (a crescendo, or a quiet middle section): what the rules cost a part's quiet
passages. With ``--doubles``, on the flute's part played in unison by an oboe stem 0 to 10 dB below it (the
oboe's F1): what they cost a doubled part. With ``--piano-bleed``, the cross-stem rule on the piano model's
stem (which has no level gate): the others leaking into it, and the parts from pp to ff.

    .venv/bin/python bench/stems.py --bleed --keys --seconds 30 --seeds 21 23 25   # the tuning half
    .venv/bin/python bench/stems.py --bleed --keys --seconds 30 --seeds 22 24 26   # held back
    .venv/bin/python bench/stems.py --bleed --keys --seconds 60 --seeds 11         # tuning; 12 is held back
    .venv/bin/python bench/stems.py --dynamics --seconds 30 --seeds 21 23 25        # tuning; 22 24 26 held back
    .venv/bin/python bench/stems.py --doubles --seconds 30 --seeds 21 23 25         # tuning; 22 24 26 held back
    .venv/bin/python bench/stems.py --piano-bleed --seconds 30 --seeds 22 24 26     # held back

With ``--tempo`` it scores only the rhythm of each piece's four stems transcribed together (tracked from
all the stems' notes, drum hits read as drums): tempo within 4 % of the piece's and mir_eval's beat
F-measure against its quarter notes, the time signature and the downbeat F-measure against its 4/4 bars.

    .venv/bin/python bench/stems.py --tempo --seconds 30 --seeds 21 22 23 24 25 26

Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache" / "stems"
sys.path.insert(0, str(BENCH))

import drums as drum_bench  # noqa: E402
import pieces  # noqa: E402
from engine import SOUND_FONT, ensure_fluidsynth, measure, our_command  # noqa: E402

# Channel of each stem in pieces.band(), and the name the stem is given (the name picks its family).
STEMS = {"drums": pieces.DRUM_CHANNEL, "bass": 1, "piano": 0, "flute": 3}
# With --keys the comping part is an electric piano named "keys": the general model transcribes it
# (family electric_piano) instead of the piano model.
KEYS_STEMS = {("keys" if name == "piano" else name): channel for name, channel in STEMS.items()}
ELECTRIC_PIANO_1 = 4
TOLERANCE_S = 0.05


def say(message: str) -> None:
    print(f"[stems {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _silence_wav() -> bytes:
    import io

    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(44100, dtype=np.float32), 44100, format="WAV")
    return buffer.getvalue()


def rendered_stems(seconds: int, seed: int, keys: bool = False) -> dict[str, tuple[Path, list[tuple[float, int]]]]:
    """Each stem's WAV and its reference notes (seconds, pitch), rendered once and cached."""
    folder = CACHE / f"band-{seconds}s-{seed}{'-keys' if keys else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    score = pieces.band(np.random.default_rng(seed), seconds)
    if keys:
        score.programs[0] = ELECTRIC_PIANO_1
    seconds_per_beat = 60.0 / score.tempo_bpm
    result = {}
    for name, channel in (KEYS_STEMS if keys else STEMS).items():
        wav = folder / f"{name}.wav"
        part = pieces.Score(score.tempo_bpm, {c: p for c, p in score.programs.items() if c == channel},
                            [note for note in score.notes if note[2] == channel])
        reference = [(start * seconds_per_beat, pitch) for start, _, _, pitch, _ in part.notes]
        render_part(part, wav)
        result[name] = (wav, reference)
    return result


def render_part(part, wav: Path) -> None:
    """``part`` (a pieces.Score) rendered to ``wav`` with FluidSynth, unless it is there already."""
    if wav.exists():
        return
    midi = wav.with_suffix(".mid")
    part.to_midi().save(midi)
    say(f"rendering {wav.parent.name}/{wav.name}")
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-T", "wav", "-F", str(wav),
                    str(SOUND_FONT), str(midi)], check=True, stdout=subprocess.DEVNULL)


def note_f1(reference: list[tuple[float, int]], notes) -> float:
    """Note F1: same pitch, onsets within 50 ms, one to one (pitch by pitch, a maximum matching)."""
    hits = 0
    for pitch in {p for _, p in reference} | {n.pitch for n in notes}:
        ref = np.array([t for t, p in reference if p == pitch])
        est = np.array([n.start_s for n in notes if n.pitch == pitch])
        hits += drum_bench.matched(ref, est, TOLERANCE_S)
    total = len(reference) + len(notes)
    return 2 * hits / total if total else float("nan")


def cpu_seconds() -> float:
    """User and system CPU time of this process so far, every thread's (the stems' and the model calls')."""
    times = os.times()
    return times.user + times.system


def sequential(stems: dict) -> tuple[float, dict]:
    """Each stem on its own, one after another: wall time and the results."""
    from midiscribe.engine import TranscriptionOptions, transcribe, transcribe_drums
    from midiscribe.engine.instruments import family_for_stem
    from midiscribe.engine.stems import stem_options

    began = time.perf_counter()
    results = {}
    for name, (wav, _) in stems.items():
        if name == "drums":
            results[name] = transcribe_drums(wav)
        else:
            results[name] = transcribe(wav, stem_options(TranscriptionOptions(), family_for_stem(name)))
    return time.perf_counter() - began, results


def together(stems: dict):
    from midiscribe.engine import transcribe_stems

    began = time.perf_counter()
    result = transcribe_stems([(name, wav) for name, (wav, _) in stems.items()])
    return time.perf_counter() - began, result


def processes(stems: dict, out: Path) -> tuple[float, float]:
    """(four CLI runs one after another, one CLI run with four --stem), wall seconds, every output written."""
    from midiscribe.engine.instruments import family_for_stem

    command = our_command()
    began = time.perf_counter()
    for name, (wav, _) in stems.items():
        run = measure([*command, str(wav), "--instrument", family_for_stem(name).value, "-o", str(out / "alone"), "-q"])
        if run.returncode != 0:
            raise SystemExit(f"midiscribe transcribe {wav.name} failed:\n{run.stderr_tail}")
    alone_s = time.perf_counter() - began
    stem_flags = [flag for name, (wav, _) in stems.items() for flag in ("--stem", f"{name}={wav}")]
    run = measure([*command, *stem_flags, "-o", str(out / "together"), "-q"])
    if run.returncode != 0:
        raise SystemExit(f"midiscribe transcribe --stem … failed:\n{run.stderr_tail}")
    return alone_s, run.wall_s


class Api:
    """The local stack's API, as a client uses it: submit, poll byId, read the notes JSON back."""

    POLL_S = 0.2

    def __init__(self, url: str, key: str):
        self.url, self.headers = url, {"Authorization": key}
        self.task_s: list[float] = []  # each completed task's own time, createdAt to updatedAt (no polling slack)

    def transcribe(self, **request) -> tuple[float, dict]:
        """Wall seconds from submitting to COMPLETED seen, and the task's notes JSON; the task's time from being
        recorded to being completed, by the service's own stamps (milliseconds), goes on :attr:`task_s`."""
        import requests

        from midiscribe.domain.timestamps import epoch_ms

        began = time.perf_counter()
        answer = requests.post(f"{self.url}/v1/audio_to_midi", headers=self.headers, timeout=120, **request)
        if answer.status_code != 200:
            raise SystemExit(f"submission refused: {answer.status_code} {answer.text[:300]}")
        task_id = answer.json()["task_id"]
        while True:
            conversion = requests.get(f"{self.url}/v1/byId", headers=self.headers, timeout=60,
                                      params={"task_id": task_id}).json()["conversion"]
            if conversion["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(self.POLL_S)
        wall_s = time.perf_counter() - began
        if conversion["status"] != "COMPLETED":
            raise SystemExit(f"task {task_id} failed: {conversion.get('error')}")
        self.task_s.append((epoch_ms(conversion["updatedAt"]) - epoch_ms(conversion["createdAt"])) / 1000)
        return wall_s, requests.get(conversion["notes_json_path"], timeout=60).json()


def json_notes(instrument: dict) -> list:
    """An instrument's notes from the notes JSON, as note_f1 reads them."""
    from types import SimpleNamespace

    return [SimpleNamespace(pitch=note["pitch"], start_s=note["start"]) for note in instrument["notes"]]


def http_row(api: Api, stems: dict, runs: int, piece: str) -> dict:
    """One piece through the API: four single requests one after another against one four-stem request."""
    from midiscribe.client import MidiscribeClient
    from midiscribe.engine.instruments import family_for_stem

    # Four stems of CD audio pass one request's 10 MB: each is uploaded once (POST /v1/uploads), untimed,
    # and both ways name the uploads by audio_path.
    client = MidiscribeClient(api.url, api.headers["Authorization"])
    paths = {name: client.upload(wav) for name, (wav, _) in stems.items()}

    def alone() -> tuple[float, dict]:
        total, documents = 0.0, {}
        for name, path in paths.items():
            seconds, documents[name] = api.transcribe(
                json={"audio_path": path, "instrument": family_for_stem(name).value})
            total += seconds
        return total, documents

    def together() -> tuple[float, dict]:
        return api.transcribe(json={"stems": [{"name": name, "audio_path": path} for name, path in paths.items()]})

    alone_s, together_s, alone_task_s, together_task_s = [], [], [], []
    for run in range(runs):
        for step in ((alone, together) if run % 2 == 0 else (together, alone)):
            del api.task_s[:]
            seconds, result = step()
            if step is alone:
                alone_s.append(seconds)
                alone_task_s.append(sum(api.task_s))
                singles = result
            else:
                together_s.append(seconds)
                together_task_s.append(sum(api.task_s))
                combined = {instrument["stem"]: instrument for instrument in result["instruments"]}
    row = {"piece": piece, "alone_s": statistics.median(alone_s), "together_s": statistics.median(together_s),
           "ratios": [round(four / one, 3) for one, four in zip(alone_s, together_s, strict=True)],
           "alone_task_s": statistics.median(alone_task_s), "together_task_s": statistics.median(together_task_s),
           "task_ratios": [round(four / one, 3) for one, four in zip(alone_task_s, together_task_s, strict=True)],
           "tracks": [instrument["name"] for instrument in combined.values()]}
    for name, (_, reference) in stems.items():
        if name != "drums":
            [single] = singles[name]["instruments"]
            row[name] = {"alone": round(note_f1(reference, json_notes(single)), 3),
                         "track": round(note_f1(reference, json_notes(combined[name])), 3)}
    return row


class SlowHost:
    """A 127.0.0.1 server sending one file at ``mbps`` megabytes a second, as a slow host would (an ``audio_url``)."""

    def __init__(self, path: Path, mbps: float):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        data, rate = path.read_bytes(), mbps * 1e6

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                began = time.perf_counter()
                for at in range(0, len(data), 65536):
                    self.wfile.write(data[at:at + 65536])
                    time.sleep(max(0.0, (at + 65536) / rate - (time.perf_counter() - began)))

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{path.name}"

    def close(self) -> None:
        self.server.shutdown()


def main_slow_stem(args: argparse.Namespace) -> int:
    """One 4-stem request whose flute comes from a slow host, the other stems uploaded: this tree's stack and,
    with --against, another checkout's, alternating request by request."""
    from load import start_stack

    from midiscribe.client import MidiscribeClient

    trees = {"this tree": None, **({args.against: Path(args.against)} if args.against else {})}
    stacks = {name: start_stack(workers=1, tree=tree) for name, tree in trees.items()}
    rows = []
    try:
        for seed in [None, *args.seeds]:  # None: a 10-s warm-up, untimed, so that models and templates are loaded
            stems = rendered_stems(10 if seed is None else args.seconds, args.seeds[0] if seed is None else seed,
                                   args.keys)
            host = SlowHost(stems["flute"][0], args.slow_stem)
            requests_by_tree = {}
            for name, (_, url, key) in stacks.items():
                client = MidiscribeClient(url, key)
                body = [{"name": stem, "audio_path": client.upload(wav)} for stem, (wav, _) in stems.items()
                        if stem != "flute"]
                requests_by_tree[name] = (Api(url, key), {"stems": [*body, {"name": "flute", "audio_url": host.url}]})
            seconds: dict[str, list[float]] = {name: [] for name in stacks}
            for run in range(1 if seed is None else args.runs):
                order = list(requests_by_tree) if run % 2 == 0 else list(reversed(requests_by_tree))
                for name in order:
                    api, body = requests_by_tree[name]
                    seconds[name].append(api.transcribe(json=body)[0])
            host.close()
            if seed is not None:
                row = {"piece": f"band-{args.seconds}s-{seed}", **{name: statistics.median(values)
                                                                   for name, values in seconds.items()}}
                rows.append(row)
                say(json.dumps({**row, "runs": seconds}))
    finally:
        for process, _, _ in stacks.values():
            process.send_signal(2)
            process.wait(timeout=60)
    load = os.getloadavg()
    print(f"\nOne 4-stem request, the flute from a host sending {args.slow_stem:g} MB/s, the others uploaded; "
          f"{args.seconds} s pieces; medians of {args.runs} alternating runs; load average {load[0]:.2f}, "
          f"{os.cpu_count()} CPUs")
    print("| piece | " + " | ".join(stacks) + " |")
    print("|---" * (1 + len(stacks)) + "|")
    for row in rows:
        print(f"| {row['piece']} | " + " | ".join(f"{row[name]:.2f} s" for name in stacks) + " |")
    return 0


def print_f1_header(title: str, args: argparse.Namespace, more_columns: str) -> None:
    """The figures' heading (with the load average) and the head of a table of pitched F1s, then ``more_columns``."""
    load = os.getloadavg()
    print(f"\n{title}, {args.seconds} s pieces, FluidR3_GM; medians of {args.runs} runs; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    print(f"| piece | bass F1 alone / as a track | {'keys' if args.keys else 'piano'} | flute | {more_columns} |")
    print("|---" * (5 + more_columns.count("|")) + "|")


def pitched_cells(row: dict) -> str:
    return " | ".join(f"{row[name]['alone']:.3f} / {row[name]['track']:.3f}"
                      for name in ("bass", "keys" if "keys" in row else "piano", "flute"))


def main_http(args: argparse.Namespace) -> int:
    from load import start_stack

    process, url, key = start_stack(workers=1)
    report = []
    try:
        api = Api(url, key)
        # Both models and the drum templates loaded before any timing.
        http_row(api, rendered_stems(10, args.seeds[0], args.keys), 1, "warm-up")
        for seed in args.seeds:
            row = http_row(api, rendered_stems(args.seconds, seed, args.keys), args.runs,
                           f"band-{args.seconds}s-{seed}{'-keys' if args.keys else ''}")
            report.append(row)
            say(json.dumps(row))
    finally:
        process.send_signal(2)
        process.wait(timeout=60)
    print_f1_header("Four stems through the API on the local stack (one worker)", args,
                    "four requests | one 4-stem request | ratio | the tasks' own times: four | one | ratio")
    for row in report:
        print(f"| {row['piece']} | {pitched_cells(row)} | {row['alone_s']:.2f} s | {row['together_s']:.2f} s | "
              f"{row['together_s'] / row['alone_s']:.2f} | {row['alone_task_s']:.2f} s | "
              f"{row['together_task_s']:.2f} s | {row['together_task_s'] / row['alone_task_s']:.2f} |")
    return 0


# Where each part rests in --rests, as fractions of the piece.
RESTS = {"flute": ((0.0, 0.25), (0.55, 0.75)), "bass": ((0.0, 0.125),), "keys": ((0.8, 1.0),),
         "piano": ((0.8, 1.0),)}


def stems_with_rests(stems: dict, folder: Path) -> dict:
    """Copies of ``stems`` whose parts rest as :data:`RESTS` says, as 16-bit WAVs in ``folder``."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, (wav, reference) in stems.items():
        audio, rate = soundfile.read(wav, dtype="int16")
        for begin, end in RESTS.get(name, ()):
            audio[int(begin * len(audio)):int(end * len(audio))] = 0
        soundfile.write(folder / wav.name, audio, rate, subtype="PCM_16")
        result[name] = (folder / wav.name, reference)
    return result


def main_rests(args: argparse.Namespace) -> int:
    from midiscribe.engine.model import get_session

    get_session()
    rows = []
    for seed in args.seeds:
        stems = rendered_stems(args.seconds, seed, args.keys)
        piece = f"band-{args.seconds}s-{seed}{'-keys' if args.keys else ''}"
        resting = stems_with_rests(stems, CACHE / "rests" / piece)
        times: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            for label, chosen in ((("full", stems), ("rests", resting)) if run % 2 == 0
                                  else (("rests", resting), ("full", stems))):
                _, results = sequential(chosen)
                for name, result in results.items():
                    if name != "drums":
                        times.setdefault((label, name), []).append(result.timings["total_s"])
                        windows = (result.timings["windows"], result.timings["silent_windows_skipped"])
                        times.setdefault((label, name, "windows"), windows)
                seconds, _ = together(chosen)
                times.setdefault((label, "together"), []).append(seconds)
        for name in [*(n for n in stems if n != "drums"), "together"]:
            row = {"piece": piece, "stem": name, "full_s": statistics.median(times[("full", name)]),
                   "rests_s": statistics.median(times[("rests", name)])}
            if name != "together":
                row["resting_share"] = sum(end - begin for begin, end in RESTS[name])
                row["windows"], row["skipped"] = times[("rests", name, "windows")]
            rows.append(row)
            say(json.dumps(row))
    load = os.getloadavg()
    print(f"\nDigital silence: the stems as rendered and with rests, {args.seconds} s pieces; medians of {args.runs} "
          f"runs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    print("| piece | stem | resting | model windows (reused) | as rendered | with rests | ratio |\n|---|---|---|---|---|---|---|")
    for row in rows:
        rest = f"{row['resting_share']:.0%}" if "resting_share" in row else "(the four together, with drums)"
        windows = f"{row['windows']:.0f} ({row['skipped']:.0f})" if "windows" in row else ""
        print(f"| {row['piece']} | {row['stem']} | {rest} | {windows} | {row['full_s']:.2f} s | {row['rests_s']:.2f} s | "
              f"{row['rests_s'] / row['full_s']:.2f} |")
    return 0


BLEED_LEAKS_DB = (20, 30, 40)
# The settings tried: the level gate (None: off) and the margin of the cross-stem rule (None: off).
BLEED_GATES_DB = (None, 25, 30, 35, 40)
# (margin, quiet): the cross-stem rule's margin (None: off) and how far below its stem's loud moments a note
# must start for the rule to take it.
BLEED_CROSS_SETTINGS = ((None, None), *((margin, quiet) for margin in (3, 6, 10) for quiet in (0, 10, 15, 20, 25)))
# --dynamics: each part's velocities scaled along the piece, pp (0.3) to ff (1.4, at most 127): a crescendo
# through the middle third, or a quiet middle section.
DYNAMICS = {"pp-cresc-ff": lambda x: 0.3 if x < 1 / 3 else 0.3 + 3.3 * (x - 1 / 3) if x < 2 / 3 else 1.4,
            "ff-pp-ff": lambda x: 0.3 if 0.35 <= x <= 0.7 else 1.4}


def metered_transcription(wav: Path, name: str):
    """(notes, levels, MeteredNotes) of one stem through its model (general or piano) with no bleed rule, metered
    as transcribe_stems meters it before its bleed rules."""
    from midiscribe.engine import TranscriptionOptions, transcribe
    from midiscribe.engine.constants import MODEL_SAMPLE_RATE
    from midiscribe.engine.instruments import family_for_stem
    from midiscribe.engine.piano.config import SAMPLE_RATE as PIANO_SAMPLE_RATE
    from midiscribe.engine.pipeline import LevelMeter
    from midiscribe.engine.stems import metered_notes, stem_options

    options = stem_options(TranscriptionOptions(), family_for_stem(name))
    meter = LevelMeter(PIANO_SAMPLE_RATE if options.transcriber == "piano" else MODEL_SAMPLE_RATE)
    notes = transcribe(wav, options, rhythm=False, level_meter=meter).notes
    levels = meter.levels_db()
    return notes, levels, metered_notes(notes, levels)


def bleed_rule_f1s(truth, notes, levels, metered, others) -> dict:
    """Note F1 for every (gate, margin) of the bleed rules, as transcribe_stems applies them: the level gate in
    the stem itself (also in ``others``, the other stems as (levels, MeteredNotes)), then the cross-stem rule."""
    from midiscribe.engine.pipeline import bleed_mask
    from midiscribe.engine.stems import MeteredNotes, cross_bleed_mask

    def gated(levels_, metered_, gate):
        keep = np.ones(metered_.starts_s.size, dtype=bool) if gate is None else bleed_mask(metered_.starts_s, levels_,
                                                                                             gate)
        return keep, MeteredNotes(metered_.starts_s[keep], metered_.pitches[keep], metered_.attacks_db[keep],
                                  metered_.loud_db)

    f1s = {}
    for gate in BLEED_GATES_DB:
        keep, mine = gated(levels, metered, gate)
        sources = [gated(other_levels, other, gate)[1] for other_levels, other in others]
        kept_notes = [note for note, k in zip(notes, keep, strict=True) if k]
        for margin, quiet in BLEED_CROSS_SETTINGS:
            cross = (np.ones(len(kept_notes), dtype=bool) if margin is None
                     else cross_bleed_mask(mine, sources, margin, quiet_db=quiet))
            f1s[(gate, margin, quiet)] = note_f1(truth, [note for note, k in zip(kept_notes, cross, strict=True) if k])
    return f1s


def print_bleed_grid(title: str, cases: list[dict]) -> None:
    from midiscribe.engine.stems import CROSS_BLEED_MARGIN_DB, CROSS_BLEED_QUIET_DB, STEM_BLEED_GATE_DB

    shipped = (STEM_BLEED_GATE_DB, CROSS_BLEED_MARGIN_DB, CROSS_BLEED_QUIET_DB)
    print(f"\n{title}: {len(cases)} cases; mean note F1 (and the largest drop of a case against no rule); "
          f"transcribe_stems applies a {shipped[0]:g}-dB gate, and drops a note {shipped[2]:g} dB below its stem's "
          f"loud moments that another stem has {shipped[1]:g} dB louder")
    print("| cross-stem rule | " + " | ".join("no level gate" if g is None else f"gate {g} dB" for g in BLEED_GATES_DB)
          + " |\n" + "|---" * (1 + len(BLEED_GATES_DB)) + "|")
    base = np.array([case[(None, None, None)] for case in cases])
    for margin, quiet in BLEED_CROSS_SETTINGS:
        cells = []
        for gate in BLEED_GATES_DB:
            scores = np.array([case[(gate, margin, quiet)] for case in cases])
            cell = f"{scores.mean():.3f} ({(scores - base).min():+.3f})"
            cells.append(f"**{cell}**" if (gate, margin, quiet) == shipped else cell)
        rule = "off" if margin is None else f"{margin} dB louder, {quiet} dB down"
        print(f"| {rule} | " + " | ".join(cells) + " |")


def main_bleed(args: argparse.Namespace) -> int:
    import soundfile

    from midiscribe.engine.instruments import Family, family_for_stem

    cases, rows = [], []
    for seed in args.seeds:
        stems = rendered_stems(args.seconds, seed, args.keys)
        audio = {name: soundfile.read(wav, dtype="float32")[0] for name, (wav, _) in stems.items()}
        length = min(len(samples) for samples in audio.values())
        pitched = [name for name in stems if family_for_stem(name) is not Family.DRUMS]
        general = [name for name in pitched if family_for_stem(name) is not Family.PIANO]
        # Every pitched stem is a source of bleed (the piano model's too); the general model's are checked.
        clean = {name: metered_transcription(stems[name][0], name) for name in pitched}
        for name in general:
            rests = RESTS[name]
            own = audio[name][:length].copy()
            for begin, end in rests:
                own[int(begin * length):int(end * length)] = 0
            seconds = length / 44100
            truth = [(t, p) for t, p in stems[name][1]
                     if not any(begin * seconds - TOLERANCE_S <= t < end * seconds for begin, end in rests)]
            others = sum(audio[other][:length] for other in audio if other != name)
            for leak in BLEED_LEAKS_DB:
                path = CACHE / "bleed.wav"
                soundfile.write(path, own + others * 10 ** (-leak / 20), 44100, subtype="FLOAT")
                notes, levels, metered = metered_transcription(path, name)
                f1s = bleed_rule_f1s(truth, notes, levels, metered,
                                     [clean[other][1:] for other in pitched if other != name])
                cases.append(f1s)
                rows.append({"piece": f"band-{args.seconds}s-{seed}", "stem": name, "leak_db": leak,
                             **{"/".join(map(str, key)): round(f1, 3) for key, f1 in f1s.items()}})
                say(json.dumps(rows[-1]))
    print_bleed_grid(f"Bleed: each general-model stem with the other stems leaking in at {BLEED_LEAKS_DB} dB, "
                     f"{args.seconds} s pieces, seeds {' '.join(map(str, args.seeds))}", cases)
    return 0


def dynamic_stems(seconds: int, seed: int, shape: str, keys: bool = True) -> dict[str, tuple[Path, list]]:
    """The band's pitched stems (bass, keys, flute; with ``keys=False`` bass, piano on the acoustic grand, flute)
    with velocities scaled by DYNAMICS[shape], rendered once and cached; reference notes as rendered_stems gives
    them."""
    folder = CACHE / f"band-{seconds}s-{seed}-{shape}{'' if keys else '-grand'}"
    folder.mkdir(parents=True, exist_ok=True)
    score = pieces.band(np.random.default_rng(seed), seconds)
    if keys:
        score.programs[0] = ELECTRIC_PIANO_1
    seconds_per_beat = 60.0 / score.tempo_bpm
    curve = DYNAMICS[shape]
    result = {}
    for name, channel in (KEYS_STEMS if keys else STEMS).items():
        if name == "drums":
            continue
        notes = [(start, length, c, pitch, round(velocity * curve(start * seconds_per_beat / seconds)))
                 for start, length, c, pitch, velocity in score.notes if c == channel]
        part = pieces.Score(score.tempo_bpm, {channel: score.programs[channel]}, notes)
        wav = folder / f"{name}.wav"
        render_part(part, wav)
        result[name] = (wav, [(start * seconds_per_beat, pitch) for start, _, _, pitch, _ in part.notes])
    return result


# --doubles: the flute's part played in unison by an oboe (General MIDI 68) at these levels against the flute.
DOUBLE_LEVELS_DB = (0, -3, -6, -10)
OBOE = 68


def main_doubles(args: argparse.Namespace) -> int:
    """What the bleed rules cost a part doubled in unison by another stem (an oboe under the flute), no bleed."""
    import soundfile

    cases = []
    for seed in args.seeds:
        stems = rendered_stems(args.seconds, seed, keys=True)
        score = pieces.band(np.random.default_rng(seed), args.seconds)
        part = pieces.Score(score.tempo_bpm, {KEYS_STEMS["flute"]: OBOE},
                            [note for note in score.notes if note[2] == KEYS_STEMS["flute"]])
        oboe = CACHE / f"band-{args.seconds}s-{seed}-keys" / "oboe.wav"
        render_part(part, oboe)
        samples, rate = soundfile.read(oboe, dtype="float32")
        others = {name: metered_transcription(wav, name) for name, (wav, _) in stems.items() if name != "drums"}
        for level in DOUBLE_LEVELS_DB:
            path = CACHE / "double.wav"
            soundfile.write(path, samples * 10 ** (level / 20), rate, subtype="FLOAT")
            notes, levels, mine = metered_transcription(path, "oboe")
            cases.append(bleed_rule_f1s(stems["flute"][1], notes, levels, mine, [o[1:] for o in others.values()]))
            say(json.dumps({"piece": f"band-{args.seconds}s-{seed}", "oboe_db": level,
                            **{"/".join(map(str, key)): round(f1, 3) for key, f1 in cases[-1].items()}}))
    print_bleed_grid(f"Doubles: the flute's part played by an oboe stem beside it at {DOUBLE_LEVELS_DB} dB (with the "
                     f"bass and keys stems), no bleed, {args.seconds} s pieces, seeds {' '.join(map(str, args.seeds))}",
                     cases)
    return 0


def main_piano_bleed(args: argparse.Namespace) -> int:
    """The cross-stem rule on a piano-model stem (no level gate there): the other stems leaking into the piano
    stem at BLEED_LEAKS_DB, and the band's parts from pp to ff with the comping part on the acoustic grand."""
    import soundfile

    from midiscribe.engine.stems import (
        CROSS_BLEED_MARGIN_DB,
        CROSS_BLEED_OCTAVE_MARGIN_DB,
        CROSS_BLEED_QUIET_DB,
    )

    shipped = (None, CROSS_BLEED_MARGIN_DB, CROSS_BLEED_QUIET_DB)
    rows: dict[str, list[tuple[float, float]]] = {"bleed": [], "dynamics": []}
    for seed in args.seeds:
        stems = rendered_stems(args.seconds, seed)
        audio = {name: soundfile.read(wav, dtype="float32")[0] for name, (wav, _) in stems.items()}
        length = min(len(samples) for samples in audio.values())
        sources = [metered_transcription(stems[name][0], name)[1:] for name in ("bass", "flute")]
        own = audio["piano"][:length].copy()
        for begin, end in RESTS["piano"]:
            own[int(begin * length):int(end * length)] = 0
        seconds = length / 44100
        truth = [(t, p) for t, p in stems["piano"][1]
                 if not any(begin * seconds - TOLERANCE_S <= t < end * seconds for begin, end in RESTS["piano"])]
        others = sum(audio[other][:length] for other in audio if other != "piano")
        for leak in BLEED_LEAKS_DB:
            path = CACHE / "bleed-piano.wav"
            soundfile.write(path, own + others * 10 ** (-leak / 20), 44100, subtype="FLOAT")
            f1s = bleed_rule_f1s(truth, *metered_transcription(path, "piano"), sources)
            rows["bleed"].append((f1s[(None, None, None)], f1s[shipped]))
        for shape in DYNAMICS:
            parts = {name: (reference, metered_transcription(wav, name))
                     for name, (wav, reference) in dynamic_stems(args.seconds, seed, shape, keys=False).items()}
            truth, metered = parts["piano"]
            f1s = bleed_rule_f1s(truth, *metered, [parts[other][1][1:] for other in ("bass", "flute")])
            rows["dynamics"].append((f1s[(None, None, None)], f1s[shipped]))
    print(f"\nThe piano model's stem, {args.seconds} s pieces, seeds {' '.join(map(str, args.seeds))}: mean note F1 "
          f"without the cross-stem rule and with it ({CROSS_BLEED_MARGIN_DB:g} dB louder at the same pitch, "
          f"{CROSS_BLEED_OCTAVE_MARGIN_DB:g} dB an octave off, {CROSS_BLEED_QUIET_DB:g} dB down), and the largest change "
          "of a case")
    for name, title in (("bleed", "the other stems leaking in at 20, 30 and 40 dB"), ("dynamics", "pp to ff, no bleed")):
        before, after = np.array(rows[name]).T
        print(f"| {title} ({len(before)} cases) | {before.mean():.3f} | {after.mean():.3f} | "
              f"{(after - before).min():+.3f} |")
    return 0


def main_dynamics(args: argparse.Namespace) -> int:
    """What the bleed rules cost where there is no bleed and the parts play from pp to ff."""
    cases = []
    for seed in args.seeds:
        for shape in DYNAMICS:
            stems = dynamic_stems(args.seconds, seed, shape)
            metered = {name: metered_transcription(wav, name) for name, (wav, _) in stems.items()}
            for name, (_, truth) in stems.items():
                notes, levels, mine = metered[name]
                cases.append(bleed_rule_f1s(truth, notes, levels, mine,
                                            [metered[other][1:] for other in stems if other != name]))
                say(json.dumps({"piece": f"band-{args.seconds}s-{seed}-{shape}", "stem": name,
                                **{"/".join(map(str, key)): round(f1, 3) for key, f1 in cases[-1].items()}}))
    print_bleed_grid(f"Dynamics: the band's general-model stems from pp to ff ({', '.join(DYNAMICS)}), no bleed, "
                     f"{args.seconds} s pieces, seeds {' '.join(map(str, args.seeds))}", cases)
    return 0


def main_tempo(args: argparse.Namespace) -> int:
    from tempo import ensure_bench_packages

    ensure_bench_packages()
    from tempo import beat_f, downbeat_f

    print("| piece | tempo | found | within 4 % | beat F | time signature | downbeat F |\n|---|---|---|---|---|---|---|")
    rights, scores, downbeat_scores = [], [], []
    for seed in args.seeds:
        stems = rendered_stems(args.seconds, seed, args.keys)
        score = pieces.band(np.random.default_rng(seed), args.seconds)
        beats = np.arange(int(args.seconds * score.tempo_bpm / 60) + 1) * 60.0 / score.tempo_bpm
        _, result = together(stems)
        rhythm = result.rhythm
        found = rhythm.tempo_bpm if rhythm else float("nan")
        rights.append(abs(found / score.tempo_bpm - 1) <= 0.04)
        scores.append(beat_f(beats, np.asarray(rhythm.beats if rhythm else ())))
        downbeat_scores.append(downbeat_f(beats[::4], np.asarray(rhythm.downbeats if rhythm else ())))
        signature = "{}/{}".format(*rhythm.time_signature) if rhythm else "-"
        print(f"| band-{args.seconds}s-{seed} | {score.tempo_bpm:.0f} | {found:.1f} | {'yes' if rights[-1] else 'no'} | "
              f"{scores[-1]:.3f} | {signature} | {downbeat_scores[-1]:.3f} |")
    print(f"| all {len(rights)} | | | {np.mean(rights):.0%} | {np.mean(scores):.3f} | | {np.mean(downbeat_scores):.3f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=120, help="length of each piece")
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12], help="one piece per seed")
    parser.add_argument("--runs", type=int, default=3, help="timed rounds per piece (orders alternate)")
    parser.add_argument("--http", action="store_true", help="through the API on the local stack (see above)")
    parser.add_argument("--tempo", action="store_true", help="score the rhythm of the stems together (see above)")
    parser.add_argument("--rests", action="store_true", help="what parts resting in digital silence cost (see above)")
    parser.add_argument("--bleed", action="store_true", help="the stems' bleed rules on stems with leakage (see above)")
    parser.add_argument("--piano-bleed", action="store_true",
                        help="the cross-stem rule on the piano model's stem, with bleed and from pp to ff (see above)")
    parser.add_argument("--doubles", action="store_true",
                        help="the stems' bleed rules on a part doubled in unison by another stem (see above)")
    parser.add_argument("--dynamics", action="store_true",
                        help="the stems' bleed rules on stems that play from pp to ff, without leakage (see above)")
    parser.add_argument("--slow-stem", type=float, metavar="MBPS",
                        help="with --http: a 4-stem request, its flute from a host sending MBPS MB/s (see above)")
    parser.add_argument("--against", metavar="DIR",
                        help="with --slow-stem: also another checkout's stack (git archive <commit> | tar -x -C DIR)")
    parser.add_argument("--keys", action="store_true",
                        help="the comping part as an electric piano stem named keys (the general model) instead of piano")
    args = parser.parse_args(argv)
    ensure_fluidsynth()
    if args.http and args.slow_stem:
        return main_slow_stem(args)
    modes = {"http": main_http, "tempo": main_tempo, "rests": main_rests, "bleed": main_bleed,
             "dynamics": main_dynamics, "doubles": main_doubles, "piano_bleed": main_piano_bleed}
    for flag, run in modes.items():
        if getattr(args, flag):
            return run(args)
    from midiscribe.engine.drums import transcribe_drums
    from midiscribe.engine.model import available_cpus, get_session

    get_session()  # loaded before any timing, as are the drum templates and the BLAS thread limits
    transcribe_drums(_silence_wav())
    report = []
    for seed in args.seeds:
        stems = rendered_stems(args.seconds, seed, args.keys)
        alone_s, together_s, alone_cpu, together_cpu = [], [], [], []
        for run in range(args.runs):
            order = (sequential, together) if run % 2 == 0 else (together, sequential)
            for step in order:
                cpu_before = cpu_seconds()
                seconds, result = step(stems)
                (alone_s if step is sequential else together_s).append(seconds)
                (alone_cpu if step is sequential else together_cpu).append(cpu_seconds() - cpu_before)
                if step is sequential:
                    alone = result
                else:
                    combined = result
        cli_alone, cli_together = [], []
        for _ in range(args.runs):
            alone_wall, together_wall = processes(stems, CACHE / "out")
            cli_alone.append(alone_wall)
            cli_together.append(together_wall)
        tracks = {track.name: track for track in combined.instrument_tracks()}
        row = {"piece": f"band-{args.seconds}s-{seed}", "alone_s": statistics.median(alone_s),
               "together_s": statistics.median(together_s), "alone_cpu_s": statistics.median(alone_cpu),
               "together_cpu_s": statistics.median(together_cpu), "cli_alone_s": statistics.median(cli_alone),
               "cli_together_s": statistics.median(cli_together)}
        for name, (_, reference) in stems.items():
            if name == "drums":
                reference_hits = [(t, key, 100) for t, key in reference]
                counts = drum_bench.score(reference_hits, tracks[name].notes)
                row["drums"] = {group: round(counts[group].f1, 3) for group in ("kick", "snare", "hihat")}
                continue
            row[name] = {"alone": round(note_f1(reference, alone[name].notes), 3),
                         "track": round(note_f1(reference, tracks[name].notes), 3)}
        report.append(row)
        say(json.dumps(row))
    print_f1_header(f"Four stems (drums, bass, {'keys' if args.keys else 'piano'}, flute)", args,
                    "drums kick / snare / hi-hat")
    for row in report:
        drums = " / ".join(f"{row['drums'][group]:.3f}" for group in ("kick", "snare", "hihat"))
        print(f"| {row['piece']} | {pitched_cells(row)} | {drums} |")
    cpus = available_cpus()
    print("\n| piece | in process: one after another | together | ratio | CPU seconds: one after another | together | "
          f"floor on {cpus} CPUs | CLI: four runs | one --stem run | ratio |")
    print("|---" * 10 + "|")
    for row in report:
        # However well the stems overlap, together cannot take less wall time than its CPU time spread over every CPU.
        floor = row["together_cpu_s"] / cpus / row["alone_s"]
        print(f"| {row['piece']} | {row['alone_s']:.2f} s | {row['together_s']:.2f} s | "
              f"{row['together_s'] / row['alone_s']:.2f} | {row['alone_cpu_s']:.2f} s | "
              f"{row['together_cpu_s']:.2f} s | {floor:.2f} | {row['cli_alone_s']:.2f} s | "
              f"{row['cli_together_s']:.2f} s | "
              f"{row['cli_together_s'] / row['cli_alone_s']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
