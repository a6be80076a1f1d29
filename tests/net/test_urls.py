"""The URL checks: which URLs and addresses are refused, and why (no sockets)."""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest

from midiscribe.net import UnsafeUrlError, check_url
from midiscribe.net.addresses import blocked_reason

BLOCKED_V4 = [
    ("0.0.0.0", "this network"),
    ("0.1.2.3", "this network"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("169.254.169.254", "link-local"),
    ("169.254.0.1", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "IETF protocol"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
]

BLOCKED_V6 = [
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::ffff:127.0.0.1", "IPv4-mapped address of 127.0.0.1: loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped address of 169.254.169.254: link-local"),
    ("::ffff:10.1.2.3", "IPv4-mapped address of 10.1.2.3: private"),
    ("::ffff:100.64.0.1", "carrier-grade NAT"),
    ("64:ff9b::7f00:1", "NAT64 address of 127.0.0.1: loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 address of 169.254.169.254"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::1", "6to4 address of 127.0.0.1: loopback"),
    ("2002:a9fe:a9fe::1", "6to4 address of 169.254.169.254"),
    ("2002:c0a8:101::1", "6to4 address of 192.168.1.1: private"),
    ("100::1", "discard-only"),
    ("2001::1", "Teredo"),
    ("2001:10::1", "IETF protocol"),
    ("2001:db8::1", "documentation"),
    ("fc00::1", "unique local"),
    ("fd12:3456:789a::1", "unique local"),
    ("fe80::1", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff05::1:3", "multicast"),
    # Outside 2000::/3: nothing there is on the internet, and these passed (SIIT's IPv4-translated 127.0.0.1 among them).
    ("::ffff:0:127.0.0.1", "IPv4-translated"),
    ("::ffff:0:a9fe:a9fe", "IPv4-translated"),
    ("::1:0:0:1", "global unicast range (2000::/3)"),
    ("4000::1", "global unicast range (2000::/3)"),
    ("e000::1", "global unicast range (2000::/3)"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.169.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), BLOCKED_V4 + BLOCKED_V6)
def test_blocked_ranges_are_named(address, reason):
    assert reason in (blocked_reason(address) or "")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert blocked_reason(address) is None


@pytest.mark.parametrize(("address", "reason"), BLOCKED_V4 + BLOCKED_V6)
def test_ip_literal_urls_are_refused(address, reason):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeUrlError, match="non-public address"):
        check_url(f"https://{host}/hook", allow_private=False, allow_http=False)


@pytest.mark.parametrize(("address", "reason"), BLOCKED_V4 + BLOCKED_V6)
def test_hostnames_resolving_to_blocked_addresses_are_refused(address, reason):
    def resolver(host, port):
        assert (host, port) == ("hooks.example.com", 443)
        return [address]

    with pytest.raises(UnsafeUrlError) as raised:
        check_url("https://hooks.example.com/hook", allow_private=False, allow_http=False, resolver=resolver)
    assert f"hooks.example.com resolves to {ipaddress.ip_address(address)}" in str(raised.value)


@pytest.mark.parametrize(
    "answer",
    [
        ["93.184.216.34", "127.0.0.1"],
        ["127.0.0.1", "93.184.216.34"],
        ["2606:4700:4700::1111", "::ffff:169.254.169.254"],
        ["93.184.216.34", "fd00::5"],
    ],
)
def test_one_bad_address_in_a_dns_answer_refuses_the_url(answer):
    bad = next(address for address in answer if blocked_reason(address))
    with pytest.raises(UnsafeUrlError, match=re.escape(str(ipaddress.ip_address(bad)))):
        check_url("https://mixed.example.com/", allow_private=False, allow_http=False, resolver=lambda h, p: answer)


def test_public_answer_is_kept_in_order_without_duplicates():
    answer = ["93.184.216.34", "2606:4700:4700::1111", "93.184.216.34"]
    target = check_url(
        "https://Hooks.Example.com:8443/path/to?x=1&y=2#frag",
        allow_private=False,
        allow_http=False,
        resolver=lambda host, port: answer,
    )
    assert target.host == "hooks.example.com"
    assert target.port == 8443
    assert target.path == "/path/to?x=1&y=2"
    assert target.addresses == ("93.184.216.34", "2606:4700:4700::1111")


def test_allow_private_lets_local_addresses_through():
    target = check_url("http://localhost:8080/x", allow_private=True, allow_http=True, resolver=lambda h, p: ["127.0.0.1"])
    assert target.addresses == ("127.0.0.1",)


def _local_resolver(host, port):
    return {"localhost": ["127.0.0.1", "::1"], "moto.internal": ["10.1.2.3"]}.get(host, ["93.184.216.34"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4566/moto-api/reset",
        "http://localhost:4566/moto-api/reset",
        "http://0.0.0.0:4566/",
        "http://[::ffff:127.0.0.1]:4566/",
        "http://[::1]:4566/",
        "http://127.0.0.2:4566/bucket/uploads/key_other/u/a.wav",
        "http://2130706433:4566/",
    ],
)
def test_the_local_stacks_own_aws_endpoint_is_refused_even_when_private_urls_are_allowed(url, monkeypatch):
    """The local stack allows loopback URLs (webhook receivers in tests), and moto answers anyone there: a webhook to
    /moto-api/reset wiped every key, task and object of the stack, and an audio_url read another key's uploads."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    resolver = _local_resolver if "2130706433" not in url else (lambda host, port: ["127.0.0.1"])
    with pytest.raises(UnsafeUrlError, match="AWS endpoint this deployment itself uses"):
        check_url(url, allow_private=True, allow_http=True, resolver=resolver)


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"])
def test_an_aws_endpoint_by_name_is_refused_at_its_own_addresses(variable, monkeypatch):
    monkeypatch.setenv(variable, "https://moto.internal")
    def resolver(answer):
        return lambda host, port: ["10.1.2.3"] if host == "moto.internal" else [answer]

    with pytest.raises(UnsafeUrlError, match="port 443 of the AWS endpoint"):
        check_url("https://other-name.example/", allow_private=True, allow_http=True, resolver=resolver("10.1.2.3"))
    check_url("https://other-name.example/", allow_private=True, allow_http=True, resolver=resolver("10.1.2.4"))


def test_other_loopback_ports_stay_open_to_the_local_stack(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    for url in ("http://127.0.0.1:4567/hook", "http://localhost:8080/hook", "http://[::1]:4565/"):
        check_url(url, allow_private=True, allow_http=True, resolver=_local_resolver)


@pytest.mark.parametrize("url", ["https://2130706433/", "https://0x7f.1/", "https://017700000001/", "https://127.1/"])
def test_numeric_spellings_of_loopback_are_caught_after_resolution(url):
    # The system resolver turns these legacy spellings into 127.0.0.1; the check is on that address.
    try:
        socket.getaddrinfo(url.split("/")[2], 443)
    except OSError:
        pytest.skip("this resolver does not accept legacy numeric host spellings")
    with pytest.raises(UnsafeUrlError, match="loopback"):
        check_url(url, allow_private=False, allow_http=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/", "http:// URLs are not accepted"),
        ("ftp://hooks.example.com/", "the scheme 'ftp:'"),
        ("file:///etc/passwd", "the scheme 'file:'"),
        ("gopher://hooks.example.com/", "the scheme 'gopher:'"),
        ("javascript:alert(1)", "the scheme 'javascript:'"),
        ("hooks.example.com/path", "no scheme"),
        ("", "empty"),
        ("https:///nohost", "no host"),
        ("https://hooks.example.com:99999/", "cannot be parsed"),
        ("https://hooks.example.com:0/", "port 0"),
        ("https://hooks.example.com/a b", "spaces or control characters"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "spaces or control characters"),
    ],
)
def test_bad_urls_say_what_is_wrong(url, message):
    with pytest.raises(UnsafeUrlError, match=message.replace("(", r"\(").replace("/", "/")):
        check_url(url, allow_private=False, allow_http=False, resolver=lambda h, p: ["93.184.216.34"])


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@hooks.example.com/",
        "https://user@hooks.example.com/",
        "https://hooks.example.com@evil.example/",
        "https://:@hooks.example.com/",
    ],
)
def test_userinfo_is_refused(url):
    with pytest.raises(UnsafeUrlError, match="user credentials"):
        check_url(url, allow_private=False, allow_http=False, resolver=lambda h, p: ["93.184.216.34"])


def test_http_is_accepted_only_when_allowed():
    target = check_url("http://hooks.example.com/", allow_private=False, allow_http=True, resolver=lambda h, p: ["93.184.216.34"])
    assert (target.scheme, target.port) == ("http", 80)


def test_unresolvable_host_is_refused_with_the_reason():
    def resolver(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UnsafeUrlError, match="cannot be resolved"):
        check_url("https://nowhere.invalid/", allow_private=False, allow_http=False, resolver=resolver)


def test_empty_dns_answer_is_refused():
    with pytest.raises(UnsafeUrlError, match="no addresses"):
        check_url("https://empty.example.com/", allow_private=False, allow_http=False, resolver=lambda h, p: [])


def test_international_host_names_are_idna_encoded():
    seen = []
    check_url("https://bücher.example/", allow_private=False, allow_http=False, resolver=lambda h, p: seen.append(h) or ["93.184.216.34"])
    assert seen == ["xn--bcher-kva.example"]
