"""Requests and downloads: they go to the checked address, with caps, time limits and TLS checks."""

from __future__ import annotations

import errno
import io
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from webhooks.receiver import Receiver, Reply

from midiscribe import net
from midiscribe.net import DownloadError, RequestError, UnsafeUrlError

# ---- requests over a real socket


def test_non_ascii_paths_are_percent_encoded(receiver):
    net.request("POST", receiver.url("/hooks/café?q=ü"), timeout=5, max_response_bytes=10,
                     allow_private=True, allow_http=True)
    assert receiver.paths() == ["/hooks/caf%C3%A9?q=%C3%BC"]


def test_request_connects_to_the_checked_address_and_names_the_real_host(receiver):
    calls = []

    def resolver(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    response = net.request(
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
        net.request("POST", receiver.url(), timeout=5, max_response_bytes=100, allow_private=False, allow_http=True)
    assert receiver.requests == []


def test_request_does_not_follow_redirects(receiver):
    receiver.script = [Reply(302, b"", {"Location": receiver.url("/elsewhere")})]
    response = net.request(
        "POST", receiver.url(), body=b"{}", timeout=5, max_response_bytes=100, allow_private=True, allow_http=True
    )
    assert response.status == 302
    assert receiver.paths() == ["/hook"]


@pytest.mark.parametrize("content_length", [True, False])
def test_request_reads_at_most_the_cap(receiver, content_length):
    receiver.script = [Reply(200, b"x" * 100_000, content_length=content_length)]
    response = net.request(
        "GET", receiver.url(), timeout=5, max_response_bytes=1000, allow_private=True, allow_http=True
    )
    assert response.body == b"x" * 1000
    assert response.truncated


def test_request_times_out(receiver):
    receiver.script = [Reply(200, delay_s=1.5)]
    with pytest.raises(RequestError) as raised:
        net.request("POST", receiver.url(), timeout=0.3, max_response_bytes=100, allow_private=True, allow_http=True)
    assert raised.value.timed_out


def test_refused_connection_is_a_request_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RequestError, match="refused"):
        net.request(
            "POST", f"http://127.0.0.1:{port}/", timeout=2, max_response_bytes=100, allow_private=True, allow_http=True
        )


# ---- downloads


def test_download_streams_the_body(receiver):
    receiver.script = [Reply(200, b"RIFF" + bytes(range(256)) * 10, content_length=False)]
    sink = io.BytesIO()
    written = net.download(receiver.url("/a.wav"), sink, max_bytes=10_000, timeout=5, allow_private=True, allow_http=True)
    assert written == 4 + 2560
    assert sink.getvalue().startswith(b"RIFF")


def test_a_destination_that_cannot_be_written_raises_its_own_error_not_a_download_error(receiver):
    """A full disk is the worker's problem, not the server's: no retry of the download, and the worker can tell."""

    class FullDisk(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    receiver.script = [Reply(200, b"RIFF" + bytes(5000))]
    with pytest.raises(OSError) as raised:
        net.download(receiver.url("/a.wav"), FullDisk(), max_bytes=10_000, timeout=5, allow_private=True,
                     allow_http=True)
    assert raised.type is OSError and raised.value.errno == errno.ENOSPC


def test_download_refuses_a_declared_length_over_the_cap(receiver):
    receiver.script = [Reply(200, b"y" * 5000)]
    sink = io.BytesIO()
    with pytest.raises(DownloadError, match="5000 bytes, more than the limit of 4096"):
        net.download(receiver.url(), sink, max_bytes=4096, timeout=5, allow_private=True, allow_http=True)
    assert sink.getvalue() == b""


def test_download_counts_bytes_when_no_length_is_declared(receiver):
    receiver.script = [Reply(200, b"z" * 300_000, content_length=False)]
    sink = io.BytesIO()
    with pytest.raises(DownloadError, match="more than the limit of 100000"):
        net.download(receiver.url(), sink, max_bytes=100_000, timeout=5, allow_private=True, allow_http=True)
    assert len(sink.getvalue()) <= 100_000


def test_download_cut_short_of_its_declared_length_is_an_error(receiver):
    """A connection that closes early must not pass for the whole file: the decoder would then blame the
    file ("re-export it"), or transcribe only the part that arrived."""
    receiver.script = [Reply(200, b"RIFF" + b"x" * 996, {"Content-Length": "5000"}, content_length=False)]
    with pytest.raises(DownloadError, match="stopped after 1000 of 5000 bytes") as raised:
        net.download(receiver.url(), io.BytesIO(), max_bytes=10_000, timeout=5, allow_private=True, allow_http=True)
    assert not raised.value.timed_out


@pytest.mark.parametrize(("reply", "message", "retryable"), [
    (Reply(404, b"nope"), "HTTP 404 Not Found: check that the URL", False),
    (Reply(500, b"boom"), "HTTP 500 Internal Server Error: the server is in trouble or busy; try again later", True),
    (Reply(503, b"later"), "HTTP 503", True),
    (Reply(429, b"slow down"), "HTTP 429", True),
    (Reply(301, b""), "a redirect\\) without saying where to", False),
    (Reply(304, b""), "HTTP 304, which is not a file", False),
])
def test_download_errors_say_what_happened_and_whether_another_try_may_work(receiver, reply, message, retryable):
    receiver.script = [reply]
    with pytest.raises(DownloadError, match=message) as raised:
        net.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=True, allow_http=True)
    assert receiver.paths() == ["/hook"]
    assert raised.value.retryable is retryable


def test_a_download_cut_short_or_refused_may_work_if_tried_again(receiver):
    receiver.script = [Reply(200, b"RIFF" + b"x" * 996, {"Content-Length": "5000"}, content_length=False)]
    with pytest.raises(DownloadError, match="stopped after") as cut:
        net.download(receiver.url(), io.BytesIO(), max_bytes=10_000, timeout=5, allow_private=True, allow_http=True)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(DownloadError, match="refused") as refused:
        net.download(f"http://127.0.0.1:{closed}/take.wav", io.BytesIO(), max_bytes=10, timeout=5,
                     allow_private=True, allow_http=True)
    receiver.script = [Reply(200, b"x" * 5000)]
    with pytest.raises(DownloadError, match="more than the limit") as too_big:
        net.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=True, allow_http=True)
    assert (cut.value.retryable, refused.value.retryable, too_big.value.retryable) == (True, True, False)


