"""Times as the service writes them: ISO-8601 in UTC with milliseconds and a ``Z``.

The one format every stored or sent time uses (task items, key records, webhook attempts and
payloads). It sorts as text, which the tasks table's ``by_owner`` index relies on.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-01-31T12:34:56.789Z``: a moment in UTC, to the millisecond."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_now() -> str:
    return iso(utc_now())


def iso_from_epoch(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, UTC))


def epoch_ms(stamp: str) -> int | None:
    """Milliseconds since the epoch of a stamp written by :func:`iso` ('' gives None)."""
    if not stamp:
        return None
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
