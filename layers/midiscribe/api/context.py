"""What a route needs from the request it serves: the caller, the body, the operation its path names (ours or
MusicGPT's), and the use cases to call.

The use cases are wired by the function's handler (``functions/submit/app.py``), which hands the
resolver a function that builds them, for the one request, when a route first asks.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools import Logger

from midiscribe.domain.errors import NotAuthenticatedError
from midiscribe.service.use_cases import UseCases

from .body import RequestBody, parse_body

USE_CASES = "use_cases"
# The parsed body, kept for the request: the idempotency check reads it before the route does.
REQUEST_BODY = "request_body"
# The body may be a little larger than the file it carries (multipart headers, other fields).
BODY_OVERHEAD_BYTES = 64 * 1024

logger = Logger(service="midiscribe")

# MusicGPT serves its routes under /api/public/v1. The same operations answer there too (musicgpt_routes), so a
# client written for MusicGPT needs only its host changed (https://api.musicgpt.com -> this API's URL).
MUSICGPT_PREFIX = "/api/public"


def operation_path(path: str) -> str:
    """The path of the operation a request reaches: MusicGPT's path for one of ours read as ours."""
    return path.removeprefix(MUSICGPT_PREFIX) if path.startswith(MUSICGPT_PREFIX + "/v1/") else path


def use_cases(router: Any) -> UseCases:
    return router.context[USE_CASES]()


def caller_id(router: Any) -> str:
    """The API key id the authorizer put in the request context ('' on a public route)."""
    context = router.current_event.request_context.authorizer
    return str(context.get("key_id") or context.get("principalId") or "") if context else ""


def caller(router: Any) -> str:
    """The API key id the authorizer put in the request context; refused when there is none."""
    key_id = caller_id(router)
    if not key_id:
        raise NotAuthenticatedError(
            "No API key: send it in the Authorization header (the raw key or 'Bearer <key>').", "UNAUTHORIZED"
        )
    logger.thread_safe_append_keys(key_id=key_id)
    return key_id


def request_body(router: Any) -> RequestBody:
    """The request's body, read by its content type (at most an upload's size plus some headroom)."""
    parsed = router.context.get(REQUEST_BODY)
    if parsed is None:
        event = router.current_event
        max_bytes = use_cases(router).settings.max_upload_bytes + BODY_OVERHEAD_BYTES
        parsed = parse_body(_raw_body(event), event.headers.get("content-type"), max_bytes=max_bytes)
        router.append_context(**{REQUEST_BODY: parsed})
    return parsed


def _raw_body(event: Any) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)
