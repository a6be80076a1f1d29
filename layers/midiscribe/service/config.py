"""Settings every function reads from its environment (set by template.yaml, or by the local stack).

One place names them all, so the template, the local stack and the README cannot disagree.
boto3 itself honours ``AWS_ENDPOINT_URL``, which is how the local stack points the real
handlers at moto without any code knowing about it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from midiscribe.engine.constants import SONIFY_SAMPLE_RATE


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"environment variable {name}={value!r} is not a finite number")
    return number


def _positive(name: str, default: float) -> float:
    """A limit or a duration: a number above 0 (a negative or zero limit refused every task, or none)."""
    number = _float(name, default)
    if number <= 0:
        raise ValueError(f"environment variable {name}={os.environ.get(name)!r} must be above 0 "
                         f"(unset, it is {default:g})")
    return number


def _schedule(name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        steps = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected seconds separated by commas, e.g. 0,5,300") from None
    if not steps or any(not math.isfinite(step) or step < 0 for step in steps):
        raise ValueError(f"{name}={value!r}: expected at least one finite, non-negative number of seconds")
    return steps


MB = 1024 * 1024
# What a task writes to the worker's scratch space besides its inputs: the sonified WAV (16-bit mono, 88.2 kB
# a second of audio at 44.1 kHz), plus room for the MIDI, notes and score files.
SONIFIED_BYTES_PER_SECOND = 2 * SONIFY_SAMPLE_RATE
OUTPUT_FILES_RESERVE_BYTES = 64 * MB
# Standard Webhooks' suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def megabytes(size: int) -> str:
    """A size for a message: "1.5 MB", "3900 MB"."""
    value = size / MB
    return f"{value:.1f} MB" if value < 10 else f"{value:.0f} MB"


@dataclass(frozen=True)
class Settings:
    bucket: str = ""
    tasks_table: str = ""
    keys_table: str = ""
    # Powertools' idempotency records (the API's Idempotency-Key); empty: the header is not honoured.
    idempotency_table: str = ""
    transcribe_queue_url: str = ""
    notify_queue_url: str = ""
    # Webhook deliveries that exhaust their schedule (or get 410) are sent here explicitly.
    notify_dlq_url: str = ""
    stage: str = "prod"
    max_upload_mb: float = 200.0
    max_duration_s: float = 3600.0
    # The piano model takes about 0.7 s per second of audio on 2 CPUs, 1.1 s on one (bench/piano.py
    # threads), so the worker's 900-second timeout bounds it well below max_duration_s (template:
    # MaxPianoDurationSeconds).
    max_piano_duration_s: float = 600.0
    max_url_download_mb: float = 200.0
    # The worker's /tmp (template: WorkerScratchMB, its EphemeralStorage): a task's inputs are fetched there and
    # its outputs written there before upload, so their sizes together are bounded by it.
    worker_scratch_mb: float = 4096.0
    retention_days: float = 14.0
    presign_expiry_s: int = 7 * 24 * 3600
    allow_private_urls: bool = False
    allow_http_urls: bool = False
    webhook_retry_schedule: tuple[float, ...] = field(default=DEFAULT_WEBHOOK_RETRY_SCHEDULE)
    # Per delivery attempt; Standard Webhooks receivers are expected to answer well within 15 s.
    webhook_timeout_s: float = 15.0
    # The transcribe queue's RedrivePolicy maxReceiveCount: on the last receive the worker records
    # the task as FAILED before SQS moves the message to the DLQ, so no task stays PROCESSING.
    transcribe_max_receive: int = 3
    # Records from this queue only make sure their task ends FAILED (the worker drains its DLQ).
    transcribe_dlq_arn: str = ""
    # The API's own base URL (https://{api}.execute-api.{region}.amazonaws.com/{stage}): webhooks link
    # to GET /v1/files/… on it, which outlive presigned S3 URLs. Empty: webhooks carry presigned URLs.
    public_api_url: str = ""

    def transcription_limit_s(self, transcriber: str) -> float:
        """The longest audio one transcription may take: the piano model has a limit of its own."""
        if transcriber == "piano":
            return min(self.max_duration_s, self.max_piano_duration_s)
        return self.max_duration_s

    def too_long_advice(self, transcriber: str, *, stems: bool = False, duration_s: float | None = None) -> str:
        """What to add to AUDIO_TOO_LONG when the piano model's own limit is the one exceeded ('' otherwise,
        also when the audio, ``duration_s`` long if known, is too long for the general model as well).
        A piano stem runs the piano model whatever the request's model says, so for stems the way out is
        another instrument, not model=general."""
        if transcriber != "piano" or self.max_piano_duration_s >= self.max_duration_s:
            return ""
        if duration_s is not None and duration_s > self.max_duration_s:
            return ""
        limit = f"The piano model takes at most {self.max_piano_duration_s:g} s of audio per task (MaxPianoDurationSeconds)"
        if stems:
            return (f"{limit}, and a piano stem always runs it: give the piano stem another instrument "
                    f"(electric_piano, say) to have the general model take up to {self.max_duration_s:g} s.")
        return f"{limit}; model=general takes up to {self.max_duration_s:g} s."

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_url_download_bytes(self) -> int:
        return int(self.max_url_download_mb * MB)

    @property
    def worker_scratch_bytes(self) -> int:
        return int(self.worker_scratch_mb * MB)

    def output_reserve_bytes(self, transcriber: str = "") -> int:
        """Scratch space a task keeps for its outputs: the sonified WAV of the longest audio ``transcriber``
        takes, and room for the other files."""
        return int(SONIFIED_BYTES_PER_SECOND * self.transcription_limit_s(transcriber)) + OUTPUT_FILES_RESERVE_BYTES

    def input_budget_bytes(self, transcriber: str = "") -> int:
        """The most a task's inputs may add up to: the worker's scratch space less its outputs' reserve."""
        return self.worker_scratch_bytes - self.output_reserve_bytes(transcriber)

    def scratch_advice(self) -> str:
        """How to get a task that does not fit in the worker's scratch space through."""
        return ("Send less audio, or compressed audio (FLAC takes about half the space of WAV, MP3 about a tenth), "
                f"or raise this deployment's WorkerScratchMB (now {self.worker_scratch_mb:g}; at most 10240).")

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            bucket=env("MIDISCRIBE_BUCKET", ""),
            tasks_table=env("MIDISCRIBE_TASKS_TABLE", ""),
            keys_table=env("MIDISCRIBE_KEYS_TABLE", ""),
            idempotency_table=env("MIDISCRIBE_IDEMPOTENCY_TABLE", ""),
            transcribe_queue_url=env("MIDISCRIBE_TRANSCRIBE_QUEUE_URL", ""),
            notify_queue_url=env("MIDISCRIBE_NOTIFY_QUEUE_URL", ""),
            notify_dlq_url=env("MIDISCRIBE_NOTIFY_DLQ_URL", ""),
            webhook_timeout_s=_positive("MIDISCRIBE_WEBHOOK_TIMEOUT_S", 15.0),
            stage=env("MIDISCRIBE_STAGE", "prod"),
            max_upload_mb=_positive("MIDISCRIBE_MAX_UPLOAD_MB", 200.0),
            max_duration_s=_positive("MIDISCRIBE_MAX_DURATION_S", 3600.0),
            max_piano_duration_s=_positive("MIDISCRIBE_MAX_PIANO_DURATION_S", 600.0),
            max_url_download_mb=_positive("MIDISCRIBE_MAX_URL_DOWNLOAD_MB", 200.0),
            worker_scratch_mb=_positive("MIDISCRIBE_WORKER_SCRATCH_MB", 4096.0),
            retention_days=_positive("MIDISCRIBE_RETENTION_DAYS", 14.0),
            presign_expiry_s=int(_positive("MIDISCRIBE_PRESIGN_EXPIRY_S", 7 * 24 * 3600)),
            allow_private_urls=_flag("MIDISCRIBE_ALLOW_PRIVATE_URLS", False),
            allow_http_urls=_flag("MIDISCRIBE_ALLOW_HTTP_URLS", False),
            webhook_retry_schedule=_schedule("MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", DEFAULT_WEBHOOK_RETRY_SCHEDULE),
            transcribe_max_receive=max(1, int(_float("MIDISCRIBE_TRANSCRIBE_MAX_RECEIVE", 3))),
            transcribe_dlq_arn=env("MIDISCRIBE_TRANSCRIBE_DLQ_ARN", ""),
            public_api_url=env("MIDISCRIBE_PUBLIC_API_URL", "").strip().rstrip("/"),
        )
