"""Connections to checked addresses: the URL's host named for HTTP and TLS, the address pinned.

A connection carries one exchange and never follows a redirect (``client.download`` does, checking each
target as it checked the first: a public host could redirect to a private one), and a deadline bounds a
whole exchange, not only each read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping

import midiscribe

from .urls import SafeTarget

USER_AGENT = f"midiscribe/{midiscribe.__version__}"


class RequestError(Exception):
    """The request could not be completed: connection refused, timeout, TLS or protocol error."""

    def __init__(self, message: str, *, timed_out: bool = False, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out
        # Whether the same request may well work if tried again soon: it timed out, the connection was
        # refused, reset or dropped, or the server said it was in trouble (5xx, 408, 429).
        self.retryable = timed_out if retryable is None else retryable


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection that goes to an already-checked address while naming the real host."""

    def __init__(self, target: SafeTarget, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address
        self._raw_sock: socket.socket | None = None

    def _open_socket(self) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._raw_sock = sock
        return sock

    def abort(self) -> None:
        """Unblock whatever this connection is waiting on (called from the deadline's timer thread)."""
        for sock in (self.sock, self._raw_sock):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # not connected yet, or already closed

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to a checked address; SNI and certificate verification use the URL's host name."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, target: SafeTarget, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target, address, timeout)
        self._tls_context = context

    def connect(self) -> None:
        sock = self._open_socket()
        try:
            self.sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class Deadline:
    """Aborts the connection in progress when the time is up.

    Socket timeouts limit each read, so a receiver sending one byte at a time could hold a request
    open for ever; this bounds the whole exchange (handshake, headers and body) instead.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self.conn: _PinnedHTTPConnection | None = None
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        if self.conn is not None:
            self.conn.abort()

    def cancel(self) -> None:
        self._timer.cancel()


class Cancellation:
    """Lets another thread stop a download (``client.download``'s ``cancellation``) at once.

    :meth:`cancel` unblocks the connection in progress, as a deadline does, and every later step of the
    download (a read, a redirect, a new try) sees :attr:`fired`. A multi-stem task whose transcription has
    already failed cancels its stems still downloading, rather than waiting for a slow host's last byte.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.conn: _PinnedHTTPConnection | None = None  # set by open_connection, as a Deadline's is

    @property
    def fired(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()
        conn = self.conn
        if conn is not None:
            conn.abort()  # a connection not connected yet is left alone: the download checks ``fired`` next

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` (a pause between tries), or less if cancelled; returns whether it was."""
        return self._event.wait(seconds)


def _default_tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def open_connection(
    target: SafeTarget,
    method: str,
    body: bytes | None,
    headers: Mapping[str, str],
    *,
    timeout: float,
    deadline: float | None,
    tls_context: ssl.SSLContext | None,
    watchdog: Deadline | Cancellation | None = None,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, str]:
    """Send the request to the first checked address that accepts a connection."""
    send_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    send_headers.update(headers)
    last_error: Exception | None = None
    for address in target.addresses:
        step_timeout = remaining(deadline, timeout)
        if target.scheme == "https":
            conn: _PinnedHTTPConnection = _PinnedHTTPSConnection(
                target, address, step_timeout, tls_context or _default_tls_context()
            )
        else:
            conn = _PinnedHTTPConnection(target, address, step_timeout)
        if watchdog is not None:
            watchdog.conn = conn
        try:
            conn.connect()
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            last_error = exc
            if isinstance(exc, ssl.SSLError | TimeoutError):
                # A TLS failure or a timeout on one address is an answer, not a reason to try the next.
                break
            continue
        try:
            conn.request(method, target.path, body=body, headers=send_headers)
            if conn.sock is not None:
                conn.sock.settimeout(remaining(deadline, timeout))
            response = conn.getresponse()
        except Exception as exc:
            conn.close()
            raise as_request_error(exc, target) from None
        return conn, response, address
    raise as_request_error(last_error or OSError("no address to connect to"), target)


def remaining(deadline: float | None, timeout: float) -> float:
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise RequestError(f"timed out after {timeout:g} s", timed_out=True)
    return left


def as_request_error(exc: BaseException, target: SafeTarget) -> RequestError:
    if isinstance(exc, RequestError):
        return exc
    where = f"{target.host}:{target.port}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return RequestError(f"timed out talking to {where}", timed_out=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RequestError(f"TLS certificate of {where} could not be verified: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError):
        return RequestError(f"TLS error with {where}: {exc.reason or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return RequestError(f"connection to {where} refused", retryable=True)
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return RequestError(f"{where} closed the connection early", retryable=True)
    if isinstance(exc, http.client.HTTPException):
        return RequestError(f"{where} sent an invalid HTTP response ({type(exc).__name__})")
    if isinstance(exc, OSError):
        return RequestError(f"could not connect to {where}: {exc.strerror or exc}",
                            retryable=isinstance(exc, ConnectionError))
    return RequestError(f"request to {where} failed: {type(exc).__name__}")
