"""Load on the local stack: many clients submitting at once, and what came out the other end.

Starts `midiscribe serve` on a free loopback port (as `make run` does), a webhook receiver beside
it, and N client threads that each submit their share of M short recordings with a webhook URL and an
Idempotency-Key of their own. Then it waits until every accepted task has finished and its webhook has
arrived, and prints:

- submit latency p50/p95/p99 (the HTTP round trip of POST /v1/audio_to_midi),
- throughput: tasks finished per minute, from the first submission to the last finish,
- lost: accepted tasks that never finished (must be 0),
- duplicated: one submission answered with two task ids, one task id given to two submissions, or one
  task delivered as two webhook events (must be 0),
- webhooks delivered (must equal the tasks accepted), and any submission that was refused.

It prints figures and asserts nothing (tests/e2e covers behaviour).

    .venv/bin/python bench/load.py                     # 500 submissions from 32 clients
    .venv/bin/python bench/load.py --submissions 1000 --clients 64 --workers 2
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import requests
import soundfile

ROOT = Path(__file__).resolve().parent.parent
MIDISCRIBE = Path(sys.executable).with_name("midiscribe")
RESULTS = ROOT / "bench" / ".cache"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clip() -> bytes:
    """Two seconds of a plucked C major arpeggio: a real transcription, but a short one."""
    rate = 22050
    pieces = []
    for pitch in (60, 64, 67, 72):
        t = np.arange(rate // 2) / rate
        frequency = 440.0 * 2 ** ((pitch - 69) / 12)
        pieces.append(0.3 * np.exp(-4 * t) * sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3)))
    buffer = io.BytesIO()
    soundfile.write(buffer, np.concatenate(pieces).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class Receiver:
    """Loopback webhook receiver that records every delivery (id, task, arrival)."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.deliveries.append({"id": self.headers.get("webhook-id"), "at": time.monotonic(),
                                                "task_id": (json.loads(body or b"{}") or {}).get("task_id")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.deliveries)


def start_stack(workers: int, tree: Path | None = None) -> tuple[subprocess.Popen, str, str]:
    """``midiscribe serve`` on a free port, with a dev key; ``tree``: run another checkout's code (a folder holding
    its template.yaml, functions/ and layers/, e.g. from ``git archive <commit> | tar -x -C DIR``)."""
    port = free_port()
    key = "msk_load_" + secrets.token_urlsafe(24)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIDISCRIBE_"))}
    environment.update(MIDISCRIBE_DEV_API_KEY=key, PYTHONUNBUFFERED="1", MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE="0,1,2,5")
    if tree is not None:
        environment["PYTHONPATH"] = str(Path(tree).resolve() / "layers")  # ahead of this checkout's editable install
    process = subprocess.Popen([str(MIDISCRIBE), "serve", "--port", str(port), "--workers", str(workers)],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(re.search(r"midiscribe is serving on", line) for line in list(output)):
            return process, f"http://127.0.0.1:{port}", key
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise SystemExit("midiscribe serve did not start:\n" + "".join(output[-40:]))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="the stack's worker concurrency")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for everything to finish")
    args = parser.parse_args()

    audio = clip()
    receiver = Receiver()
    process, api, key = start_stack(args.workers)
    headers = {"Authorization": key}
    submissions: list[dict] = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        idempotency_key = str(uuid.uuid4())
        began = time.monotonic()
        try:
            response = requests.post(f"{api}/v1/audio_to_midi", timeout=120,
                                     headers={**headers, "Idempotency-Key": idempotency_key},
                                     files={"audio_file": (f"clip-{index}.wav", audio, "audio/wav")},
                                     data={"webhook_url": receiver.url})
            status, body = response.status_code, response.json()
        except (requests.RequestException, ValueError) as exc:
            status, body = 0, {"error": str(exc)}
        with lock:
            submissions.append({"index": index, "status": status, "seconds": time.monotonic() - began,
                                "task_id": body.get("task_id"), "error": body.get("error"), "at": began})

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(submit, range(args.submissions)))
        submitted = time.monotonic()
        accepted = [s for s in submissions if s["status"] == 200]
        task_ids = {s["task_id"] for s in accepted}
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            delivered = {d["task_id"] for d in receiver.snapshot()}
            pending = [t for t in task_ids if statuses.get(t) not in ("COMPLETED", "FAILED") or t not in delivered]
            if not pending:
                break
            for task_id in pending[:50]:
                reply = requests.get(f"{api}/v1/byId", headers=headers, timeout=60,
                                     params={"conversionType": "AUDIO_TO_MIDI", "task_id": task_id})
                if reply.status_code == 200:
                    statuses[task_id] = reply.json()["conversion"]["status"]
            time.sleep(1)
        finished_at = max((d["at"] for d in receiver.snapshot()), default=time.monotonic())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()

    deliveries = receiver.snapshot()
    events_per_task = Counter()
    for task_id, event_ids in _group(deliveries).items():
        events_per_task[task_id] = len(event_ids)
    given = Counter(s["task_id"] for s in accepted)
    finished = [t for t in task_ids if statuses.get(t) in ("COMPLETED", "FAILED")]
    lost = sorted(task_ids - set(finished))
    duplicated = sum(count - 1 for count in given.values() if count > 1) + sum(
        count - 1 for count in events_per_task.values() if count > 1)
    refused = Counter((s["status"], (s["error"] or "")[:80]) for s in submissions if s["status"] != 200)
    latencies = [s["seconds"] * 1000 for s in submissions if s["status"] == 200]
    minutes = (finished_at - started) / 60
    figures = {
        "submissions": args.submissions, "clients": args.clients, "workers": args.workers,
        "accepted": len(accepted), "refused": {f"{k[0]} {k[1]}": v for k, v in refused.items()},
        "submit_ms_p50": percentile(latencies, 50), "submit_ms_p95": percentile(latencies, 95),
        "submit_ms_p99": percentile(latencies, 99), "submit_phase_s": submitted - started,
        "completed": sum(1 for t in finished if statuses[t] == "COMPLETED"),
        "failed": sum(1 for t in finished if statuses[t] == "FAILED"),
        "tasks_per_minute": len(finished) / minutes if minutes else float("nan"),
        "lost": len(lost), "duplicated": duplicated,
        "webhooks_delivered": len(events_per_task), "webhook_requests": len(deliveries),
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results-load.json").write_text(json.dumps(figures, indent=2))
    print("\n| measure | value |\n|---|---|")
    for name in ("submissions", "clients", "workers", "accepted", "submit_ms_p50", "submit_ms_p95", "submit_ms_p99",
                 "submit_phase_s", "completed", "failed", "tasks_per_minute", "lost", "duplicated",
                 "webhooks_delivered", "webhook_requests"):
        value = figures[name]
        print(f"| {name} | {value:.1f} |" if isinstance(value, float) else f"| {name} | {value} |")
    if refused:
        print("refused:", dict(figures["refused"]))
    if lost:
        print("lost task ids:", lost[:10])
    print(f"load average at the end: {figures['load_average']}")
    return 0


def _group(deliveries: list[dict]) -> dict[str, set[str]]:
    """task id -> the distinct webhook event ids delivered for it (retries share an id)."""
    grouped: dict[str, set[str]] = {}
    for delivery in deliveries:
        grouped.setdefault(delivery["task_id"], set()).add(delivery["id"])
    return grouped


if __name__ == "__main__":
    sys.exit(main())
