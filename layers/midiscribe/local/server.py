"""A local API Gateway: HTTP requests in, REST proxy events to the real handlers, HTTP responses out.

It does what API Gateway's REST API does for this template, as far as a client can tell: it
matches the request against the routes declared on the functions' ``Api`` events, refuses bodies
over API Gateway's 10 MB, runs the Lambda authorizer (TOKEN or REQUEST) for routes that need it
and evaluates the policy it returns, builds the complete proxy event (single and multi-value
headers and query strings, path parameters, request context with the authorizer's output, binary
bodies base64-encoded for the API's ``BinaryMediaTypes``), invokes the function and turns its
proxy response back into HTTP. Errors API Gateway produces itself (401, 403, 413, 502) use the
template's ``GatewayResponses`` when it declares them, API Gateway's defaults otherwise.

The parts: what the template says about the API (``api_spec``), the proxy events and results
(``proxy``), what API Gateway decides itself (``gateway``), and here the HTTP server around them.
"""

from __future__ import annotations

import logging
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api_spec import API_GATEWAY_MAX_PAYLOAD_BYTES
from .gateway import LocalApiGateway
from .proxy import HttpRequest, HttpResponse

log = logging.getLogger("local_stack.api")

# A client that sends more than the limit is still read to the end (up to this much) so it sees
# the 413 instead of a connection reset in the middle of its upload.
_DRAIN_LIMIT_BYTES = 256 * 1024 * 1024


class PortInUseError(OSError):
    """The API port is taken, most likely by another ``make run``."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiHttpServer

    def _handle(self) -> None:
        length_header = self.headers.get("Content-Length")
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        try:
            length = int(length_header) if length_header else 0
            if length < 0:
                raise ValueError
        except ValueError:
            self._send(HttpResponse(400, [("Content-Type", "application/json")],
                                    b'{"message": "Content-Length is not a number"}'), close=True)
            return
        if length > API_GATEWAY_MAX_PAYLOAD_BYTES:
            self._drain(length)
            response = self.server.gateway.gateway_response("REQUEST_TOO_LARGE", None, str(uuid.uuid4()))
            self._send(response, close=True)
            return
        body = self._read_chunked() if chunked else self.rfile.read(length) if length else b""
        if body is None:
            response = self.server.gateway.gateway_response("REQUEST_TOO_LARGE", None, str(uuid.uuid4()))
            self._send(response, close=True)
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

    def _read_chunked(self) -> bytes | None:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline(3)
            if len(body) > API_GATEWAY_MAX_PAYLOAD_BYTES:
                self.close_connection = True
                return None

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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.info("%s %s", self.address_string(), format % args)


class ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True

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
