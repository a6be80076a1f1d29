"""What the service asks of storage, by interface: the tasks table, the bucket, the queues, the keys.

``midiscribe.aws`` implements these with DynamoDB, S3 and SQS; tests pass in-memory fakes. Errors
the service must tell apart come from ``midiscribe.domain.errors`` (a missing object, a task that
exists, a status change the state machine refuses), never from the storage's own library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .tasks import Task


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    name: str = ""  # the file's own name, when its upload form recorded it (``presign_post``'s ``name``)


class TaskStore(Protocol):
    """Task items; every status change is conditional on the state machine (InvalidTransitionError)."""

    def get(self, task_id: str) -> Task | None: ...
    def get_by_conversion_id(self, conversion_id: str) -> Task | None: ...
    def create(self, task: Task) -> None: ...  # TaskExistsError when the id is taken
    def claim(self, task_id: str) -> Task: ...
    def complete(
        self,
        task_id: str,
        *,
        outputs: dict[str, str],
        status_msg: str,
        audio_duration_s: float | None = None,
        note_count: int | None = None,
        timings: dict[str, float] | None = None,
        model: str = "",
        model_name: str = "",
    ) -> Task: ...
    def fail(self, task_id: str, *, error: str, error_code: str, status_msg: str) -> Task: ...
    def record_progress(self, task_id: str, *, fraction: float, status_msg: str) -> bool: ...
    def mark_notify_queued(self, task_id: str) -> None: ...
    def page_by_owner(
        self, owner_id: str, *, limit: int, after: tuple[str, str] | None = None
    ) -> tuple[list[Task], tuple[str, str] | None]: ...  # newest first; the position the next page starts after


class ObjectStore(Protocol):
    """One bucket (ObjectNotFoundError, ObjectTooLargeError for what cannot be read)."""

    bucket: str

    def uri(self, key: str) -> str: ...
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def upload_file(self, path: str | Path, key: str, content_type: str = "application/octet-stream") -> None: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def download_file(self, key: str, path: str | Path, *, max_bytes: int | None = None) -> int: ...
    def get_bytes(self, key: str) -> bytes: ...
    def read_start(self, key: str, size: int) -> bytes: ...  # the object's first ``size`` bytes
    def presign_get(self, key: str, *, expires_s: int, download_name: str | None = None) -> str: ...
    def presign_post(self, key: str, *, max_bytes: int, expires_s: int, content_type: str,
                     name: str = "") -> dict[str, Any]: ...


class MessageSender(Protocol):
    """One queue: JSON bodies in, message ids out."""

    def send(self, body: dict[str, Any], *, delay_s: int = 0) -> str: ...


class KeyRecord(Protocol):
    key_id: str
    webhook_secret: str
    enabled: bool


class KeyStore(Protocol):
    """API keys by id, enabled or not."""

    def get(self, key_id: str) -> KeyRecord | None: ...
