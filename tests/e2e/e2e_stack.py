"""Running `midiscribe serve` as a subprocess and talking to it: shared by the e2e tests and fixtures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parents[2]
MIDISCRIBE = Path(sys.executable).with_name("midiscribe")
STARTUP_TIMEOUT_S = 90
TASK_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environment(**overrides: str) -> dict[str, str]:
    """The test's environment without anything that could point boto3 at a real account."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("AWS_", "MIDISCRIBE_")) or name == "MIDISCRIBE_MODEL_PATH"}
    environment.update(overrides)
    return environment


class OutputLog:
    """Collects a subprocess's output lines in a thread, so its pipe never fills up."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def tail(self, count: int = 60) -> str:
        with self._lock:
            return "\n".join(self.lines[-count:])


@dataclass
class ServedStack:
    api_url: str
    api_key: str
    webhook_secret: str
    aws_endpoint_url: str
    bucket: str
    process: subprocess.Popen
    output: OutputLog
    port: int

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.aws_endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def dynamodb(self):
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.aws_endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": self.api_key, **extra}

    def by_id(self, task_id: str) -> dict:
        response = requests.get(f"{self.api_url}/v1/byId", headers=self.headers(),
                                params={"conversionType": "AUDIO_TO_MIDI", "task_id": task_id}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["conversion"]

    def wait_for(self, task_id: str, timeout: float = TASK_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            conversion = self.by_id(task_id)
            if conversion["status"] in ("COMPLETED", "FAILED"):
                return conversion
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {conversion['status']} after {timeout} s\n"
                                     f"{self.output.tail()}")
            time.sleep(0.3)


def start_serve(port: int, environment: dict[str, str], *extra: str, cwd: Path = REPOSITORY):
    process = subprocess.Popen(
        [str(MIDISCRIBE), "serve", "--port", str(port), *extra],
        cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    return process, OutputLog(process.stdout)


def wait_for_banner(process: subprocess.Popen, output: OutputLog, timeout: float = STARTUP_TIMEOUT_S) -> dict:
    """The endpoints ``midiscribe serve`` prints once everything is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = output.text()
        found = {
            "api_url": re.search(r"midiscribe is serving on (\S+)", text),
            "endpoint": re.search(r"AWS endpoint\s+(\S+)", text),
            "bucket": re.search(r"bucket\s+(midiscribe-\S+)", text),
            "api_key": re.search(r"API key\s+(\S+)", text),
        }
        if all(found.values()):
            return {name: match.group(1) for name, match in found.items()}
        if process.poll() is not None:
            raise AssertionError(f"midiscribe serve exited with {process.returncode}:\n{output.tail()}")
        time.sleep(0.1)
    raise AssertionError(f"midiscribe serve did not start within {timeout} s:\n{output.tail()}")


def stop_serve(process: subprocess.Popen, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError("midiscribe serve did not stop within 30 s of Ctrl-C") from None
    return process.returncode


