"""Delivering a finished task's webhook: one notify-queue message in, one attempt (or a wait) out.

The notify function hands each message to :meth:`WebhookNotifier.handle`, which

1. sends a message that is not due yet back to the queue (SQS delays are at most 15 minutes);
2. on the first message of a task, fixes the event's ``webhook-id`` on the task item, so every
   attempt and every redelivery of the event carries the same id;
3. builds the payload (its file links are signed ``GET /v1/files/…`` links on the API, which outlive
   this function's credentials), signs it with the owner key's secret, makes one attempt, and records
   it on the task (``webhook_attempts``, ``webhook_status``);
4. then either stops (delivered), queues the next attempt of the schedule, or, when the schedule
   is exhausted or the receiver answered 410, marks the delivery ``failed`` and puts the message
   in the notify DLQ with the reason, so nothing is dropped silently.

Errors of our own infrastructure (DynamoDB, S3, SQS) are raised, so the batch reports the message
as failed and SQS retries it (and dead-letters it after maxReceiveCount).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from midiscribe import net
from midiscribe.domain.messages import finished_event
from midiscribe.domain.ports import KeyStore, MessageSender
from midiscribe.domain.tasks import Task
from midiscribe.domain.timestamps import iso_now

from . import delivery, file_links
from .payload import (
    InstrumentsLoader,
    Link,
    build_payload,
    encode_body,
    link_lifetime_s,
    signed_link_lifetime_s,
)
from .schedule import InvalidNotifyMessageError, NotifyMessage, RetrySchedule, new_series, sqs_delay_s
from .signing import SECRET_PREFIX, WebhookSecretError, new_webhook_id, signed_headers

logger = logging.getLogger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class WebhookStore(Protocol):
    """What webhooks need of the tasks table (midiscribe.aws.tasks.TaskRepository provides it)."""

    def get(self, task_id: str) -> Task | None: ...
    def get_webhook_state(self, task_id: str) -> dict[str, Any] | None: ...
    def claim_webhook_event(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any] | None: ...
    def start_webhook_series(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any] | None: ...
    def record_webhook_attempt(
        self, task_id: str, attempt: dict[str, Any], *, status: str, series: str
    ) -> bool: ...


class TaskStillRunningError(RuntimeError):
    """A notify message for a task that is not finished yet: raised so that SQS tries it again later."""


@dataclass
class WebhookNotifier:
    tasks: WebhookStore
    keys: KeyStore
    notify_queue: MessageSender
    dead_letters: MessageSender | None
    presign: Callable[[str, int], str]  # (S3 key, seconds valid) -> URL
    schedule: RetrySchedule
    # The API's base URL: payload links are signed GET /v1/files/… links on it. Empty: presigned S3 URLs,
    # which die with the credentials that signed them (hours, in Lambda) however long they claim to live.
    public_api_url: str = ""
    allow_private: bool = False
    allow_http: bool = False
    timeout_s: float = delivery.DEFAULT_TIMEOUT_S
    instruments: InstrumentsLoader | None = None
    resolver: net.Resolver | None = None
    clock: Callable[[], float] = field(default=time.time)

    # ---- the notify queue

    def handle_body(self, body: str) -> str:
        """Handle one raw notify-queue message body; returns what happened (for logs and tests)."""
        try:
            message = NotifyMessage.parse(body)
        except InvalidNotifyMessageError as exc:
            # Retrying cannot fix a malformed message: keep it, with the reason, where people look.
            self._dead_letter({"body": body[:10_000]}, str(exc))
            return "dead-lettered"
        return self.handle(message)

    def handle(self, message: NotifyMessage) -> str:
        now = self.clock()
        if message.not_before > now:
            self._send_due(message, now)
            return "waiting"

        task = self.tasks.get(message.task_id)
        if task is None:
            self._dead_letter(message, "the task no longer exists (expired or deleted)")
            return "dead-lettered"
        if not task.webhook_url:
            logger.info("task %s has no webhook_url: nothing to deliver", task.task_id)
            return "skipped"
        if not task.status.is_final:
            raise TaskStillRunningError(
                f"task {task.task_id} is {task.status.value}: its webhook is sent once it has finished"
            )
        # The task's own status decides the event: the message's copy is only what the sender saw.
        event = finished_event(task)

        if not message.series:
            proposed = new_series()
            state = self.tasks.claim_webhook_event(task.task_id, webhook_id=new_webhook_id(), series=proposed)
            if state is None:
                self._dead_letter(message, "the task no longer exists (expired or deleted)")
                return "dead-lettered"
            if state["webhook_series"] != proposed:
                # The first message was already handled (SQS delivers at least once).
                logger.info("task %s: webhook already started, repeated first message ignored", task.task_id)
                return "duplicate"
            message = replace(message, event=event, webhook_id=state["webhook_event_id"], series=proposed)
            first_wait = self.schedule.delay_before(1)
            if first_wait > 0:
                self._send_due(replace(message, not_before=now + first_wait), now)
                return "scheduled"
        else:
            state = self.tasks.get_webhook_state(task.task_id) or {}
            if state.get("webhook_series") != message.series:
                logger.info("task %s: series %s was replaced by a redelivery", task.task_id, message.series)
                return "superseded"
            if state.get("webhook_status") in (DELIVERED, FAILED):
                # This series already ended; SQS handed us a copy of one of its messages.
                return "duplicate"
            message = replace(message, event=event, webhook_id=message.webhook_id or state["webhook_event_id"])

        return self._attempt(task, message)

    def _attempt(self, task: Task, message: NotifyMessage) -> str:
        key = self.keys.get(task.owner_id) if task.owner_id else None
        if key is None:
            return self._give_up(task, message, "the task's API key no longer exists: there is no secret to sign with")
        try:
            body = encode_body(
                build_payload(task, message.event, link=self._links(key.webhook_secret), instruments=self.instruments)
            )
            headers = signed_headers(key.webhook_secret, message.webhook_id, body)
        except WebhookSecretError as exc:
            return self._give_up(task, message, str(exc))

        result = delivery.attempt_delivery(
            task.webhook_url,
            body,
            headers,
            timeout=self.timeout_s,
            allow_private=self.allow_private,
            allow_http=self.allow_http,
            resolver=self.resolver,
        )
        last = message.attempt >= self.schedule.attempts
        if result.outcome == delivery.DELIVERED:
            status = DELIVERED
        elif result.outcome == delivery.STOP or last:
            status = FAILED
        else:
            status = PENDING
        recorded = self.tasks.record_webhook_attempt(
            task.task_id, result.record(message.attempt), status=status, series=message.series
        )
        logger.info(
            "task %s webhook %s attempt %d/%d: %s",
            task.task_id,
            message.webhook_id,
            message.attempt,
            self.schedule.attempts,
            status if recorded else "superseded",
        )
        if not recorded:
            return "superseded"
        if status == DELIVERED:
            return "delivered"
        if status == FAILED:
            reason = (
                f"stopped after attempt {message.attempt}: {result.error}"
                if result.outcome == delivery.STOP
                else f"all {self.schedule.attempts} attempts failed; last: {result.error}"
            )
            self._dead_letter(message, reason, status_code=result.status_code)
            return "failed"

        now = self.clock()
        wait = self.schedule.delay_before(message.attempt + 1)
        if result.retry_after_s is not None:
            wait = max(wait, result.retry_after_s)
        self._send_due(replace(message, attempt=message.attempt + 1, not_before=now + wait), now)
        return "retrying"

    def _links(self, secret: str) -> Link:
        """How this attempt links to the task's files (each attempt's links live from its own time on)."""
        if not self.public_api_url:
            _log_presigned_fallback()
            lifetime = link_lifetime_s(self.schedule)
            return lambda task, name: self.presign(task.outputs[name], lifetime)
        if not secret or not secret.startswith(SECRET_PREFIX):
            raise WebhookSecretError("the API key's webhook secret is missing or does not start with 'whsec_': "
                                     "create a new key")
        expires = int(self.clock()) + signed_link_lifetime_s(self.schedule)
        return lambda task, name: file_links.signed_url(
            self.public_api_url, secret, file_links.FileLink(task_id=task.task_id, name=name, expires=expires)
        )

    def _give_up(self, task: Task, message: NotifyMessage, reason: str) -> str:
        """End the delivery without calling the receiver, recording why as the attempt byId shows."""
        record = {"attempt": message.attempt, "at": iso_now(), "status_code": None, "error": reason, "duration_ms": 0}
        if self.tasks.record_webhook_attempt(task.task_id, record, status=FAILED, series=message.series):
            self._dead_letter(message, reason)
            return "failed"
        return "superseded"

    def _send_due(self, message: NotifyMessage, now: float) -> None:
        self.notify_queue.send(json.loads(message.to_body()), delay_s=sqs_delay_s(message.not_before, now))

    def _dead_letter(
        self, message: NotifyMessage | Mapping[str, Any], reason: str, *, status_code: int | None = None
    ) -> None:
        body = json.loads(message.to_body()) if isinstance(message, NotifyMessage) else dict(message)
        body["reason"] = reason
        if status_code is not None:
            body["last_status_code"] = status_code
        logger.warning("webhook dead-lettered: %s", reason)
        if self.dead_letters is None:
            raise RuntimeError(
                "MIDISCRIBE_NOTIFY_DLQ_URL is not set: cannot park a failed webhook delivery; "
                "the message stays on the notify queue until its own redrive policy moves it"
            )
        self.dead_letters.send(body)


@functools.cache
def _log_presigned_fallback() -> None:
    """Said once per process: every webhook would repeat it."""
    logger.warning(
        "MIDISCRIBE_PUBLIC_API_URL is not set: webhook links are presigned S3 URLs, which stop working when "
        "the credentials that signed them expire (hours, in Lambda); set it to the API's base URL"
    )
