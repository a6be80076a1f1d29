"""How the notifier waits: chained SQS delays for long waits, jitter, Retry-After (a fake clock and queue)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from midiscribe.aws.keys import new_webhook_secret
from midiscribe.domain.tasks import Task, TaskKind, TaskSource, TaskStatus
from midiscribe.webhooks.notifier import WebhookNotifier
from midiscribe.webhooks.schedule import MAX_SQS_DELAY_S, NotifyMessage, RetrySchedule

from .receiver import Reply


@dataclass
class Key:
    webhook_secret: str = field(default_factory=new_webhook_secret)


class Keys:
    def __init__(self) -> None:
        self.key = Key()

    def get(self, key_id: str) -> Key | None:
        return self.key if key_id == "key_owner" else None


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []

    def send(self, body: dict[str, Any], *, delay_s: int = 0) -> str:
        assert 0 <= delay_s <= MAX_SQS_DELAY_S
        self.sent.append((body, delay_s))
        return str(len(self.sent))

    def pop(self) -> tuple[NotifyMessage, int]:
        body, delay = self.sent.pop(0)
        return NotifyMessage.parse(json.dumps(body)), delay


class Tasks:
    """The TaskStore protocol over one task in memory, with the same series rules as the repository."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.state: dict[str, Any] = {}
        self.attempts: list[dict[str, Any]] = []

    def get(self, task_id: str) -> Task | None:
        return self.task if task_id == self.task.task_id else None

    def get_webhook_state(self, task_id: str) -> dict[str, Any]:
        return {name: self.state.get(name, "") for name in ("webhook_event_id", "webhook_series", "webhook_status")}

    def claim_webhook_event(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any]:
        self.state.setdefault("webhook_event_id", webhook_id)
        self.state.setdefault("webhook_series", series)
        self.state.setdefault("webhook_status", "pending")
        return self.get_webhook_state(task_id)

    def start_webhook_series(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any]:
        self.state.setdefault("webhook_event_id", webhook_id)
        self.state.update(webhook_series=series, webhook_status="pending")
        return self.get_webhook_state(task_id)

    def record_webhook_attempt(self, task_id: str, attempt: dict[str, Any], *, status: str, series: str) -> bool:
        if self.state.get("webhook_series") != series:
            return False
        self.attempts.append(attempt)
        self.state["webhook_status"] = status
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _notifier(url: str, delays: list[float], *, jitter: float = 0.0, seed: int = 1):
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id="key_owner", source=TaskSource(kind="s3", key="k"),
                    retention_days=1, webhook_url=url)
    task.status = TaskStatus.FAILED
    task.error = "not audio"
    tasks, queue, dlq, clock = Tasks(task), Queue(), Queue(), Clock()
    notifier = WebhookNotifier(
        tasks=tasks, keys=Keys(), notify_queue=queue, dead_letters=dlq,
        presign=lambda key, seconds: f"https://bucket.example/{key}?expires={seconds}",
        schedule=RetrySchedule(delays, jitter=jitter, rng=random.Random(seed)),
        allow_private=True, allow_http=True, timeout_s=2.0, clock=clock,
    )
    return notifier, tasks, queue, dlq, clock


def test_long_waits_are_chained_in_steps_of_at_most_fifteen_minutes(receiver):
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [3600, 0])
    start = clock.now
    assert notifier.handle(NotifyMessage(tasks.task.task_id, "task.failed")) == "scheduled"

    hops = []
    while True:
        message, delay = queue.pop()
        assert message.not_before == start + 3600
        hops.append(delay)
        clock.now += delay  # SQS hands the message back after its delay
        outcome = notifier.handle(message)
        if outcome != "waiting":
            break
    assert hops == [900, 900, 900, 900]
    assert outcome == "delivered"
    assert len(receiver.requests) == 1
    assert tasks.state["webhook_status"] == "delivered"


def test_early_message_is_sent_back_without_an_attempt(receiver):
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0, 60])
    tasks.claim_webhook_event(tasks.task.task_id, webhook_id="msg_x", series="s1")
    early = NotifyMessage(tasks.task.task_id, "task.failed", 2, "msg_x", clock.now + 60, "s1")
    assert notifier.handle(early) == "waiting"
    assert queue.pop() == (early, 60)
    assert receiver.requests == []


def test_retries_wait_per_schedule_with_jitter(receiver):
    receiver.default = Reply(500)
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0, 1000, 100_000], jitter=0.2, seed=3)
    start = clock.now
    assert notifier.handle(NotifyMessage(tasks.task.task_id, "task.failed")) == "retrying"
    message, delay = queue.pop()
    assert message.attempt == 2
    assert 800 <= message.not_before - start <= 1200 and message.not_before - start != 1000
    assert delay == min(900, round(message.not_before - start + 0.5))


def test_retry_after_moves_the_next_attempt_later(receiver):
    receiver.script = [Reply(429, b"", {"Retry-After": "120"})]
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0, 5, 5])
    assert notifier.handle(NotifyMessage(tasks.task.task_id, "task.failed")) == "retrying"
    message, delay = queue.pop()
    assert (message.not_before - clock.now, delay) == (120, 120)


def test_short_retry_after_does_not_shorten_the_schedule(receiver):
    receiver.script = [Reply(503, b"", {"Retry-After": "1"})]
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0, 300])
    notifier.handle(NotifyMessage(tasks.task.task_id, "task.failed"))
    message, delay = queue.pop()
    assert (message.not_before - clock.now, delay) == (300, 300)


def test_superseded_series_is_dropped(receiver):
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0, 0])
    tasks.claim_webhook_event(tasks.task.task_id, webhook_id="msg_x", series="new")
    stale = NotifyMessage(tasks.task.task_id, "task.failed", 2, "msg_x", 0.0, "old")
    assert notifier.handle(stale) == "superseded"
    assert receiver.requests == [] and queue.sent == [] and dlq.sent == []


def test_without_a_dlq_url_a_failure_is_raised_not_dropped(receiver):
    receiver.default = Reply(410)
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0])
    notifier.dead_letters = None
    with pytest.raises(RuntimeError, match="MIDISCRIBE_NOTIFY_DLQ_URL"):
        notifier.handle(NotifyMessage(tasks.task.task_id, "task.failed"))


@pytest.mark.parametrize("final_status", ["delivered", "failed"])
def test_copy_of_a_message_from_a_finished_series_is_ignored(receiver, final_status):
    notifier, tasks, queue, dlq, clock = _notifier(receiver.url(), [0, 0])
    tasks.claim_webhook_event(tasks.task.task_id, webhook_id="msg_x", series="s1")
    tasks.state["webhook_status"] = final_status
    copy = NotifyMessage(tasks.task.task_id, "task.failed", 2, "msg_x", 0.0, "s1")
    assert notifier.handle(copy) == "duplicate"
    assert receiver.requests == [] and queue.sent == [] and dlq.sent == []
