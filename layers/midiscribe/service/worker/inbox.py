"""S3 notifications for files dropped into the bucket's ``inbox/``: which objects they announce.

S3 sends ``{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:…", "s3": {…}}]}``,
and first an ``s3:TestEvent`` when the notification is set up. Keys arrive URL-encoded. Each
object becomes a task whose id is derived from the object's identity, so a notification that is
delivered twice finds the task it created the first time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ..object_keys import INBOX_PREFIX

_INBOX_NAMESPACE = uuid.UUID("5b0d8a5e-4a53-4f0e-9d43-6f6d2b8e7c11")


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str
    identity: str  # the event's sequencer (or the object's ETag): another upload of the key differs

    def in_inbox_of(self, bucket: str) -> bool:
        return self.bucket == bucket and self.key.startswith(INBOX_PREFIX) and not self.key.endswith("/")

    @property
    def task_id(self) -> str:
        return inbox_task_id(self.bucket, self.key, self.identity)

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def inbox_task_id(bucket: str, key: str, identity: str) -> str:
    return str(uuid.uuid5(_INBOX_NAMESPACE, f"s3://{bucket}/{key}#{identity}"))


def is_test_event(message: Mapping[str, Any]) -> bool:
    return message.get("Event") == "s3:TestEvent"


def is_s3_notification(message: Mapping[str, Any]) -> bool:
    return "Records" in message


def created_objects(message: Mapping[str, Any]) -> Iterator[CreatedObject]:
    """The objects an S3 notification says were created (other events are left out)."""
    for record in message.get("Records") or []:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        yield CreatedObject(
            bucket=str((s3.get("bucket") or {}).get("name", "")),
            key=unquote_plus(str(obj.get("key", ""))),  # "my song.wav" arrives as "my+song.wav"
            identity=str(obj.get("sequencer") or obj.get("eTag") or ""),
        )
