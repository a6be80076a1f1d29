"""A local API Gateway: HTTP requests in, REST proxy events to the real handlers, HTTP responses out.

It does what API Gateway's REST API does for this template, as far as a client can tell: it
matches the request against the routes declared on the functions' ``Api`` events, refuses bodies
over API Gateway's 10 MB, runs the Lambda authorizer (TOKEN or REQUEST) for routes that need it
and evaluates the policy it returns, builds the complete proxy event (single and multi-value
headers and query strings, path parameters, request context with the authorizer's output, binary
bodies base64-encoded for the API's ``BinaryMediaTypes``), invokes the function and turns its
proxy response back into HTTP. Errors API Gateway produces itself (401, 403, 404, 413, 502) use the
template's ``GatewayResponses`` when it declares them, API Gateway's defaults otherwise; what the
HTTP server refuses before a request is whole (a malformed or oversized chunked body, too many
headers, a method no route can have) is answered in the template's DEFAULT_4XX envelope too.

The parts: what the template says about the API (``api_spec``), the proxy events and results
(``proxy``), what API Gateway decides itself (``gateway``), and here the HTTP server around them.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api_spec import API_GATEWAY_MAX_PAYLOAD_BYTES
from .gateway import LocalApiGateway
from .proxy import HttpRequest, HttpResponse

log = logging.getLogger("local_stack.api")

# A client that sends more than the limit is still read to the end (up to this much) so it sees
# the 413 instead of a connection reset in the middle of its upload.
_DRAIN_LIMIT_BYTES = 256 * 1024 * 1024
# A chunk's size line: hex digits and maybe extensions; far shorter than this.
_MAX_CHUNK_LINE_BYTES = 1024
_MAX_TRAILER_LINES = 100
_HEX_SIZE = re.compile(rb"[0-9A-Fa-f]+")
# http.server's own refusals (before a request reaches the gateway), as API-envelope codes.
_PROTOCOL_CODES = {
    400: "BAD_REQUEST",
    408: "REQUEST_TIMEOUT",
    413: "REQUEST_TOO_LARGE",
    414: "URI_TOO_LONG",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    501: "METHOD_NOT_IMPLEMENTED",
    505: "HTTP_VERSION_NOT_SUPPORTED",
}


class PortInUseError(OSError):
    """The API port is taken, most likely by another ``make run``."""


class _Refused(Exception):
    """A request the server answers itself, from what it has read so far."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiHttpServer

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _Refused as refused:
            # What is left of the body is unread: the connection cannot carry another request.
            self._send(self.server.gateway.protocol_error(refused.status, _PROTOCOL_CODES[refused.status],
                                                          refused.message), close=True)
            return
        request = HttpRequest(
            method=self.command,
            raw_path=self.path,
            headers=[(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"],
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}",
        )
        response = self.server.gateway.handle(request)
        self._send(response, head_only=self.command == "HEAD")

    def _read_body(self) -> bytes:
        """The body, by Content-Length or chunked; refused from its declared size, before it is read."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_header = (self.headers.get("Content-Length") or "").strip()
        if length_header and not length_header.isdigit():
            raise _Refused(400, f"Content-Length {length_header[:40]!r} is not a number of bytes.")
        length = int(length_header) if length_header else 0
        if length > API_GATEWAY_MAX_PAYLOAD_BYTES:
            self._drain(length)
            raise _Refused(413, _too_large_message())
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _Refused(400, f"The body ended after {len(body)} of the {length} bytes Content-Length announced.")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(_MAX_CHUNK_LINE_BYTES + 1)
            if not size_line.endswith(b"\n"):
                raise _Refused(400, "A chunk's size line is missing or too long: the chunked body is malformed.")
            size_text = size_line.split(b";", 1)[0].strip()
            if not _HEX_SIZE.fullmatch(size_text):
                shown = size_text[:20].decode("ascii", "replace")
                raise _Refused(400, f"A chunk size {shown!r} is not a hexadecimal number: the chunked body is malformed.")
            size = int(size_text, 16)
            if len(body) + size > API_GATEWAY_MAX_PAYLOAD_BYTES:
                raise _Refused(413, _too_large_message())
            if size == 0:
                for _ in range(_MAX_TRAILER_LINES):
                    if self.rfile.readline(_MAX_CHUNK_LINE_BYTES + 1) in (b"\r\n", b"\n", b""):
                        return bytes(body)
                raise _Refused(400, "The chunked body's trailer has too many lines.")
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _Refused(400, "A chunk ended early or without its line break: the chunked body is malformed.")
            body += chunk

    def _drain(self, length: int) -> None:
        remaining = min(length, _DRAIN_LIMIT_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, response: HttpResponse, *, close: bool = False, head_only: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head_only:
            self.wfile.write(response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, too many headers, an unknown method) in
        the API's error envelope rather than its HTML page."""
        status = code if code in _PROTOCOL_CODES else 400
        method = (getattr(self, "command", None) or "")[:16]
        text = {
            431: "The request has too many header lines, or one too long: send at most 100 headers.",
            501: f"{method or 'This method'} is not a method this API serves: use GET, POST or HEAD.",
            414: "The request's URL is too long.",
        }.get(status, f"The request is not valid HTTP/1.1 ({message or HTTPStatus(status).phrase}).")
        self._send(self.server.gateway.protocol_error(status, _PROTOCOL_CODES[status], text), close=True)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.info("%s %s", self.address_string(), format % args)


def _too_large_message() -> str:
    return (f"The request body is larger than the {API_GATEWAY_MAX_PAYLOAD_BYTES // (1024 * 1024)} MB API Gateway "
            "accepts: upload large files with POST /v1/uploads, then submit the audio_path it returns (for stems, "
            "one upload each, sent as a stems list of {name, audio_path}).")


class ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of clients connecting at once (as to API Gateway)
    # overflows it and the extra connections are reset before they are accepted.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: LocalApiGateway):
        self.gateway = gateway
        try:
            super().__init__(address, _RequestHandler)
        except OSError as error:
            if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise PortInUseError(
                    error.errno,
                    f"{address[0]}:{address[1]} is already in use (is another `make run` / `midiscribe serve` "
                    "running?). Stop it, or pick another port: make run PORT=3001 / midiscribe serve --port 3001",
                ) from None
            raise
