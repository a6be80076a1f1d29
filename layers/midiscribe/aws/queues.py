"""SQS queues: the transcribe queue (``{"task_id"}``) and the notify queue (``{"task_id", "event"}``)."""

from __future__ import annotations

import json
from typing import Any

from . import client as shared_client


class MessageQueue:
    """One SQS queue, addressed by URL."""

    def __init__(self, url: str, client: Any = None):
        if not url:
            raise ValueError("no queue URL: set MIDISCRIBE_TRANSCRIBE_QUEUE_URL / MIDISCRIBE_NOTIFY_QUEUE_URL")
        self.url = url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = shared_client("sqs")
        return self._client

    def send(self, body: dict[str, Any], *, delay_s: int = 0) -> str:
        """Send one JSON message; returns its message id."""
        answer = self.client.send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=int(delay_s)
        )
        return str(answer.get("MessageId", ""))


def transcribe_message(task_id: str) -> dict[str, str]:
    return {"task_id": task_id}


def notify_message(task_id: str, event: str) -> dict[str, str]:
    return {"task_id": task_id, "event": event}
