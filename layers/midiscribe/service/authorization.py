"""The API Gateway REQUEST authorizer's decision: which key is calling, and the policy that says so.

The header holds the raw key or ``Bearer <key>``; the key is looked up by its SHA-256 (see
``midiscribe.aws.keys``). API Gateway caches the policy per Authorization header, so an Allow
covers every method of the API (``…/<stage>/*/*``), not only the one first called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class KeyLookup(Protocol):
    def lookup(self, raw_key: str) -> Any: ...


class Unauthorized(Exception):
    """No key, or one that is unknown or disabled (API Gateway answers 401)."""


@dataclass(frozen=True)
class Caller:
    key_id: str
    key_name: str


def key_from_header(value: str | None) -> str:
    """``<key>`` or ``Bearer <key>`` → the key; empty when there is none."""
    text = (value or "").strip()
    scheme, _, rest = text.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return text


def header_value(event: dict[str, Any], name: str) -> str:
    """A header from a REQUEST authorizer event, whatever its case (clients and proxies differ)."""
    wanted = name.lower()
    for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
        for header, value in headers.items():
            if str(header).lower() == wanted:
                if isinstance(value, list):
                    value = value[0] if value else ""
                return str(value or "")
    token = event.get("authorizationToken")  # a TOKEN authorizer's event
    return str(token or "") if wanted == "authorization" else ""


def authorize(header: str, keys: KeyLookup) -> Caller:
    raw_key = key_from_header(header)
    if not raw_key:
        raise Unauthorized("no API key in the Authorization header")
    record = keys.lookup(raw_key)
    if record is None:
        raise Unauthorized("unknown API key")
    if not getattr(record, "enabled", False):
        raise Unauthorized(f"API key {record.key_id} is disabled")
    return Caller(key_id=str(record.key_id), key_name=str(record.name))


def api_wide_resource(method_arn: str) -> str:
    """``arn:…:api-id/stage/GET/v1/byId`` → ``arn:…:api-id/stage/*/*`` (what a cached Allow must cover)."""
    prefix, _, path = method_arn.partition(":execute-api:")
    if not path:
        return method_arn
    parts = path.split("/")
    if len(parts) < 2:
        return method_arn
    return f"{prefix}:execute-api:{parts[0]}/{parts[1]}/*/*"


def allow_policy(caller: Caller, method_arn: str) -> dict[str, Any]:
    return {
        "principalId": caller.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": api_wide_resource(method_arn)}
            ],
        },
        "context": {"key_id": caller.key_id, "key_name": caller.key_name},
        "usageIdentifierKey": caller.key_id,
    }
