"""The retry schedule and the notify-queue message that carries a delivery from one attempt to the next.

SQS delays a message by at most 15 minutes, and the schedule waits up to a day between attempts.
Each message therefore says when its attempt is due (``not_before``, epoch seconds); a message
that arrives early is sent back to the queue with the remaining delay (at most 15 minutes), and
so on until the attempt is due. No state lives anywhere but in the message and the task item.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime

from midiscribe.domain.messages import EVENTS

MAX_SQS_DELAY_S = 900
# A receiver's Retry-After moves the next attempt later, but never by more than this: a typo such
# as "Retry-After: 9999999" must not park a delivery for months.
MAX_RETRY_AFTER_S = 24 * 3600


class InvalidNotifyMessageError(ValueError):
    """A notify-queue message that is not one this service sends."""


@dataclass(frozen=True)
class NotifyMessage:
    """One notify-queue message: deliver ``event`` of ``task_id`` (attempt number ``attempt``).

    The worker sends only ``task_id`` and ``event``; retries add the rest. ``series`` names one
    run through the schedule: a redelivery starts a new series, and messages of an older series
    are dropped, so a redelivery replaces a retry chain instead of running beside it.
    """

    task_id: str
    event: str = ""
    attempt: int = 1
    webhook_id: str = ""
    not_before: float = 0.0
    series: str = ""

    @classmethod
    def parse(cls, body: str) -> NotifyMessage:
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            raise InvalidNotifyMessageError("notify message body is not JSON") from None
        if not isinstance(data, dict):
            raise InvalidNotifyMessageError("notify message body is not a JSON object")
        task_id = data.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise InvalidNotifyMessageError("notify message has no task_id")
        event = data.get("event") or ""
        if event and event not in EVENTS:
            raise InvalidNotifyMessageError(f"notify message event {event!r} is not one of {', '.join(EVENTS)}")
        try:
            attempt = int(data.get("attempt") or 1)
            not_before = float(data.get("not_before") or 0.0)
        except (TypeError, ValueError):
            raise InvalidNotifyMessageError("notify message attempt/not_before are not numbers") from None
        if attempt < 1:
            raise InvalidNotifyMessageError(f"notify message attempt {attempt} is below 1")
        return cls(
            task_id=task_id,
            event=str(event),
            attempt=attempt,
            webhook_id=str(data.get("webhook_id") or ""),
            not_before=not_before,
            series=str(data.get("series") or ""),
        )

    def to_body(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


def new_series() -> str:
    """A name for one run through the schedule (the first delivery, or a redelivery)."""
    return uuid.uuid4().hex[:16]


class RetrySchedule:
    """``delays[i]`` is the wait before attempt i + 1 (the first is usually 0: immediately).

    Each wait is jittered by ±``jitter`` so that many deliveries failing together (a receiver that
    was down) do not all come back at the same second.
    """

    def __init__(self, delays: Sequence[float], *, jitter: float = 0.15, rng: random.Random | None = None):
        if not delays:
            raise ValueError("a retry schedule needs at least one attempt")
        if any(delay < 0 for delay in delays):
            raise ValueError(f"retry delays cannot be negative: {list(delays)}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter {jitter} must be between 0 and 1")
        self.delays = tuple(float(delay) for delay in delays)
        self.jitter = jitter
        self._rng = rng or random.Random()  # nosec B311 # jitter spreads retries out, it guards nothing

    @property
    def attempts(self) -> int:
        return len(self.delays)

    def delay_before(self, attempt: int) -> float:
        """The jittered wait before attempt number ``attempt`` (1-based)."""
        if not 1 <= attempt <= self.attempts:
            raise ValueError(f"attempt {attempt} is outside the schedule's {self.attempts} attempts")
        base = self.delays[attempt - 1]
        if base == 0 or self.jitter == 0:
            return base
        return base * (1 + self._rng.uniform(-self.jitter, self.jitter))

    def longest_span_s(self) -> float:
        """The longest the whole schedule can take with jitter (a receiver's Retry-After aside)."""
        return sum(delay * (1 + self.jitter) for delay in self.delays)


def sqs_delay_s(not_before: float, now: float) -> int:
    """The DelaySeconds for a message due at ``not_before``: what is left, at most SQS's 15 minutes."""
    return max(0, min(MAX_SQS_DELAY_S, math.ceil(not_before - now)))


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), bounded; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(min(int(text), MAX_RETRY_AFTER_S))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, min(moment.timestamp() - now, float(MAX_RETRY_AFTER_S)))
