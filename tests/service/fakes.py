"""In-memory stand-ins for the stores the service asks for (``midiscribe.domain.ports``): no AWS, no moto.

They keep the rules the real adapters keep where the service relies on them: conditional status
changes (the state machine), a task id taken once, missing objects and size limits.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midiscribe.domain.errors import ObjectNotFoundError, ObjectTooLargeError, TaskExistsError
from midiscribe.domain.ports import ObjectInfo
from midiscribe.domain.tasks import InvalidTransitionError, Task, TaskStatus, allowed_sources
from midiscribe.domain.timestamps import iso_now


class FakeTasks:
    """The tasks table: each read returns a fresh copy, as DynamoDB would."""

    def __init__(self, *tasks: Task) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.progress: list[float] = []
        for task in tasks:
            self.create(task)

    def get(self, task_id: str) -> Task | None:
        item = self.items.get(task_id)
        return Task.from_item(dict(item)) if item else None

    def get_by_conversion_id(self, conversion_id: str) -> Task | None:
        for item in self.items.values():
            if item["conversion_id"] == conversion_id:
                return Task.from_item(dict(item))
        return None

    def create(self, task: Task) -> None:
        if task.task_id in self.items:
            raise TaskExistsError(task.task_id)
        self.items[task.task_id] = task.to_item()

    def _transition(self, task_id: str, target: TaskStatus, **values: Any) -> Task:
        item = self.items.get(task_id)
        current = TaskStatus(item["status"]) if item else None
        if current not in allowed_sources(target):
            raise InvalidTransitionError(task_id, current, target)
        item.update(status=target.value, updated_at=iso_now(), **values)
        return Task.from_item(dict(item))

    def claim(self, task_id: str) -> Task:
        attempts = int(self.items.get(task_id, {}).get("attempts", 0)) + 1
        return self._transition(task_id, TaskStatus.PROCESSING, attempts=attempts, status_msg="Task is being processed")

    def complete(self, task_id: str, *, outputs: dict[str, str], status_msg: str, audio_duration_s: float | None = None,
                 note_count: int | None = None, timings: dict[str, float] | None = None, model: str = "",
                 model_name: str = "") -> Task:
        optional = {name: value for name, value in (("model", model), ("model_name", model_name)) if value}
        return self._transition(task_id, TaskStatus.COMPLETED, outputs=dict(outputs), status_msg=status_msg,
                                audio_duration_s=audio_duration_s, note_count=note_count, timings=dict(timings or {}),
                                **optional)

    def fail(self, task_id: str, *, error: str, error_code: str, status_msg: str) -> Task:
        return self._transition(task_id, TaskStatus.FAILED, error=error, error_code=error_code, status_msg=status_msg)

    def record_progress(self, task_id: str, *, fraction: float, status_msg: str) -> bool:
        item = self.items[task_id]
        if item["status"] != TaskStatus.PROCESSING.value:
            return False
        self.progress.append(fraction)
        item.update(progress=fraction, status_msg=status_msg)
        return True

    def mark_notify_queued(self, task_id: str) -> None:
        self.items[task_id]["notify_queued_at"] = iso_now()

    def start_webhook_series(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any] | None:
        item = self.items.get(task_id)
        if item is None:
            return None
        item.setdefault("webhook_event_id", webhook_id)
        item.update(webhook_series=series, webhook_status="pending")
        return {name: item.get(name, "") for name in ("webhook_event_id", "webhook_series", "webhook_status")}


class FakeStorage:
    """One bucket in a dict; ``downloads`` counts reads, so tests can see what was fetched."""

    def __init__(self, bucket: str = "bucket") -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.names: dict[str, str] = {}  # the file names upload forms recorded, by key
        self.reads: list[str] = []

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = (bytes(data), content_type)

    def upload_file(self, path: str | Path, key: str, content_type: str = "application/octet-stream") -> None:
        self.objects[key] = (Path(path).read_bytes(), content_type)

    def head(self, key: str) -> ObjectInfo | None:
        if key not in self.objects:
            return None
        data, content_type = self.objects[key]
        return ObjectInfo(key=key, size=len(data), content_type=content_type, name=self.names.get(key, ""))

    def download_file(self, key: str, path: str | Path, *, max_bytes: int | None = None) -> int:
        data = self.get_bytes(key)
        if max_bytes is not None and len(data) > max_bytes:
            raise ObjectTooLargeError(key, len(data), max_bytes)
        Path(path).write_bytes(data)
        return len(data)

    def get_bytes(self, key: str) -> bytes:
        self.reads.append(key)
        if key not in self.objects:
            raise ObjectNotFoundError(self.bucket, key)
        return self.objects[key][0]

    def read_start(self, key: str, size: int) -> bytes:
        return self.get_bytes(key)[:size]

    def presign_get(self, key: str, *, expires_s: int, download_name: str | None = None) -> str:
        return f"https://{self.bucket}.example/{key}?expires={expires_s}"

    def presign_post(self, key: str, *, max_bytes: int, expires_s: int, content_type: str,
                     name: str = "") -> dict[str, Any]:
        if name:
            self.names[key] = name
        return {"url": f"https://{self.bucket}.example/", "fields": {"key": key, "Content-Type": content_type}}


class FakeQueue:
    def __init__(self, *, broken: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.broken = broken

    def send(self, body: dict[str, Any], *, delay_s: int = 0) -> str:
        if self.broken:
            raise ConnectionError("the queue is unreachable")
        self.sent.append(dict(body))
        return str(len(self.sent))


@dataclass
class FakeKey:
    key_id: str
    webhook_secret: str
    enabled: bool = True


@dataclass
class FakeKeys:
    keys: dict[str, FakeKey] = field(default_factory=dict)

    def get(self, key_id: str) -> FakeKey | None:
        return self.keys.get(key_id)


def copy_file(source: Path, destination: Any, **limits: Any) -> int:
    """A stand-in for net.download that reads a local file instead of a URL."""
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, destination)
    return source.stat().st_size
