"""The URL guard: which URLs and addresses are refused, and that requests go to the checked address."""

from __future__ import annotations

import io
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from midiscribe.webhooks import urlguard
from midiscribe.webhooks.urlguard import (
    DownloadError,
    RequestError,
    UnsafeUrlError,
    blocked_reason,
    check_url,
)

from .receiver import Receiver, Reply

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
        ("ftp://hooks.example.com/", "'ftp://'"),
        ("file:///etc/passwd", "'file://'"),
        ("gopher://hooks.example.com/", "'gopher://'"),
        ("javascript:alert(1)", "'javascript://'"),
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


def test_non_ascii_paths_are_percent_encoded(receiver):
    urlguard.request("POST", receiver.url("/hooks/café?q=ü"), timeout=5, max_response_bytes=10,
                     allow_private=True, allow_http=True)
    assert receiver.paths() == ["/hooks/caf%C3%A9?q=%C3%BC"]


def test_international_host_names_are_idna_encoded():
    seen = []
    check_url("https://bücher.example/", allow_private=False, allow_http=False, resolver=lambda h, p: seen.append(h) or ["93.184.216.34"])
    assert seen == ["xn--bcher-kva.example"]


# ---- requests over a real socket


def test_request_connects_to_the_checked_address_and_names_the_real_host(receiver):
    calls = []

    def resolver(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    response = urlguard.request(
        "POST",
        f"http://hooks.example.test:{receiver.port}/hook?a=1",
        body=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=5,
        max_response_bytes=100,
        allow_private=True,
        allow_http=True,
        resolver=resolver,
    )
    assert response.status == 200
    assert response.address == "127.0.0.1"
    assert calls == ["hooks.example.test"]  # resolved once, never again for the connection
    request = receiver.requests[0]
    assert request.path == "/hook?a=1"
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert request.headers["user-agent"].startswith("midiscribe/")


def test_request_to_loopback_is_refused_without_allow_private(receiver):
    with pytest.raises(UnsafeUrlError, match="loopback"):
        urlguard.request("POST", receiver.url(), timeout=5, max_response_bytes=100, allow_private=False, allow_http=True)
    assert receiver.requests == []


def test_request_does_not_follow_redirects(receiver):
    receiver.script = [Reply(302, b"", {"Location": receiver.url("/elsewhere")})]
    response = urlguard.request(
        "POST", receiver.url(), body=b"{}", timeout=5, max_response_bytes=100, allow_private=True, allow_http=True
    )
    assert response.status == 302
    assert receiver.paths() == ["/hook"]


@pytest.mark.parametrize("content_length", [True, False])
def test_request_reads_at_most_the_cap(receiver, content_length):
    receiver.script = [Reply(200, b"x" * 100_000, content_length=content_length)]
    response = urlguard.request(
        "GET", receiver.url(), timeout=5, max_response_bytes=1000, allow_private=True, allow_http=True
    )
    assert response.body == b"x" * 1000
    assert response.truncated


def test_request_times_out(receiver):
    receiver.script = [Reply(200, delay_s=1.5)]
    with pytest.raises(RequestError) as raised:
        urlguard.request("POST", receiver.url(), timeout=0.3, max_response_bytes=100, allow_private=True, allow_http=True)
    assert raised.value.timed_out


def test_refused_connection_is_a_request_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RequestError, match="refused"):
        urlguard.request(
            "POST", f"http://127.0.0.1:{port}/", timeout=2, max_response_bytes=100, allow_private=True, allow_http=True
        )


# ---- downloads


def test_download_streams_the_body(receiver):
    receiver.script = [Reply(200, b"RIFF" + bytes(range(256)) * 10, content_length=False)]
    sink = io.BytesIO()
    written = urlguard.download(receiver.url("/a.wav"), sink, max_bytes=10_000, timeout=5, allow_private=True, allow_http=True)
    assert written == 4 + 2560
    assert sink.getvalue().startswith(b"RIFF")


