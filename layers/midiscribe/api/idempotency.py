"""``Idempotency-Key`` on every POST, with Powertools' idempotency utility.

A client that retries a POST with the same ``Idempotency-Key`` (and the same request) gets the first
answer again, byte for byte, with ``Idempotent-Replayed: true``, and no second task. Requests that
race the first one while it runs get 409 and retry; the same key with another request (another
route or another body) gets 422. Records are per API key, so two keys never see each other's
answers, and last a day. Only successful answers are kept: a refused request can be corrected and
sent again under the same key.

"The same request" is its route (at our path or MusicGPT's) and its fields as parsed (``midiscribe.api.body``),
files by their name, type and SHA-256: a client that rebuilds a multipart body with a new boundary sends
the same request. The records live in DynamoDB (``midiscribe.aws.idempotency``, wired by the handler).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from midiscribe.domain.errors import ConflictError, InvalidRequestError, ServiceBusyError, UnprocessableError

from .body import RequestBody
from .context import caller_id, operation_path, request_body

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Where the handler puts the persistence layer in the resolver's context.
IDEMPOTENCY_STORE = "idempotency_store"
MAX_KEY_CHARS = 255
# How long a first answer is kept: retries come within minutes, rarely a day later.
RECORD_TTL_S = 24 * 3600
# Every route shares one namespace of records, so a key reused on another route is caught as a mismatch.
_RECORD_PREFIX = "midiscribe-api"


class _NotKept(Exception):
    """A non-2xx answer: raised through the utility so that it keeps no record of it."""

    def __init__(self, answer: dict[str, Any]):
        super().__init__(answer["status"])
        self.answer = answer


def idempotent_posts(app: Any, next_middleware: Any) -> Response:
    """Resolver middleware: a POST with an Idempotency-Key runs once per key; everything else runs as is."""
    event = app.current_event
    key = event.headers.get(HEADER) if event.http_method == "POST" else None
    store = app.context.get(IDEMPOTENCY_STORE)
    owner = caller_id(app)
    if key is None or store is None or not owner:
        return next_middleware(app)  # no key sent; or unauthenticated, which the route refuses itself
    request = {"owner": owner, "key": _checked(key), "request": fingerprint(event, request_body(app))}
    config = IdempotencyConfig(
        event_key_jmespath="[owner, key]",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RECORD_TTL_S,
        response_hook=lambda answer, _record: {**answer, "replayed": True},
    )
    config.register_lambda_context(app.lambda_context)

    def first_answer(request: dict[str, Any]) -> dict[str, Any]:
        answer = _recorded(next_middleware(app))
        if not 200 <= answer["status"] < 300:
            raise _NotKept(answer)
        return answer

    once = idempotent_function(first_answer, data_keyword_argument="request", persistence_store=store(),
                               config=config, key_prefix=_RECORD_PREFIX)
    try:
        answer = once(request=request)
    except _NotKept as failed:
        answer = failed.answer
    except IdempotencyValidationError:
        raise UnprocessableError(
            f"This {HEADER} was used before with a different request (another route, other fields, other files "
            f"or the same stems in another order): send a new {HEADER} for a new request.",
            "IDEMPOTENCY_KEY_REUSED",
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise ConflictError(
            f"The first request with this {HEADER} is still being processed: retry in a moment to get its answer.",
            "IDEMPOTENCY_KEY_IN_PROGRESS",
        ) from None
    except IdempotencyPersistenceLayerError as error:
        if isinstance(error.__cause__, ServiceBusyError):
            raise error.__cause__ from None
        raise
    headers = {REPLAYED_HEADER: "true"} if answer.get("replayed") else {}
    return Response(status_code=answer["status"], content_type=answer["content_type"], body=answer["body"],
                    headers={**answer["headers"], **headers})


def _checked(key: str) -> str:
    if not 0 < len(key) <= MAX_KEY_CHARS or not all("!" <= char <= "~" for char in key):
        raise InvalidRequestError(
            f"The {HEADER} header must be 1 to {MAX_KEY_CHARS} printable ASCII characters without spaces "
            "(a UUID is a good choice).",
            "INVALID_IDEMPOTENCY_KEY",
        )
    return key


def fingerprint(event: Any, body: RequestBody) -> str:
    """A digest of what the request asks for: its method, path, query and parsed fields and files."""
    files = {name: [part.filename, part.content_type, hashlib.sha256(part.data).hexdigest()]
             for name, part in body.files.items()}
    described = {
        "method": event.http_method,
        "path": operation_path(event.path),  # one operation at two paths is one request: a retry may use either
        "query": sorted((event.query_string_parameters or {}).items()),
        "fields": body.fields,
        "files": files,
    }
    if len(body.files) > 1:
        # Stems become tracks in the order their parts come: the same stems reordered ask for another file.
        # (Only here, so that the digests of one-file requests recorded before this stay what they were.)
        described["file_order"] = list(body.files)
    text = json.dumps(described, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _recorded(response: Response) -> dict[str, Any]:
    """An answer as a record can hold it (and as the client gets it, replayed or not)."""
    body = response.body
    if not isinstance(body, str | bytes):
        body = json.dumps(body, separators=(",", ":"))
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    headers = {name: value for name, value in (response.headers or {}).items()
               if isinstance(value, str) and name.lower() != "content-type"}
    return {"status": int(response.status_code), "content_type": response.content_type, "body": body,
            "headers": headers}
