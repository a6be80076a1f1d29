"""One delivery attempt and what its answer means.

| answer | outcome |
|---|---|
| 2xx | delivered |
| 410 Gone | stop: the receiver says the endpoint is gone for good |
| URL refused by the guard | stop: retrying cannot make a private address public |
| 3xx | retry: a failure, the redirect is not followed (its target was never checked) |
| 429, 5xx, timeout, refused connection, TLS error | retry (``Retry-After`` moves the next attempt later) |
| other 4xx | retry as well |

Other 4xx are retried, as Svix does, because they are usually a receiver being deployed or
misconfigured (a 401 from a rotated secret, a 404 from a route not yet live) and fixed within the
hours the schedule spans; an endpoint that wants no more deliveries answers 410.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from midiscribe import net
from midiscribe.domain.timestamps import iso_from_epoch

from .schedule import parse_retry_after

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
MAX_RESPONSE_BYTES = 4096
EXCERPT_CHARS = 200

DELIVERED = "delivered"
RETRY = "retry"
STOP = "stop"


@dataclass(frozen=True)
class AttemptResult:
    outcome: str  # DELIVERED, RETRY or STOP
    at: str  # ISO-8601 UTC time the attempt started
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after_s: float | None = None
    response_excerpt: str = ""

    def record(self, attempt: int) -> dict[str, object]:
        """The entry stored in the task's webhook_attempts list."""
        return {
            "attempt": attempt,
            "at": self.at,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


def attempt_delivery(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    allow_private: bool,
    allow_http: bool,
    resolver: net.Resolver | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> AttemptResult:
    at = iso_from_epoch(time.time())
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = net.request(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=timeout,
            max_response_bytes=MAX_RESPONSE_BYTES,
            allow_private=allow_private,
            allow_http=allow_http,
            resolver=resolver,
            tls_context=tls_context,
        )
    except net.UnsafeUrlError as exc:
        result = AttemptResult(STOP, at, None, f"URL refused: {exc}", elapsed_ms())
        _log(result)
        return result
    except net.RequestError as exc:
        error = f"timed out after {timeout:g} s" if exc.timed_out else exc.message
        result = AttemptResult(RETRY, at, None, error, elapsed_ms())
        _log(result)
        return result

    status = response.status
    excerpt = _excerpt(response.body)
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=time.time())
    if 200 <= status < 300:
        result = AttemptResult(DELIVERED, at, status, None, elapsed_ms(), None, excerpt)
    elif status == 410:
        result = AttemptResult(STOP, at, status, "410 Gone: the receiver asked for no more deliveries", elapsed_ms(), None, excerpt)
    elif 300 <= status < 400:
        location = response.headers.get("location", "")[:200]
        error = f"{status} redirect not followed" + (f" (Location: {location})" if location else "")
        result = AttemptResult(RETRY, at, status, error, elapsed_ms(), retry_after, excerpt)
    else:
        result = AttemptResult(RETRY, at, status, f"HTTP {status}", elapsed_ms(), retry_after, excerpt)
    _log(result)
    return result


def _excerpt(body: bytes) -> str:
    """The start of a reply, printable characters only, for logs: never the whole body."""
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    cleaned = "".join(char if char.isprintable() else " " for char in text)
    return cleaned[:EXCERPT_CHARS]


def _log(result: AttemptResult) -> None:
    logger.info(
        "webhook attempt %s: status=%s error=%s duration_ms=%d reply=%r",
        result.outcome,
        result.status_code,
        result.error,
        result.duration_ms,
        result.response_excerpt,
    )
