"""Checking a user-supplied URL: scheme, credentials, port, and every address its host resolves to.

The host is resolved once; the checked addresses travel with the URL (:class:`SafeTarget`) and the
connection goes to one of them, so a DNS answer that changes between check and connection (DNS
rebinding) changes nothing.

Whatever ``allow_private`` says, a URL never leads to the AWS endpoint the functions themselves use
(boto3's ``AWS_ENDPOINT_URL``: the local stack's moto, which answers anyone on loopback without checking
a signature). There, a webhook POSTed to ``/moto-api/reset`` wiped every key, task and object, and an
``audio_url`` read any object in the bucket, another key's uploads included.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .addresses import IPAddress, blocked_reason

Resolver = Callable[[str, int], Iterable[str]]


class UnsafeUrlError(ValueError):
    """The URL may not be called: wrong scheme, credentials in it, or it leads to a non-public address."""


@dataclass(frozen=True)
class SafeTarget:
    """A URL that passed the checks, with the addresses its host resolved to (all of them checked)."""

    url: str
    scheme: str
    host: str  # as sent in the Host header and for TLS (SNI and certificate check); IDNA-encoded
    port: int
    path: str  # path and query, what goes on the request line
    addresses: tuple[str, ...]


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
        shown = f"the scheme '{scheme}:'" if scheme else "no scheme"
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

    _refuse_aws_endpoint(addresses, port, resolver or system_resolver)
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


# boto3's endpoint variables: where the functions' own S3, SQS and DynamoDB answer (unset in AWS itself).
AWS_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB")


def _refuse_aws_endpoint(addresses: tuple[str, ...], port: int, resolver: Resolver) -> None:
    """Refuse addresses that reach an AWS endpoint this process is configured with, on its port: the endpoint's
    own addresses, and when it listens on this machine, every spelling of this machine (127.0.0.1, localhost,
    0.0.0.0, ::ffff:127.0.0.1…)."""
    for variable in AWS_ENDPOINT_VARIABLES:
        endpoint = os.environ.get(variable, "").strip()
        try:
            parts = urlsplit(endpoint)
            endpoint_port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            continue
        if not endpoint or not parts.hostname or endpoint_port != port:
            continue
        literal = _ip_literal(parts.hostname)
        try:
            endpoint_ips = {literal} if literal else {_ip_literal(a.split("%", 1)[0]) for a in resolver(parts.hostname, port)}
        except (OSError, UnicodeError):
            continue
        local_endpoint = any(_this_machine(ip) for ip in endpoint_ips if ip is not None)
        for address in addresses:
            ip = _ip_literal(address.split("%", 1)[0])
            if ip is not None and (ip in endpoint_ips or (local_endpoint and _this_machine(ip))):
                raise UnsafeUrlError(
                    f"the URL leads to port {port} of the AWS endpoint this deployment itself uses (its storage, "
                    "queues and tables), which no URL may reach: give the URL of another server"
                )


def _this_machine(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


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
