"""The one map from errors to HTTP, and the envelopes errors are answered with.

Every error the API answers with goes through here: the domain's errors (each class has its
status below), the API's own (a content type it cannot read), invalid query or path parameters
(Powertools' validation), unknown routes (404) and known paths asked with another method (405 with
``Allow``), and anything unexpected (500, details only in the logs). Messages are cut to a bounded
length (``limits``).
Under ``/api/v1/`` (kie.ai's routes) the envelope is kie.ai's ``{"code", "msg"}``; elsewhere it is
MusicGPT's ``{"success": false, "error", "code"}``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from midiscribe.domain.errors import (
    AccessDeniedError,
    ConflictError,
    DomainError,
    InvalidRequestError,
    NotAuthenticatedError,
    NotFoundError,
    ServiceBusyError,
    TooLargeError,
    UnprocessableError,
)

from .fields import NOT_BLANK
from .limits import bounded_message

KIE_PREFIX = "/api/v1/"

logger = Logger(service="midiscribe")


class UnsupportedMediaTypeError(DomainError):
    """The request body's content type is not one the API reads."""

    default_code = "UNSUPPORTED_MEDIA_TYPE"


HTTP_STATUS: dict[type[DomainError], int] = {
    InvalidRequestError: 400,
    NotAuthenticatedError: 401,
    AccessDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    TooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    UnprocessableError: 422,
    ServiceBusyError: 429,
}

# What each status means, as the OpenAPI document says it.
DESCRIPTIONS = {
    400: "Invalid request parameters",
    401: "No API key, or an unknown or disabled one",
    403: "The link's signature does not match, or the link has expired",
    404: "Unknown task, or an S3 object that does not exist",
    405: "The path exists, but not with this method (the Allow header lists the methods it takes)",
    409: "The task is not in a state that allows this",
    413: "The file is larger than this deployment accepts",
    415: "Unsupported request content type",
    422: "The request cannot be processed (for example the earlier task failed)",
    429: "Too many requests: slow down",
    500: "Internal error (details are in the service's logs)",
}


def status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_response(path: str, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    message = bounded_message(message)
    if path.startswith(KIE_PREFIX):
        return json_response(status, {"code": status, "msg": message}, headers)
    return json_response(status, {"success": False, "error": message, "code": code}, headers)


def allowed_methods(app: Any, path: str) -> list[str]:
    """The methods the resolver serves on ``path`` (empty when no route has it); HEAD wherever GET is
    (``app.resolve`` in api/app.py)."""
    # Powertools keeps its routes in these two lists; each Route has the method and the path's regex.
    routes = [*app._static_routes, *app._dynamic_routes]
    methods = {route.method for route in routes if route.rule.match(path)}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def register_error_handlers(app: Any) -> None:
    """Install the handlers on the resolver: every error answered from here, in its route's envelope."""

    def path() -> str:
        return app.current_event.path or ""

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response:
        status = status_of(error)
        if status >= 500:
            logger.error("request failed", extra={"code": error.code, "error": error.message})
        else:
            logger.info("request refused", extra={"status": status, "code": error.code})
        return error_response(path(), status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    def invalid_parameters(error: RequestValidationError) -> Response:
        problems = []
        for detail in error.errors():
            location = [str(part) for part in detail.get("loc", ()) if part not in ("query", "body", "header", "path")]
            name = ".".join(location) or "request"
            # pydantic's "Field required" would read "taskId: Field required"; say it as a sentence.
            if detail.get("type") == "missing":
                problems.append(f"{name} is required")
            elif (detail.get("ctx") or {}).get("pattern") == NOT_BLANK:
                # The API's "not blank" pattern (fields.NOT_BLANK): quoting the regular expression helps no one.
                problems.append(f"{name} is blank: give its value")
            elif "query" in detail.get("loc", ()) and isinstance(detail.get("input"), list):
                # A repeated query parameter arrives as a list: "Input should be a valid string" hid that.
                problems.append(f"{name} is given {len(detail['input'])} times: give it once")
            else:
                problems.append(f"{name}: {detail.get('msg', 'invalid')}")
        return error_response(path(), 400, "INVALID_PARAMETER", "Invalid request: " + "; ".join(problems) + ".")

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response:
        logger.exception("unexpected error")
        request_id = app.current_event.request_context.request_id or ""
        suffix = f" (request id {request_id})" if request_id else ""
        return error_response(path(), 500, "INTERNAL_ERROR", f"Internal error; try again later{suffix}.")

    @app.not_found
    def unknown_route(_: Exception) -> Response:
        event = app.current_event
        shown = f"{event.http_method[:16]} {event.path[:200]}"
        allowed = allowed_methods(app, event.path)
        if allowed:
            return error_response(
                path(), 405, "METHOD_NOT_ALLOWED", f"{shown} is not served: this path takes {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(path(), 404, "ROUTE_NOT_FOUND", f"No route {shown}: see /swagger for the API's routes.")
