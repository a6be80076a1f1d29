"""One request to a checked URL, or a download of one to a file, with size caps and time limits."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

from .connections import Cancellation, Deadline, RequestError, as_request_error, open_connection, remaining
from .urls import Resolver, UnsafeUrlError, check_url

_DOWNLOAD_CHUNK = 64 * 1024
# A download follows at most this many redirects (file hosts send a share link to their storage, and a
# CDN may add one more), each to a URL checked exactly as the first one was.
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


class DownloadError(RequestError):
    """A download failed: the server answered with an error, redirected too often or to a refused URL, or sent
    too much or too little. ``retryable`` says whether trying again soon may work."""


class DownloadCancelled(DownloadError):
    """The download was stopped by its ``cancellation`` (the caller no longer wants the file)."""


# Answers that say "not now" rather than "not this": the same request may work a little later.
_RETRYABLE_STATUSES = (408, 429)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes  # at most max_response_bytes
    truncated: bool = False  # True when the body was longer than the cap
    address: str = ""  # the checked address the request went to


def _response_headers(response: http.client.HTTPResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    max_response_bytes: int,
    allow_private: bool,
    allow_http: bool,
    resolver: Resolver | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> Response:
    """One request to a checked URL; ``timeout`` bounds the whole exchange, redirects are returned as is.

    Raises UnsafeUrlError before any connection is made, or RequestError when there is no HTTP answer.
    """
    target = check_url(url, allow_private=allow_private, allow_http=allow_http, resolver=resolver)
    deadline = time.monotonic() + timeout
    watchdog = Deadline(timeout)
    conn: http.client.HTTPConnection | None = None
    try:
        conn, response, address = open_connection(
            target, method.upper(), body, headers or {}, timeout=timeout, deadline=deadline,
            tls_context=tls_context, watchdog=watchdog,
        )
        chunks: list[bytes] = []
        received = 0
        truncated = False
        # One byte past the cap tells a body that was exactly the cap from one that was longer.
        while received <= max_response_bytes:
            if conn.sock is not None:
                conn.sock.settimeout(remaining(deadline, timeout))
            chunk = response.read1(max_response_bytes + 1 - received)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        if watchdog.fired:
            raise RequestError(f"timed out after {timeout:g} s", timed_out=True)
        data = b"".join(chunks)
        if len(data) > max_response_bytes:
            data, truncated = data[:max_response_bytes], True
        return Response(
            status=response.status,
            headers=_response_headers(response),
            body=data,
            truncated=truncated,
            address=address,
        )
    except Exception as exc:
        if watchdog.fired:
            raise RequestError(f"timed out after {timeout:g} s", timed_out=True) from None
        raise as_request_error(exc, target) from None
    finally:
        watchdog.cancel()
        # Never drain what is left: the connection is not reused, and the sender does not decide how much we read.
        if conn is not None:
            conn.close()


def download(
    url: str,
    destination: BinaryIO,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    allow_http: bool,
    resolver: Resolver | None = None,
    tls_context: ssl.SSLContext | None = None,
    total_timeout: float | None = None,
    deadline: float | None = None,
    cancellation: Cancellation | None = None,
) -> int:
    """GET url into destination, at most max_bytes; returns the number of bytes written.

    Redirects are followed, up to MAX_REDIRECTS, each to a URL checked as ``url`` was (scheme, no
    credentials, every address public unless ``allow_private``): a public host cannot send the download
    into a private network. ``timeout`` applies to connecting and to each read (a stalled server fails, and
    may be tried again); ``total_timeout``, if given, to the whole download, redirects included: a server
    that sends a little now and then keeps every read alive, so it is what stops one from holding a worker.
    ``deadline`` (a ``time.monotonic()`` instant) ends the download there instead, for a caller whose
    ``total_timeout`` covers several tries: the message still names ``total_timeout``. ``cancellation``, when
    another thread cancels it, stops the download where it is (a read in progress included) with
    DownloadCancelled; what was written stays in ``destination``.
    Raises UnsafeUrlError for ``url`` itself, or DownloadError saying what went wrong (a refused redirect
    among them); an error writing to ``destination`` (a full disk) is raised as the ``OSError`` it is.
    """
    target = check_url(url, allow_private=allow_private, allow_http=allow_http, resolver=resolver)
    if deadline is None and total_timeout is not None:
        deadline = time.monotonic() + total_timeout

    def too_slow() -> DownloadError:
        limit = f"{total_timeout:g} s" if total_timeout is not None else "its time limit"
        return DownloadError(f"downloading {_shown(url)} took longer than {limit} (the server sends too "
                             "slowly): upload the file instead (POST /v1/uploads) or give a faster URL")

    def check_cancelled() -> None:
        if cancellation is not None and cancellation.fired:
            raise DownloadCancelled(f"the download of {_shown(url)} was cancelled", retryable=False) from None

    current = url
    for hop in range(MAX_REDIRECTS + 1):
        check_cancelled()
        try:
            conn, response, _ = open_connection(
                target, "GET", None, {"Accept": "*/*"}, timeout=timeout, deadline=deadline, tls_context=tls_context,
                watchdog=cancellation,
            )
        except RequestError as exc:
            check_cancelled()
            if deadline is not None and time.monotonic() >= deadline:
                raise too_slow() from None
            raise DownloadError(f"could not download {_shown(current)}: {exc.message}",
                                timed_out=exc.timed_out, retryable=exc.retryable) from None
        if response.status not in _REDIRECTS:
            break
        location = (response.getheader("Location") or "").strip()
        conn.close()
        if not location:
            raise DownloadError(f"{_shown(current)} answered {response.status} (a redirect) without saying where to: "
                                "give the final URL of the file")
        if hop == MAX_REDIRECTS:
            raise DownloadError(f"{_shown(url)} redirected more than {MAX_REDIRECTS} times: give the final URL of "
                                "the file")
        current = urljoin(current, location)
        try:
            target = check_url(current, allow_private=allow_private, allow_http=allow_http, resolver=resolver)
        except UnsafeUrlError as refused:
            raise DownloadError(f"{_shown(url)} redirects to {_shown(current)}, which is refused: {refused}") from None
    try:
        status = response.status
        if 300 <= status < 400:
            raise DownloadError(f"{_shown(current)} answered HTTP {status}, which is not a file: give the file's URL")
        if status >= 500 or status in _RETRYABLE_STATUSES:
            raise DownloadError(f"{_shown(current)} answered HTTP {status} {response.reason}: the server is in "
                                "trouble or busy; try again later", retryable=True)
        if status >= 400:
            raise DownloadError(f"{_shown(current)} answered HTTP {status} {response.reason}: check that the URL is "
                                "public and correct")
        if not 200 <= status < 300:
            raise DownloadError(f"{_shown(current)} answered HTTP {status}, which is not a file")
        declared = response.getheader("Content-Length")
        length = int(declared) if declared is not None and declared.strip().isdigit() else None
        if length is not None and length > max_bytes:
            raise DownloadError(
                f"{_shown(url)} is {length} bytes, more than the limit of {max_bytes} bytes: "
                "send a smaller file or upload it instead"
            )
        written = 0
        while True:
            check_cancelled()
            if deadline is not None:
                if time.monotonic() >= deadline:
                    raise too_slow()
                if conn.sock is not None:
                    conn.sock.settimeout(min(timeout, remaining(deadline, timeout)))
            chunk = response.read1(_DOWNLOAD_CHUNK)
            if not chunk:
                check_cancelled()  # an aborted read ends as if the server had closed
                break
            written += len(chunk)
            if written > max_bytes:
                raise DownloadError(
                    f"{_shown(url)} sent more than the limit of {max_bytes} bytes: "
                    "send a smaller file or upload it instead"
                )
            try:
                destination.write(chunk)
            except OSError as failed:
                raise _WriteFailed(failed) from failed
        if length is not None and written < length:
            # read1 ends quietly when the server closes early; a part of the file is not the file.
            raise DownloadError(f"the download of {_shown(url)} stopped after {written} of {length} bytes "
                                "(the server closed the connection): try again", retryable=True)
        return written
    except DownloadError:
        raise
    except _WriteFailed as failed:
        raise failed.error from None  # the destination's own error (a full disk), not the download's
    except Exception as exc:
        check_cancelled()
        if deadline is not None and time.monotonic() >= deadline:
            raise too_slow() from None
        error = as_request_error(exc, target)
        raise DownloadError(f"could not download {_shown(url)}: {error.message}", timed_out=error.timed_out,
                            retryable=error.retryable) from None
    finally:
        conn.close()


class _WriteFailed(Exception):
    """Writing to the destination failed: raised as its own ``OSError``, never as a DownloadError."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def _shown(url: str) -> str:
    """The URL without its query string or any ``user:password@``, which often hold tokens that should not
    end up in messages (a redirect's target is the server's choice, not the user's)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"[:300]
