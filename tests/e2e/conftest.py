"""The local stack as a user runs it: ``midiscribe serve`` in a subprocess on free loopback ports.

One stack serves the whole e2e session (starting one takes a few seconds). Its development key
and webhook secret are fixed through the environment, as a user may fix them; the webhook retry
schedule is compressed so that retries happen within a test.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile
from e2e_stack import (
    MIDISCRIBE,
    ServedStack,
    clean_environment,
    free_port,
    start_serve,
    stop_serve,
    wait_for_banner,
)


@pytest.fixture(scope="session")
def local_stack():
    if not MIDISCRIBE.exists():
        pytest.fail(f"{MIDISCRIBE} is missing: install the package (pip install -e '.[dev]')")
    port = free_port()
    api_key = "msk_e2e_" + secrets.token_urlsafe(24)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    environment = clean_environment(
        MIDISCRIBE_DEV_API_KEY=api_key,
        MIDISCRIBE_DEV_WEBHOOK_SECRET=secret,
        MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE="0,1,1",
        PYTHONUNBUFFERED="1",
    )
    process, output = start_serve(port, environment, "--workers", "2")
    try:
        banner = wait_for_banner(process, output)
        assert banner["api_key"] == api_key
        stack = ServedStack(api_url=banner["api_url"], api_key=api_key, webhook_secret=secret,
                           aws_endpoint_url=banner["endpoint"], bucket=banner["bucket"], process=process,
                           output=output, port=port)
        yield stack
    finally:
        code = stop_serve(process)
    assert code == 0, f"midiscribe serve exited with {code} after Ctrl-C:\n{output.tail()}"
    assert "stopped" in output.text()


# -------------------------------------------------------------------------------- audio and receivers

SAMPLE_RATE = 22050
# A short melody of piano-range tones the model finds reliably: (MIDI pitch, seconds).
MELODY = [(60, 0.5), (64, 0.5), (67, 0.5), (72, 0.75)]


def tone_sequence(melody=MELODY, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    pieces = []
    for pitch, seconds in melody:
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        frequency = 440.0 * 2 ** ((pitch - 69) / 12)
        # A few harmonics and a decay: closer to an instrument than a bare sine.
        wave = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3))
        envelope = np.exp(-3.0 * t) * np.minimum(1.0, t / 0.01)
        pieces.append(0.3 * wave * envelope)
    pieces.append(np.zeros(sample_rate // 4))
    return np.concatenate(pieces).astype(np.float32)


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "melody.wav"
    soundfile.write(path, tone_sequence(), SAMPLE_RATE, subtype="PCM_16")
    return path


# Eight notes on the beat at 120 BPM: long and steady enough for the beat tracker to find beats and bars.
STEADY_MELODY = [(pitch, 0.5) for pitch in (60, 64, 67, 72, 67, 64, 60, 55)]


@pytest.fixture(scope="session")
def steady_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "steady.wav"
    soundfile.write(path, tone_sequence(STEADY_MELODY), SAMPLE_RATE, subtype="PCM_16")
    return path


@dataclass
class WebhookReceiver:
    url: str
    deliveries: list[dict] = field(default_factory=list)

    def wait_for(self, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for delivery in list(self.deliveries):
                if predicate(delivery):
                    return delivery
            time.sleep(0.1)
        raise AssertionError(f"no matching webhook within {timeout} s; got {self.deliveries}")


@pytest.fixture(scope="session")
def webhook_receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                             "body": body, "json": json.loads(body or b"null")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks", deliveries=received)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.fail("curl is needed to run seed 002's cURL sample: install it (apt-get install curl)")
    return path
