"""A local API Gateway: HTTP requests in, REST proxy events to the real handlers, HTTP responses out.

It does what API Gateway's REST API does for this template, as far as a client can tell: it
matches the request against the routes declared on the functions' ``Api`` events, refuses bodies
over API Gateway's 10 MB, runs the Lambda authorizer (TOKEN or REQUEST) for routes that need it
and evaluates the policy it returns, builds the complete proxy event (single and multi-value
headers and query strings, path parameters, request context with the authorizer's output, binary
bodies base64-encoded for the API's ``BinaryMediaTypes``), invokes the function and turns its
proxy response back into HTTP. Errors API Gateway produces itself (401, 403, 413, 502) use the
template's ``GatewayResponses`` when it declares them, API Gateway's defaults otherwise.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from .functions import ACCOUNT_ID, LocalFunction, TemplateError, logical_id_of

log = logging.getLogger("local_stack.api")

API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# REST APIs give up on an integration after 29 s and answer 504, whatever the function still does.
API_GATEWAY_INTEGRATION_TIMEOUT_S = 29.0
# A client that sends more than the limit is still read to the end (up to this much) so it sees
# the 413 instead of a connection reset in the middle of its upload.
_DRAIN_LIMIT_BYTES = 256 * 1024 * 1024
LOCAL_API_ID = "local"


class PortInUseError(OSError):
    """The API port is taken, most likely by another ``make run``."""


# --------------------------------------------------------------------------------------------------
# What the template says about the API


@dataclass(frozen=True)
class Route:
    """One ``Api`` event: a method and resource path mapped to a function."""

    method: str
    resource: str
    function_id: str
    authorized: bool

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.method not in ("ANY", method):
            return None
        found = _resource_pattern(self.resource).fullmatch(path)
        if found is None:
            return None
        return {name.rstrip("+"): unquote(value) for name, value in zip(_parameter_names(self.resource), found.groups(), strict=True)}


def _parameter_names(resource: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", resource)


def _resource_pattern(resource: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", resource):
        if part.startswith("{") and part.endswith("+}"):
            pattern += "(.+)"
        elif part.startswith("{"):
            pattern += "([^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function_id: str
    payload_type: str  # TOKEN or REQUEST
    identity_headers: tuple[str, ...]
    validation_expression: str | None = None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    templates: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


# API Gateway's own defaults, used for any type the template does not customise.
_DEFAULT_GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "AUTHORIZER_FAILURE": (500, None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "REQUEST_TOO_LARGE": (413, f"HTTP content length exceeded {API_GATEWAY_MAX_PAYLOAD_BYTES} bytes."),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
}


@dataclass(frozen=True)
class ApiSpec:
    """The REST API of the template: routes, authorizer, binary media types, gateway responses."""

    routes: tuple[Route, ...]
    stage: str = "local"
    binary_media_types: tuple[str, ...] = ()
    authorizer: AuthorizerSpec | None = None
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)

    def is_binary(self, content_type: str | None) -> bool:
        if not content_type:
            return False
        media_type = content_type.split(";", 1)[0].strip().lower()
        return any(fnmatch.fnmatchcase(media_type, pattern.lower()) for pattern in self.binary_media_types)

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        # Literal segments win over parameters and greedy paths, as in API Gateway.
        candidates = []
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                greedy = "+}" in route.resource
                candidates.append(((greedy, len(parameters), route.method == "ANY"), route, parameters))
        if not candidates:
            return None
        candidates.sort(key=lambda item: item[0])
        return candidates[0][1], candidates[0][2]


def _resolve_scalar(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    return value


def _parameter_defaults(template: dict) -> dict[str, Any]:
    return {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}


def _strip_quotes(value: Any) -> str | None:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return None  # mapping expressions (method.request.header.X) have no meaning outside AWS


def api_spec(template: dict, *, stage: str | None = None) -> ApiSpec:
    """Read the API's routes and configuration from the template."""
    resources = template["Resources"]
    parameters = _parameter_defaults(template)
    apis = {lid: res.get("Properties") or {} for lid, res in resources.items() if res.get("Type") == "AWS::Serverless::Api"}
    routes: list[Route] = []
    api_id: str | None = None
    for function_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            rest_api = logical_id_of(properties.get("RestApiId"))
            api_id = api_id or rest_api
            api_properties = apis.get(rest_api or "", {})
            default_authorizer = ((api_properties.get("Auth") or {}).get("DefaultAuthorizer"))
            authorizer = (properties.get("Auth") or {}).get("Authorizer", default_authorizer)
            routes.append(
                Route(
                    method=str(properties.get("Method", "ANY")).upper(),
                    resource=str(properties["Path"]),
                    function_id=function_id,
                    authorized=bool(authorizer) and authorizer != "NONE",
                )
            )
    if not routes:
        raise TemplateError("template.yaml declares no Api events: nothing for the local API to serve")
    api = apis.get(api_id or "", next(iter(apis.values()), {}))
    auth = api.get("Auth") or {}
    authorizer_spec = None
    default_name = auth.get("DefaultAuthorizer")
    authorizers = auth.get("Authorizers") or {}
    if any(route.authorized for route in routes):
        name = default_name or next(iter(authorizers), None)
        definition = authorizers.get(name or "")
        if definition is None:
            raise TemplateError(f"routes need the authorizer {name!r} but the API's Auth.Authorizers does not define it")
        function_id = logical_id_of(definition.get("FunctionArn"))
        if function_id is None:
            raise TemplateError(f"authorizer {name!r} has no FunctionArn: !GetAtt <Function>.Arn")
        identity = definition.get("Identity") or {}
        payload_type = str(definition.get("FunctionPayloadType", "TOKEN")).upper()
        headers = tuple(identity.get("Headers") or ([identity["Header"]] if identity.get("Header") else ["Authorization"]))
        authorizer_spec = AuthorizerSpec(
            name=str(name),
            function_id=function_id,
            payload_type=payload_type,
            identity_headers=headers,
            validation_expression=identity.get("ValidationExpression"),
        )
    gateway_responses = {}
    for response_type, definition in (api.get("GatewayResponses") or {}).items():
        default_status = _DEFAULT_GATEWAY_RESPONSES.get(response_type, (500, None))[0]
        header_values = ((definition.get("ResponseParameters") or {}).get("Headers")) or {}
        gateway_responses[response_type] = GatewayResponse(
            status=int(_resolve_scalar(definition.get("StatusCode", default_status), parameters)),
            templates=dict(definition.get("ResponseTemplates") or {}),
            headers={name: text for name, value in header_values.items() if (text := _strip_quotes(value)) is not None},
        )
    binary = tuple(str(t).replace("~1", "/") for t in api.get("BinaryMediaTypes") or ())
    stage_name = stage or _resolve_scalar(api.get("StageName", "local"), parameters)
    return ApiSpec(
        routes=tuple(routes),
        stage=str(stage_name if isinstance(stage_name, str) else "local"),
        binary_media_types=binary,
        authorizer=authorizer_spec,
        gateway_responses=gateway_responses,
    )


