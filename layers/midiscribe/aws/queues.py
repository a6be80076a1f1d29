"""SQS queues: one JSON message per ``send`` (the bodies are :mod:`midiscribe.domain.messages`)."""

from __future__ import annotations

import json
from typing import Any

from . import AwsAdapter


class MessageQueue(AwsAdapter):
    """One SQS queue, addressed by URL: :class:`midiscribe.domain.ports.MessageSender`."""

    service = "sqs"

    def __init__(self, url: str, client: Any = None):
        if not url:
            raise ValueError("no queue URL: set MIDISCRIBE_TRANSCRIBE_QUEUE_URL / MIDISCRIBE_NOTIFY_QUEUE_URL")
        self.url = url
        super().__init__(client)

    def send(self, body: dict[str, Any], *, delay_s: int = 0) -> str:
        """Send one JSON message; returns its message id."""
        answer = self.client.send_message(
            QueueUrl=self.url, MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=int(delay_s)
        )
        return str(answer.get("MessageId", ""))
