"""Which IP addresses a user-supplied URL may not reach, and why.

The checks take place on the addresses, not on the spelling of the host, so decimal, octal or hex
spellings of 127.0.0.1 are caught by the same rule once the resolver has turned them into addresses.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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
        ("::ffff:0:0:0/96", "IPv4-translated (::ffff:0:0:0/96, SIIT)"),
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
# Every public IPv6 unicast address is in 2000::/3 (RFC 4291, IANA). Outside it (but for the forms above that carry
# an IPv4 address) nothing is routable on the internet, and ipaddress's is_global calls much of it global anyway:
# ::ffff:0:127.0.0.1 (SIIT's form of 127.0.0.1), ::1:0:0:1, 4000::1 all passed.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


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
        if ip not in _GLOBAL_UNICAST:
            return "outside IPv6's global unicast range (2000::/3)"
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
