"""Outbound HTTP to user-supplied URLs without letting them reach our own network.

A webhook_url or audio_url is chosen by whoever holds an API key, and the function that calls it
runs inside an AWS account: a URL pointing at 169.254.169.254 (the instance metadata service), at
localhost or at a VPC address would turn the service into a proxy into that account (SSRF). So:

- only ``https`` (``http`` when the stack is configured for local development);
- no ``user:password@`` in the URL (credentials would be sent to a host we do not vouch for, and
  ``https://trusted.com@evil.example`` is a classic way to make a URL look like something else);
- the host name is resolved once, *every* address in the answer is checked, and the request is
  sent to one of those checked addresses; the name is never resolved again, so a DNS answer that
  changes between the check and the connection (DNS rebinding) changes nothing;
- redirects are never followed (a public host could redirect to a private one);
- response bodies are read only up to a cap, with timeouts.

The checks take place on the addresses, not on the spelling of the host, so decimal, octal or
hex spellings of 127.0.0.1 are caught by the same rule once the resolver has turned them into
addresses.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import midiscribe

Resolver = Callable[[str, int], Iterable[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

USER_AGENT = f"midiscribe/{midiscribe.__version__}"
_DOWNLOAD_CHUNK = 64 * 1024


class UnsafeUrlError(ValueError):
    """The URL may not be called: wrong scheme, credentials in it, or it leads to a non-public address."""


class RequestError(Exception):
    """The request could not be completed: connection refused, timeout, TLS or protocol error."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out


class DownloadError(RequestError):
    """A download failed: the server answered with an error or a redirect, or sent too much."""


@dataclass(frozen=True)
class SafeTarget:
    """A URL that passed the checks, with the addresses its host resolved to (all of them checked)."""

    url: str
    scheme: str
    host: str  # as sent in the Host header and for TLS (SNI and certificate check); IDNA-encoded
    port: int
    path: str  # path and query, what goes on the request line
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes  # at most max_response_bytes
    truncated: bool = False  # True when the body was longer than the cap
    address: str = ""  # the checked address the request went to


# Each range a user-supplied URL may not reach, with the reason given back to the caller.
_BLOCKED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", "private (10.0.0.0/8)"),
        ("100.64.0.0/10", "carrier-grade NAT (100.64.0.0/10)"),
        ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
        ("169.254.0.0/16", "link-local (169.254.0.0/16, includes the cloud metadata service)"),
        ("172.16.0.0/12", "private (172.16.0.0/12)"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
        ("192.0.2.0/24", "documentation (192.0.2.0/24)"),
        ("192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"),
        ("192.168.0.0/16", "private (192.168.0.0/16)"),
        ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
        ("198.51.100.0/24", "documentation (198.51.100.0/24)"),
        ("203.0.113.0/24", "documentation (203.0.113.0/24)"),
        ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
        ("255.255.255.255/32", "broadcast (255.255.255.255)"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    )
)