def test_download_follows_redirects_to_the_file(receiver):
    """A share link (Dropbox, Drive, a release page) redirects to the file's storage, sometimes twice."""
    receiver.script = [Reply(302, b"", {"Location": "/storage/take.wav?token=1"}),
                       Reply(307, b"", {"Location": receiver.url("/cdn/take.wav")}),
                       Reply(200, b"RIFF" + b"x" * 96)]
    sink = io.BytesIO()
    assert net.download(receiver.url("/share"), sink, max_bytes=1000, timeout=5, allow_private=True,
                        allow_http=True) == 100
    assert sink.getvalue().startswith(b"RIFF")
    assert receiver.paths() == ["/share", "/storage/take.wav?token=1", "/cdn/take.wav"]


def test_download_follows_at_most_five_redirects(receiver):
    receiver.script = [Reply(302, b"", {"Location": f"/hop{index}"}) for index in range(1, 8)]
    with pytest.raises(DownloadError, match="redirected more than 5 times"):
        net.download(receiver.url("/hop0"), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=True, allow_http=True)
    assert receiver.paths() == [f"/hop{index}" for index in range(6)]


@pytest.mark.parametrize(("location", "reason"), [
    ("ftp://127.0.0.1/take.wav", "http"),  # a scheme the first URL could not have had
    ("http://user:secret@127.0.0.1/take.wav", "password"),  # credentials, as in the first URL, are refused
])
def test_a_redirect_is_checked_as_the_first_url_was_and_a_refused_one_is_never_requested(receiver, location, reason):
    receiver.script = [Reply(302, b"", {"Location": location}), Reply(200, b"RIFF")]
    with pytest.raises(DownloadError, match=f"redirects to .*, which is refused: .*{reason}") as raised:
        net.download(receiver.url("/share"), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=True,
                     allow_http=True)
    assert receiver.paths() == ["/share"]
    assert "secret" not in raised.value.message  # the target is shown without its password


