"""Step 0: what a transcribe-queue message asks for, and which tasks it concerns.

Messages are our ``{"task_id"}`` or S3 notifications for the ``inbox/`` (each object becomes a task
with default options, owned by "inbox"). Records of the transcribe DLQ only make sure their tasks
end ``FAILED`` (and their webhooks go out), even when every attempt died of a timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from typing import Any

from midiscribe.domain.errors import TaskExistsError
from midiscribe.domain.ports import TaskStore
from midiscribe.domain.tasks import INBOX_OWNER, Task, TaskKind, TaskSource

from ..config import Settings
from .inbox import created_objects, is_s3_notification, is_test_event
from .pipeline import TaskPipeline


@dataclass
class Worker:
    settings: Settings
    _: KW_ONLY
    tasks: TaskStore
    bucket: str
    pipeline: TaskPipeline
    log: Any

    def handle_message(self, body: str, *, receive_count: int = 1) -> list[str]:
        """Process one SQS message body; returns the task ids it concerned. Raises to have it retried."""
        message = self._parse(body)
        if message is None:
            return []
        if is_test_event(message):
            self.log.info("s3 test event skipped")
            return []
        if is_s3_notification(message):
            task_ids = list(self.inbox_tasks(message))
        elif isinstance(message.get("task_id"), str) and message["task_id"]:
            task_ids = [message["task_id"]]
        else:
            self.log.error("message without task_id dropped", extra={"body": body[:200]})
            return []
        for task_id in task_ids:
            self.pipeline.process(task_id, receive_count=receive_count)
        return task_ids

    def handle_dead_letter(self, body: str) -> list[str]:
        """A message SQS gave up on: make sure its task ends FAILED (and its webhook goes out)."""
        message = self._parse(body)
        if message is None:
            return []
        if is_s3_notification(message):
            task_ids = list(self.inbox_tasks(message, create=False))
        else:
            task_ids = [message["task_id"]] if isinstance(message.get("task_id"), str) else []
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task is None:
                continue
            if task.status.is_final:
                self.pipeline.finisher.notify_once(task)
                continue
            self.pipeline.fail(
                task,
                f"Processing stopped without finishing on each of {self.settings.transcribe_max_receive} "
                "attempts (the worker timed out or ran out of memory). Try a shorter recording, or "
                "raise the worker's Timeout/MemorySize, then submit it again.",
                "RETRIES_EXHAUSTED",
            )
        return task_ids

    def inbox_tasks(self, notification: dict[str, Any], *, create: bool = True) -> Iterator[str]:
        """The inbox tasks of an S3 notification, created (default options, owner "inbox") if new."""
        for created in created_objects(notification):
            if not created.in_inbox_of(self.bucket):
                self.log.info("s3 record outside the inbox skipped", extra={"bucket": created.bucket, "key": created.key})
                continue
            if create:
                self._create_inbox_task(created.task_id, created.key, created.filename)
            yield created.task_id

    def _create_inbox_task(self, task_id: str, key: str, filename: str) -> None:
        task = Task.new(
            kind=TaskKind.AUDIO_TO_MIDI,
            owner_id=INBOX_OWNER,
            source=TaskSource(kind="s3", key=key, filename=filename),
            retention_days=self.settings.retention_days,
            task_id=task_id,
        )
        try:
            self.tasks.create(task)
            self.log.info("inbox task created", extra={"task_id": task_id, "key": key})
        except TaskExistsError:
            pass  # a repeated notification: the task exists since the first one

    def _parse(self, body: str) -> dict[str, Any] | None:
        try:
            message = json.loads(body)
        except (TypeError, ValueError):
            self.log.error("unreadable message dropped", extra={"body": str(body)[:200]})
            return None
        if not isinstance(message, dict):
            self.log.error("message that is not an object dropped", extra={"body": str(body)[:200]})
            return None
        return message