# --------------------------------------------------------------------------------------------------
# Requests, events and responses


@dataclass
class HttpRequest:
    method: str
    raw_path: str  # path and query string as sent
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    host: str = "127.0.0.1:3000"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _single_and_multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # the last value wins in the single-value map, as in API Gateway
        multi.setdefault(name, []).append(value)
    return single, multi


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in reversed(headers):
        if key.lower() == name.lower():
            return value
    return None


def _request_time(epoch: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))


def method_arn(region: str, stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{LOCAL_API_ID}/{stage}/{method}/{path.lstrip('/')}"


def build_proxy_event(
    api: ApiSpec,
    request: HttpRequest,
    route: Route,
    path_parameters: Mapping[str, str],
    *,
    authorizer: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    request_id: str | None = None,
) -> dict:
    """The API Gateway REST proxy event (payload 1.0) API Gateway would send for ``request``."""
    raw_path, _, query = request.raw_path.partition("?")
    path = unquote(raw_path)
    now = time.time()
    request_id = request_id or str(uuid.uuid4())
    headers, multi_headers = _single_and_multi(list(request.headers))
    query_single, query_multi = _single_and_multi(parse_qsl(query, keep_blank_values=True))
    content_type = _header(request.headers, "Content-Type")
    if not request.body:
        body, is_base64 = None, False
    elif api.is_binary(content_type):
        body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
    else:
        # API Gateway hands non-binary payloads over as text.
        body, is_base64 = request.body.decode("utf-8", errors="replace"), False
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.resource).hex[:6],
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "extendedRequestId": request_id.replace("-", "")[:16] + "=",
            "requestTime": _request_time(now),
            "path": f"/{api.stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": api.stage,
            "domainPrefix": request.host.split(":")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "apiKey": api_key,
                "apiKeyId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": _header(request.headers, "User-Agent"),
                "user": None,
                "accessKey": None,
                "clientCert": None,
            },
            "domainName": request.host,
            "apiId": LOCAL_API_ID,
            **({"authorizer": dict(authorizer)} if authorizer is not None else {}),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _policy_allows(policy: Any, resource_arn: str) -> bool | None:
    """True if allowed, False if denied (explicitly or by default), None if the policy is malformed."""
    if not isinstance(policy, dict):
        return None
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return None
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            return None
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", str(a)) for a in actions):
            continue
        targets = statement.get("Resource", [])
        targets = [targets] if isinstance(targets, str) else targets
        if not any(fnmatch.fnmatchcase(resource_arn, str(t)) for t in targets):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def _stringify(value: Any) -> Any:
    # REST APIs hand the authorizer's context to the integration with every value as a string.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, list | dict) else str(value)