def test_a_redirect_to_a_private_address_is_refused_without_allow_private(receiver, monkeypatch):
    # The first URL passes (as a public one would); its redirect target resolves to a private address.
    from midiscribe.net import client, urls

    checked = []

    def check_url(url, *, allow_private, allow_http, resolver=None):
        checked.append((url, allow_private, allow_http))
        first = len(checked) == 1
        return urls.check_url(url, allow_private=first, allow_http=allow_http, resolver=resolver)

    monkeypatch.setattr(client, "check_url", check_url)
    receiver.script = [Reply(302, b"", {"Location": "http://10.0.0.7/take.wav"}), Reply(200, b"RIFF")]
    with pytest.raises(DownloadError, match="redirects to http://10.0.0.7/take.wav, which is refused"):
        net.download(receiver.url("/share"), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=False,
                     allow_http=True)
    assert checked == [(receiver.url("/share"), False, True), ("http://10.0.0.7/take.wav", False, True)]
    assert receiver.paths() == ["/share"]


def test_download_refuses_private_urls_before_connecting(receiver):
    with pytest.raises(UnsafeUrlError):
        net.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=5, allow_private=False, allow_http=True)
    assert receiver.requests == []


def test_download_times_out_as_a_download_error(receiver):
    receiver.script = [Reply(200, delay_s=1.5)]
    with pytest.raises(DownloadError) as raised:
        net.download(receiver.url(), io.BytesIO(), max_bytes=1000, timeout=0.3, allow_private=True, allow_http=True)
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
    response = net.request(
        "POST", tls_receiver.url(host="hooks.example.test"), body=b"{}", timeout=5, max_response_bytes=100,
        allow_private=True, allow_http=False, resolver=_to_loopback, tls_context=trust,
    )
    assert response.status == 200
    assert response.address == "127.0.0.1"
    assert tls_receiver.server_names == ["hooks.example.test"]


def test_https_with_an_untrusted_certificate_fails(tls_receiver):
    with pytest.raises(RequestError, match="could not be verified"):
        net.request(
            "POST", tls_receiver.url(host="hooks.example.test"), body=b"{}", timeout=5, max_response_bytes=100,
            allow_private=True, allow_http=False, resolver=_to_loopback,
        )
    assert tls_receiver.requests == []


def test_https_certificate_must_match_the_url_host_not_the_address(tls_receiver, certificate):
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    with pytest.raises(RequestError, match="could not be verified"):
        net.request(
            "POST", tls_receiver.url(host="other.example.test"), body=b"{}", timeout=5, max_response_bytes=100,
            allow_private=True, allow_http=False, resolver=_to_loopback, tls_context=trust,
        )
    assert tls_receiver.requests == []


class DrippingServer:
    """Sends ``head`` at once, then each of ``drips`` 50 ms apart, then ``tail``: each read is quick, the
    whole is not. By default the drips are 40 header lines (2 s), so the headers themselves are slow."""

    LINES = 40

    def __init__(self, head: bytes = b"HTTP/1.1 200 OK\r\n", drips: list[bytes] | None = None,
                 tail: bytes = b"Content-Length: 0\r\n\r\n") -> None:
        self.head, self.tail = head, tail
        self.drips = drips if drips is not None else [f"X-Drip-{index}: x\r\n".encode() for index in range(self.LINES)]
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
                conn.sendall(self.head)
                for drip in self.drips:
                    time.sleep(0.05)
                    conn.sendall(drip)
                    self.lines_sent += 1
                conn.sendall(self.tail)
            except OSError:
                pass  # the client hung up


def test_timeout_bounds_the_whole_exchange_not_each_read():
    server = DrippingServer()
    try:
        with pytest.raises(RequestError) as raised:
            net.request("POST", server.url, body=b"{}", timeout=0.5, max_response_bytes=100,
                             allow_private=True, allow_http=True)
        server.thread.join(timeout=10)
    finally:
        server.listener.close()
    assert raised.value.timed_out
    # The client hung up mid-headers instead of reading the whole slow answer first.
    assert server.lines_sent < DrippingServer.LINES


