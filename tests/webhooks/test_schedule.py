"""The retry schedule, the notify message format and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from midiscribe.service.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, Settings
from midiscribe.webhooks.payload import MAX_PRESIGN_S, link_lifetime_s
from midiscribe.webhooks.schedule import (
    MAX_RETRY_AFTER_S,
    InvalidNotifyMessageError,
    NotifyMessage,
    RetrySchedule,
    parse_retry_after,
    sqs_delay_s,
)


def test_default_schedule_is_standard_webhooks_and_one_attempt_per_step():
    schedule = RetrySchedule(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
    assert schedule.attempts == 10
    assert schedule.delay_before(1) == 0  # the first attempt is immediate, never jittered


def test_jitter_stays_within_bounds_and_varies():
    schedule = RetrySchedule([0, 300, 7200], jitter=0.15, rng=random.Random(7))
    waits = [schedule.delay_before(3) for _ in range(200)]
    assert all(7200 * 0.85 <= wait <= 7200 * 1.15 for wait in waits)
    assert len({round(wait) for wait in waits}) > 50


def test_attempt_outside_the_schedule_is_an_error():
    schedule = RetrySchedule([0, 5])
    with pytest.raises(ValueError, match="outside"):
        schedule.delay_before(3)


@pytest.mark.parametrize("delays", [[], [-1.0], [0, -5]])
def test_bad_schedules_are_refused(delays):
    with pytest.raises(ValueError):
        RetrySchedule(delays)


def test_schedule_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", "0, 1 ,2")
    assert Settings.from_env().webhook_retry_schedule == (0.0, 1.0, 2.0)
    monkeypatch.setenv("MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", "0,soon")
    with pytest.raises(ValueError, match="expected seconds separated by commas"):
        Settings.from_env()
    for value in ("0,nan", "0,inf", "-5"):  # nan was taken, and its retry never came
        monkeypatch.setenv("MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", value)
        with pytest.raises(ValueError, match="finite, non-negative"):
            Settings.from_env()


def test_links_live_through_the_schedule_but_never_past_seven_days():
    default = RetrySchedule(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
    assert link_lifetime_s(default) >= default.longest_span_s() >= sum(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
    assert link_lifetime_s(RetrySchedule([86400] * 20)) == MAX_PRESIGN_S


@pytest.mark.parametrize(
    ("not_before", "now", "expected"),
    [(100.0, 100.0, 0), (99.0, 100.0, 0), (100.2, 100.0, 1), (400.0, 100.0, 300), (100_000.0, 100.0, 900)],
)
def test_sqs_delay_is_what_is_left_capped_at_fifteen_minutes(not_before, now, expected):
    assert sqs_delay_s(not_before, now) == expected


def test_message_round_trip_and_first_message_defaults():
    first = NotifyMessage.parse('{"task_id": "t1", "event": "task.completed"}')
    assert (first.attempt, first.webhook_id, first.not_before, first.series) == (1, "", 0.0, "")
    later = NotifyMessage("t1", "task.failed", 3, "msg_x", 1234.5, "s1")
    assert NotifyMessage.parse(later.to_body()) == later


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"event": "task.completed"}', "no task_id"),
        ('{"task_id": "t", "event": "task.deleted"}', "task.deleted"),
        ('{"task_id": "t", "attempt": "two"}', "not numbers"),
        ('{"task_id": "t", "attempt": -1}', "below 1"),
    ],
)
def test_malformed_messages_are_refused(body, message):
    with pytest.raises(InvalidNotifyMessageError, match=message):
        NotifyMessage.parse(body)


def test_retry_after_in_seconds_and_as_a_date():
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after("120", now=now) == 120
    in_ten_minutes = format_datetime(datetime.fromtimestamp(now + 600, UTC), usegmt=True)
    assert parse_retry_after(in_ten_minutes, now=now) == pytest.approx(600)
    in_the_past = format_datetime(datetime.fromtimestamp(now - 600, UTC), usegmt=True)
    assert parse_retry_after(in_the_past, now=now) == 0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5e3"])
def test_unreadable_retry_after_is_ignored(value):
    assert parse_retry_after(value, now=0) is None


def test_retry_after_is_bounded():
    assert parse_retry_after("999999999", now=0) == MAX_RETRY_AFTER_S