class GatewayError(Exception):
    """A response API Gateway produces itself, named by its gateway response type."""

    def __init__(self, response_type: str, message: str | None = None):
        super().__init__(message or response_type)
        self.response_type = response_type
        self.message = message


class LocalApiGateway:
    """Serves an :class:`ApiSpec` with in-process functions (``{logical_id: LocalFunction}``)."""

    def __init__(self, api: ApiSpec, functions: Mapping[str, Any], *, region: str = "us-east-1",
                 integration_timeout_s: float = API_GATEWAY_INTEGRATION_TIMEOUT_S):
        self.api = api
        self.functions = functions
        self.region = region
        self.integration_timeout_s = integration_timeout_s

    # The one entry point: everything API Gateway would answer itself is decided here.
    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            if len(request.body) > API_GATEWAY_MAX_PAYLOAD_BYTES:
                raise GatewayError("REQUEST_TOO_LARGE")
            path = unquote(request.raw_path.partition("?")[0])
            found = self.api.find_route(request.method, path)
            if found is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
            route, path_parameters = found
            context, api_key = None, None
            if route.authorized:
                context, api_key = self._authorize(request, route, path, path_parameters, request_id)
            event = build_proxy_event(
                self.api, request, route, path_parameters, authorizer=context, api_key=api_key, request_id=request_id
            )
            return self._invoke(route.function_id, event, request_id)
        except GatewayError as error:
            return self.gateway_response(error.response_type, error.message, request_id)

    def _function(self, function_id: str) -> Callable[[dict], Any]:
        function = self.functions.get(function_id)
        if function is None:
            raise GatewayError("INTEGRATION_FAILURE", f"function {function_id} is not loaded")
        call = function.invoke if isinstance(function, LocalFunction) else function
        timeout = self.integration_timeout_s
        if isinstance(function, LocalFunction):
            timeout = min(timeout, float(function.spec.timeout_s))
        return lambda event: _call_with_deadline(call, event, timeout)

    def _authorize(
        self, request: HttpRequest, route: Route, path: str, path_parameters: Mapping[str, str], request_id: str
    ) -> tuple[dict, str | None]:
        spec = self.api.authorizer
        if spec is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        arn = method_arn(self.region, self.api.stage, request.method, path)
        identity = [_header(request.headers, name) for name in spec.identity_headers]
        if any(not value for value in identity):
            # API Gateway answers 401 without calling the authorizer when the identity source is missing.
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        if spec.payload_type == "TOKEN":
            token = identity[0] or ""
            if spec.validation_expression and not re.fullmatch(spec.validation_expression, token):
                raise GatewayError("UNAUTHORIZED", "Unauthorized")
            event: dict = {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
        else:
            proxy = build_proxy_event(self.api, request, route, path_parameters, request_id=request_id)
            event = {"type": "REQUEST", "methodArn": arn, **{k: proxy[k] for k in (
                "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
                "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext")}}
        started = time.monotonic()
        try:
            result = self._function(spec.function_id)(event)
        except GatewayError:
            raise
        except Exception as error:  # noqa: BLE001 - Lambda turns any raised error into a failed invocation
            if str(error) == "Unauthorized":
                raise GatewayError("UNAUTHORIZED", "Unauthorized") from None
            log.exception("authorizer %s failed", spec.function_id)
            raise GatewayError("AUTHORIZER_FAILURE") from None
        if not isinstance(result, dict) or "principalId" not in result:
            log.error("authorizer %s returned no principalId/policyDocument: %r", spec.function_id, result)
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        verdict = _policy_allows(result.get("policyDocument"), arn)
        if verdict is None:
            log.error("authorizer %s returned a malformed policy: %r", spec.function_id, result.get("policyDocument"))
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        if not verdict:
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny")
        output = {key: _stringify(value) for key, value in (result.get("context") or {}).items()}
        output["principalId"] = str(result["principalId"])
        output["integrationLatency"] = int((time.monotonic() - started) * 1000)
        return output, result.get("usageIdentifierKey")

    def _invoke(self, function_id: str, event: dict, request_id: str) -> HttpResponse:
        try:
            result = self._function(function_id)(event)
        except GatewayError:
            raise
        except Exception:  # noqa: BLE001 - a failed invocation is a 502 for the client, a traceback for us
            log.exception("%s raised while handling %s %s", function_id, event["httpMethod"], event["path"])
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None
        try:
            return proxy_result_to_http(result, request_id)
        except ValueError as problem:
            log.error("%s returned a malformed proxy response (%s): %r", function_id, problem, result)
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None

    def gateway_response(self, response_type: str, message: str | None, request_id: str) -> HttpResponse:
        default_status, default_message = _DEFAULT_GATEWAY_RESPONSES.get(response_type, (500, None))
        message = message if message is not None else default_message
        configured = self.api.gateway_responses.get(response_type)
        if configured is None:
            family = "DEFAULT_4XX" if 400 <= default_status < 500 else "DEFAULT_5XX"
            fallback = self.api.gateway_responses.get(family)
            if fallback is not None:
                configured = GatewayResponse(default_status, fallback.templates, fallback.headers)
        status = configured.status if configured else default_status
        template = (configured.templates.get("application/json") if configured else None)
        if template:
            body = (
                template.replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.message", message or "")
                .replace("$context.error.responseType", response_type)
                .replace("$context.requestId", request_id)
            )
        else:
            body = json.dumps({"message": message})
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", _error_type(response_type))]
        headers += list((configured.headers if configured else {}).items())
        return HttpResponse(status, headers, body.encode("utf-8"))


def _call_with_deadline(call: Callable[[dict], Any], event: dict, timeout_s: float) -> Any:
    """Run ``call(event)``; past the deadline answer as API Gateway does and leave it running.

    Lambda would stop the function at its timeout; a thread cannot be stopped, so it finishes in
    the background and its result is dropped.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call(event)
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=run, name="lambda-invocation", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        log.error("invocation still running after %.0f s: answering 504 as API Gateway does", timeout_s)
        raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _error_type(response_type: str) -> str:
    return {
        "UNAUTHORIZED": "UnauthorizedException",
        "ACCESS_DENIED": "AccessDeniedException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "REQUEST_TOO_LARGE": "RequestTooLargeException",
    }.get(response_type, "InternalServerErrorException")


def proxy_result_to_http(result: Any, request_id: str) -> HttpResponse:
    """Turn a Lambda proxy response into HTTP; ``ValueError`` when API Gateway would reject it (502)."""
    if not isinstance(result, dict):
        raise ValueError("the response is not a JSON object")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"statusCode {status!r} is not an HTTP status")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError("body must be a string")
    raw = base64.b64decode(body) if (body and result.get("isBase64Encoded")) else (body or "").encode("utf-8")
    merged: dict[str, tuple[str, list[str]]] = {}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        merged[name.lower()] = (name, [str(v) for v in (values if isinstance(values, list) else [values])])
    for name, value in (result.get("headers") or {}).items():
        # Values given in both maps come from multiValueHeaders only, as API Gateway merges them.
        merged.setdefault(name.lower(), (name, [str(value)]))
    headers = [(name, value) for name, values in merged.values() for value in values]
    headers = [(n, v) for n, v in headers if n.lower() not in {"content-length", "transfer-encoding", "connection"}]
    headers.append(("x-amzn-RequestId", request_id))
    return HttpResponse(status, headers, raw)


# --------------------------------------------------------------------------------------------------
# The HTTP server


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
