"""API Gateway's REST proxy integration, both ways: an HTTP request as the event a function gets
(payload 1.0), and the function's answer as the HTTP response the client gets.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from .api_spec import ApiSpec, Route
from .template import ACCOUNT_ID

LOCAL_API_ID = "local"


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


def header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
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
    content_type = header(request.headers, "Content-Type")
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
                "userAgent": header(request.headers, "User-Agent"),
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