def test_download_refuses_a_declared_length_over_the_cap(receiver):
    receiver.script = [Reply(200, b"y" * 5000)]
    sink = io.BytesIO()
    with pytest.raises(DownloadError, match="5000 bytes, more than the limit of 4096"):
        urlguard.download(receiver.url(), sink, max_bytes=4096, timeout=5, allow_private=True, allow_http=True)
    assert sink.getvalue() == b""


def test_download_counts_bytes_when_no_length_is_declared(receiver):
    receiver.script = [Reply(200, b"z" * 300_000, content_length=False)]
    sink = io.BytesIO()
    with pytest.raises(DownloadError, match="more than the limit of 100000"):
        urlguard.download(receiver.url(), sink, max_bytes=100_000, timeout=5, allow_private=True, allow_http=True)
    assert len(sink.getvalue()) <= 100_000


@pytest.mark.parametrize(("reply", "message"), [
    (Reply(404, b"nope"), "HTTP 404"),
    (Reply(500, b"boom"), "HTTP 500"),
    (Reply(301, b"", {"Location": "http://127.0.0.1/elsewhere"}), "redirects are not followed"),
])
def test_download_errors_say_what_happened(receiver, reply, message):
    receiver.script = [reply]
    with pytest.raises(DownloadError, match=message):
        urlguard.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=True, allow_http=True)
    assert receiver.paths() == ["/hook"]


def test_download_refuses_private_urls_before_connecting(receiver):
    with pytest.raises(UnsafeUrlError):
        urlguard.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=False, allow_http=True)
    assert receiver.requests == []


def test_download_times_out_as_a_download_error(receiver):
    receiver.script = [Reply(200, delay_s=1.5)]
    with pytest.raises(DownloadError) as raised:
        urlguard.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=0.3, allow_private=True, allow_http=True)
    assert raised.value.timed_out


# ---- TLS: the connection goes to the checked IP, while SNI and the certificate check use the host name


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Receiver(tls=context) as running:
        yield running


def _to_loopback(host, port):
    return ["127.0.0.1"]


def test_https_uses_sni_and_verifies_the_certificate_for_the_url_host(tls_receiver, certificate):
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    response = urlguard.request(
        "POST", tls_receiver.url(host="hooks.example.test"), body=b"{}", timeout=5, max_response_bytes=100,
        allow_private=True, allow_http=False, resolver=_to_loopback, tls_context=trust,
    )
    assert response.status == 200
    assert response.address == "127.0.0.1"
    assert tls_receiver.server_names == ["hooks.example.test"]


def test_https_with_an_untrusted_certificate_fails(tls_receiver):
    with pytest.raises(RequestError, match="could not be verified"):
        urlguard.request(
            "POST", tls_receiver.url(host="hooks.example.test"), body=b"{}", timeout=5, max_response_bytes=100,
            allow_private=True, allow_http=False, resolver=_to_loopback,
        )
    assert tls_receiver.requests == []


def test_https_certificate_must_match_the_url_host_not_the_address(tls_receiver, certificate):
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    with pytest.raises(RequestError, match="could not be verified"):
        urlguard.request(
            "POST", tls_receiver.url(host="other.example.test"), body=b"{}", timeout=5, max_response_bytes=100,
            allow_private=True, allow_http=False, resolver=_to_loopback, tls_context=trust,
        )
    assert tls_receiver.requests == []


class DrippingServer:
    """Answers with a status line, then one header line every 50 ms for 2 s: each read is quick, the whole is not."""

    LINES = 40

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.lines_sent = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for index in range(self.LINES):
                    time.sleep(0.05)
                    conn.sendall(f"X-Drip-{index}: x\r\n".encode())
                    self.lines_sent += 1
                conn.sendall(b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass  # the client hung up


def test_timeout_bounds_the_whole_exchange_not_each_read():
    server = DrippingServer()
    try:
        with pytest.raises(RequestError) as raised:
            urlguard.request("POST", server.url, body=b"{}", timeout=0.5, max_response_bytes=100,
                             allow_private=True, allow_http=True)
        server.thread.join(timeout=10)
    finally:
        server.listener.close()
    assert raised.value.timed_out
    # The client hung up mid-headers instead of reading the whole slow answer first.
    assert server.lines_sent < DrippingServer.LINES
