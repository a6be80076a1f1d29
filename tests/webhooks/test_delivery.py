"""One delivery attempt against a real receiver on 127.0.0.1: what each answer means."""

from __future__ import annotations

import logging
import socket

import pytest

from midiscribe.webhooks.delivery import DELIVERED, RETRY, STOP, attempt_delivery

from .receiver import Reply

BODY = b'{"task_id":"t1"}'
HEADERS = {"Content-Type": "application/json", "webhook-id": "msg_1"}


def _attempt(url, **overrides):
    options = {"timeout": 5.0, "allow_private": True, "allow_http": True}
    options.update(overrides)
    return attempt_delivery(url, BODY, HEADERS, **options)


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(200), DELIVERED),
        (Reply(201), DELIVERED),
        (Reply(204, b""), DELIVERED),
        (Reply(410, b"gone"), STOP),
        (Reply(301, b"", {"Location": "/elsewhere"}), RETRY),
        (Reply(302, b"", {"Location": "/elsewhere"}), RETRY),
        (Reply(307, b"", {"Location": "/elsewhere"}), RETRY),
        (Reply(400), RETRY),
        (Reply(401), RETRY),
        (Reply(404), RETRY),
        (Reply(429), RETRY),
        (Reply(500), RETRY),
        (Reply(502), RETRY),
        (Reply(503), RETRY),
    ],
)
def test_answers_and_their_outcomes(receiver, reply, outcome):
    receiver.script = [reply]
    result = _attempt(receiver.url())
    assert (result.outcome, result.status_code) == (outcome, reply.status)
    assert receiver.paths() == ["/hook"]  # redirects are never followed
    assert (result.error is None) == (outcome == DELIVERED)


def test_the_request_carries_body_and_headers(receiver):
    _attempt(receiver.url("/in?token=abc"))
    request = receiver.requests[0]
    assert (request.method, request.path, request.body) == ("POST", "/in?token=abc", BODY)
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["content-type"] == "application/json"


def test_redirect_error_names_the_location(receiver):
    receiver.script = [Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data"})]
    result = _attempt(receiver.url())
    assert "redirect not followed" in result.error
    assert "169.254.169.254" in result.error
    assert receiver.paths() == ["/hook"]


def test_retry_after_is_reported(receiver):
    receiver.script = [Reply(429, b"slow down", {"Retry-After": "120"})]
    assert _attempt(receiver.url()).retry_after_s == 120


def test_timeout_is_retried(receiver):
    receiver.script = [Reply(200, delay_s=1.5)]
    result = _attempt(receiver.url(), timeout=0.3)
    assert (result.outcome, result.status_code, result.error) == (RETRY, None, "timed out after 0.3 s")


def test_refused_connection_is_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _attempt(f"http://127.0.0.1:{port}/hook")
    assert result.outcome == RETRY
    assert "refused" in result.error


def test_private_url_in_a_deployed_stack_stops_without_connecting(receiver):
    result = _attempt(receiver.url(), allow_private=False)
    assert result.outcome == STOP
    assert "URL refused" in result.error and "loopback" in result.error
    assert receiver.requests == []


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_only_a_short_excerpt_of_the_reply_reaches_logs_and_results(receiver):
    receiver.script = [Reply(500, b"SECRET-START" + b"A" * 100_000 + b"SECRET-END\x00\x1b[31m")]
    # A handler on the module's own logger: whatever the process did to propagation, we see its lines.
    delivery_logger = logging.getLogger("midiscribe.webhooks.delivery")
    collect, level = _Collect(), delivery_logger.level
    delivery_logger.addHandler(collect)
    delivery_logger.setLevel(logging.DEBUG)
    try:
        result = _attempt(receiver.url())
    finally:
        delivery_logger.removeHandler(collect)
        delivery_logger.setLevel(level)
    assert result.response_excerpt.startswith("SECRET-START")
    assert len(result.response_excerpt) == 200
    [line] = collect.lines
    assert "status=500" in line and "SECRET-START" in line
    assert "SECRET-END" not in line and "\x1b" not in line
    assert len(line) < 400


def test_attempt_record_has_the_fields_byid_shows(receiver):
    receiver.script = [Reply(503)]
    record = _attempt(receiver.url()).record(2)
    assert set(record) == {"attempt", "at", "status_code", "error", "duration_ms"}
    assert record["attempt"] == 2 and record["status_code"] == 503 and record["at"].endswith("Z")
    assert isinstance(record["duration_ms"], int)