_BLOCKED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "unspecified (::)"),
        ("::1/128", "loopback (::1)"),
        ("::/96", "IPv4-compatible (::/96, deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
        ("100::/64", "discard-only (100::/64)"),
        ("2001::/32", "Teredo tunnel (2001::/32)"),
        ("2001::/23", "IETF protocol assignments (2001::/23)"),
        ("2001:db8::/32", "documentation (2001:db8::/32)"),
        ("fc00::/7", "unique local, the IPv6 private range (fc00::/7)"),
        ("fe80::/10", "link-local (fe80::/10)"),
        ("fec0::/10", "site-local (fec0::/10, deprecated)"),
        ("ff00::/8", "multicast (ff00::/8)"),
    )
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def blocked_reason(address: str | IPAddress) -> str | None:
    """Why an address may not be reached from a user-supplied URL, or None when it is public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address reach that IPv4 host, so they are judged by it.
        embedded, kind = _embedded_v4(ip)
        if embedded is not None:
            inner = _v4_reason(embedded)
            return f"{kind} address of {embedded}: {inner}" if inner else None
        for network, reason in _BLOCKED_V6:
            if ip in network:
                return reason
        if not ip.is_global:
            return "not a globally routable address"
        return None
    return _v4_reason(ip)


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _BLOCKED_V4:
        if ip in network:
            return reason
    # A catch-all for ranges IANA adds later that the table above does not name yet.
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    return None, ""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver returns for host (both families), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_url(
    url: str, *, allow_private: bool, allow_http: bool, resolver: Resolver | None = None
) -> SafeTarget:
    """Check a URL and resolve its host once; raise UnsafeUrlError saying what is wrong and how to fix it."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrlError("the URL is empty: give a full https:// URL")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise UnsafeUrlError("the URL contains spaces or control characters: percent-encode them")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(f"the URL {url!r} cannot be parsed ({exc}): give a full https:// URL") from None

    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_http else ("https",)
    if scheme not in allowed:
        if scheme == "http":
            raise UnsafeUrlError("http:// URLs are not accepted by this deployment: use an https:// URL")
        shown = f"'{scheme}://'" if scheme else "no scheme"
        raise UnsafeUrlError(f"the URL has {shown}: only {' and '.join(allowed)} URLs are accepted")
    if "@" in parts.netloc:
        raise UnsafeUrlError(
            "the URL contains user credentials (user:password@host): remove them; "
            "use a token in the path or query instead"
        )
    raw_host = parts.hostname
    if not raw_host:
        raise UnsafeUrlError(f"the URL {url!r} has no host name")
    if port is None:
        port = 443 if scheme == "https" else 80
    if port == 0:
        raise UnsafeUrlError("the URL's port 0 is not a usable port")

    literal = _ip_literal(raw_host)
    if literal is not None:
        host = str(literal)
        addresses: tuple[str, ...] = (host,)
    else:
        host = _idna_host(raw_host)
        addresses = _resolve(host, port, resolver or system_resolver)

    if not allow_private:
        for address in addresses:
            reason = blocked_reason(address)
            if reason:
                shown = address if literal is not None else f"{host} resolves to {address}, which"
                raise UnsafeUrlError(
                    f"the URL points to a non-public address: {shown} is {reason}; "
                    "give a URL on the public internet"
                )

    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    # The request line is ASCII: percent-encode what a browser would (é → %C3%A9), leave the rest as given.
    path = "".join(char if char.isascii() else quote(char, safe="") for char in path)
    return SafeTarget(url=url, scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _idna_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UnsafeUrlError(f"the host name {host!r} is not a valid domain name") from None


def _resolve(host: str, port: int, resolver: Resolver) -> tuple[str, ...]:
    try:
        answer = list(resolver(host, port))
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrlError(f"the host {host!r} cannot be resolved ({exc}): check the URL's host name") from None
    addresses: list[str] = []
    for entry in answer:
        parsed = _ip_literal(str(entry).split("%", 1)[0])
        if parsed is None:
            raise UnsafeUrlError(f"the host {host!r} resolved to {entry!r}, which is not an IP address")
        text = str(entry) if "%" in str(entry) else str(parsed)
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UnsafeUrlError(f"the host {host!r} has no addresses: check the URL's host name")
    return tuple(addresses)


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


class _Deadline:
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


def _default_tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _open(
    target: SafeTarget,
    method: str,
    body: bytes | None,
    headers: Mapping[str, str],
    *,
    timeout: float,
    deadline: float | None,
    tls_context: ssl.SSLContext | None,
    watchdog: _Deadline | None = None,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, str]:
    """Send the request to the first checked address that accepts a connection."""
    send_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    send_headers.update(headers)
    last_error: Exception | None = None
    for address in target.addresses:
        step_timeout = _remaining(deadline, timeout)
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
                conn.sock.settimeout(_remaining(deadline, timeout))
            response = conn.getresponse()
        except Exception as exc:
            conn.close()
            raise _as_request_error(exc, target) from None
        return conn, response, address
    raise _as_request_error(last_error or OSError("no address to connect to"), target)


def _remaining(deadline: float | None, timeout: float) -> float:
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise RequestError(f"timed out after {timeout:g} s", timed_out=True)
    return left


def _as_request_error(exc: BaseException, target: SafeTarget) -> RequestError:
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
        return RequestError(f"connection to {where} refused")
    if isinstance(exc, http.client.HTTPException):
        return RequestError(f"{where} sent an invalid HTTP response ({type(exc).__name__})")
    if isinstance(exc, OSError):
        return RequestError(f"could not connect to {where}: {exc.strerror or exc}")
    return RequestError(f"request to {where} failed: {type(exc).__name__}")


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
    watchdog = _Deadline(timeout)
    conn: http.client.HTTPConnection | None = None
    try:
        conn, response, address = _open(
            target, method.upper(), body, headers or {}, timeout=timeout, deadline=deadline,
            tls_context=tls_context, watchdog=watchdog,
        )
        chunks: list[bytes] = []
        received = 0
        truncated = False
        # One byte past the cap tells a body that was exactly the cap from one that was longer.
        while received <= max_response_bytes:
            if conn.sock is not None:
                conn.sock.settimeout(_remaining(deadline, timeout))
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
        raise _as_request_error(exc, target) from None
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
) -> int:
    """GET url into destination, at most max_bytes; returns the number of bytes written.

    ``timeout`` applies to connecting and to each read (a stalled server fails; a slow, steady one
    may take longer in total). Raises UnsafeUrlError, or DownloadError saying what went wrong.
    """
    target = check_url(url, allow_private=allow_private, allow_http=allow_http, resolver=resolver)
    try:
        conn, response, _ = _open(
            target, "GET", None, {"Accept": "*/*"}, timeout=timeout, deadline=None, tls_context=tls_context
        )
    except RequestError as exc:
        raise DownloadError(f"could not download {_shown(url)}: {exc.message}", timed_out=exc.timed_out) from None
    try:
        status = response.status
        if 300 <= status < 400:
            location = response.getheader("Location", "")
            where = f" to {location[:200]}" if location else ""
            raise DownloadError(
                f"{_shown(url)} answered {status} (a redirect{where}); redirects are not followed: "
                "give the final URL of the file"
            )
        if status >= 400:
            raise DownloadError(f"{_shown(url)} answered HTTP {status} {response.reason}: check that the URL is public and correct")
        if not 200 <= status < 300:
            raise DownloadError(f"{_shown(url)} answered HTTP {status}, which is not a file")
        declared = response.getheader("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
            raise DownloadError(
                f"{_shown(url)} is {int(declared)} bytes, more than the limit of {max_bytes} bytes: "
                "send a smaller file or upload it instead"
            )
        written = 0
        while True:
            chunk = response.read1(_DOWNLOAD_CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > max_bytes:
                raise DownloadError(
                    f"{_shown(url)} sent more than the limit of {max_bytes} bytes: "
                    "send a smaller file or upload it instead"
                )
            destination.write(chunk)
        return written
    except DownloadError:
        raise
    except Exception as exc:
        error = _as_request_error(exc, target)
        raise DownloadError(f"could not download {_shown(url)}: {error.message}", timed_out=error.timed_out) from None
    finally:
        conn.close()


def _shown(url: str) -> str:
    """The URL without its query string, which often holds tokens that should not end up in messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:300]