def test_a_download_that_trickles_is_stopped_by_its_total_time_limit():
    # The headers at once, then a 1000-byte body a byte every 50 ms: no read ever stalls.
    server = DrippingServer(head=b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", drips=[b"x"] * 1000, tail=b"")
    try:
        began = time.monotonic()
        with pytest.raises(DownloadError, match="took longer than 0.5 s") as raised:
            net.download(server.url, io.BytesIO(), max_bytes=10_000, timeout=5, total_timeout=0.5,
                         allow_private=True, allow_http=True)
        took = time.monotonic() - began
        server.thread.join(timeout=10)
    finally:
        server.listener.close()
    assert took < 3 and not raised.value.timed_out  # a server this slow is not worth trying again
    assert "POST /v1/uploads" in raised.value.message
    assert server.lines_sent < 1000


def test_a_deadline_shared_by_several_tries_ends_the_download_and_the_message_names_the_whole_budget():
    """The worker's tries of one URL share its 300-s budget: the last try stops at the shared deadline, and
    the message says 300 s, not what was left of it when that try began."""
    server = DrippingServer(head=b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", drips=[b"x"] * 1000, tail=b"")
    try:
        began = time.monotonic()
        with pytest.raises(DownloadError, match="took longer than 300 s") as raised:
            net.download(server.url, io.BytesIO(), max_bytes=10_000, timeout=5, total_timeout=300,
                         deadline=time.monotonic() + 0.5, allow_private=True, allow_http=True)
        took = time.monotonic() - began
        server.thread.join(timeout=10)
    finally:
        server.listener.close()
    assert took < 3 and not raised.value.timed_out


class StallingServer:
    """Sends the headers and ``first`` bytes of a longer body, then nothing until :meth:`release` (or 20 s, when
    ``released`` is set too): a download of it blocks in a read that nothing else ends."""

    def __init__(self, first: bytes = b"x" * 10, length: int = 1000) -> None:
        self.head = f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode() + first
        self.rest = b"x" * (length - len(first))
        self.released = threading.Event()
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so that close() ends a wait for a connection that never comes
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/stem.wav"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
                break
            except TimeoutError:
                if self.released.is_set():
                    return
            except OSError:
                return
        conn.settimeout(None)
        self.connections += 1
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(self.head)
                self.released.wait(20)  # less than the tests' read timeout: a read not cut short ends here
                self.released.set()
                conn.sendall(self.rest)
            except OSError:
                pass  # the client hung up

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self.listener.close()
        self.thread.join(timeout=10)


class CancelOnFirstWrite(io.BytesIO):
    """A destination that cancels its download, from another thread, once the first bytes are written."""

    def __init__(self, cancellation: net.Cancellation) -> None:
        super().__init__()
        self.cancellation = cancellation
        self.timer: threading.Timer | None = None

    def write(self, data) -> int:
        if self.timer is None:
            self.timer = threading.Timer(0.05, self.cancellation.cancel)
            self.timer.start()
        return super().write(data)


def test_a_cancelled_download_stops_in_the_middle_of_a_stalled_read():
    """A multi-stem task that failed cancels its stems still downloading: the read the download is blocked in
    ends at once, not when its 30-s read timeout or the server's next byte would end it."""
    server = StallingServer()
    cancellation = net.Cancellation()
    destination = CancelOnFirstWrite(cancellation)
    try:
        with pytest.raises(net.DownloadCancelled, match="was cancelled") as raised:
            net.download(server.url, destination, max_bytes=10_000, timeout=30, total_timeout=300,
                         allow_private=True, allow_http=True, cancellation=cancellation)
        stalled = not server.released.is_set()
    finally:
        server.close()
    assert stalled  # it ended while the server still held back the rest
    assert destination.getvalue() == b"x" * 10
    assert not raised.value.retryable and not raised.value.timed_out
    assert isinstance(raised.value, DownloadError)  # callers that catch download errors still catch it


def test_a_download_cancelled_before_it_starts_never_connects():
    server = StallingServer()
    cancellation = net.Cancellation()
    cancellation.cancel()
    try:
        with pytest.raises(net.DownloadCancelled):
            net.download(server.url, io.BytesIO(), max_bytes=10_000, timeout=30, allow_private=True, allow_http=True,
                         cancellation=cancellation)
    finally:
        server.close()
    assert server.connections == 0


def test_a_cancellation_left_alone_changes_nothing(receiver):
    receiver.script = [Reply(200, b"a" * 5000)]
    destination = io.BytesIO()
    written = net.download(receiver.url("/stem.wav"), destination, max_bytes=10_000, timeout=5,
                           allow_private=True, allow_http=True, cancellation=net.Cancellation())
    assert written == 5000 and destination.getvalue() == b"a" * 5000
