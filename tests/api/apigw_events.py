"""Build API Gateway REST proxy events (as API Gateway and the local stack send them) and call handlers."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from midiscribe.local.functions import LambdaContext as LocalLambdaContext
from midiscribe.local.functions import import_module_file

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
BINARY_TYPES = ("multipart/form-data", "audio/", "application/octet-stream")


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py, imported as the local stack imports it."""
    return import_module_file(REPOSITORY_ROOT / "functions" / name / "app.py")


def LambdaContext(function_name: str = "SubmitFunction") -> LocalLambdaContext:  # noqa: N802 - reads like the class
    return LocalLambdaContext(function_name, memory_mb=512, timeout_s=30)


def rest_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    key_id: str | None = "key_owner",
) -> dict[str, Any]:
    headers = dict(headers or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    raw = body.encode() if isinstance(body, str) else body
    binary = raw is not None and content_type.startswith(BINARY_TYPES)
    authorizer = {"key_id": key_id, "key_name": "test", "principalId": key_id} if key_id else {}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "authorizer": authorizer,
        },
        "body": (base64.b64encode(raw).decode() if binary else raw.decode()) if raw is not None else None,
        "isBase64Encoded": binary,
    }


def prepared_event(method: str, path: str, *, key_id: str | None = "key_owner", **kwargs: Any) -> dict[str, Any]:
    """The event for what ``requests.<method>(url, **kwargs)`` would send: seeds' samples verbatim."""
    prepared = requests.Request(method, f"https://api.example.com{path}", **kwargs).prepare()
    body = prepared.body
    if isinstance(body, str):
        body = body.encode()
    return rest_event(method, path, body=body, headers=dict(prepared.headers), key_id=key_id)


def call(event: dict[str, Any]) -> tuple[int, Any]:
    response = load_function("submit").lambda_handler(event, LambdaContext())
    text = response["body"]
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    try:
        return response["statusCode"], json.loads(text)
    except ValueError:
        return response["statusCode"], text
