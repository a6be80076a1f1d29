"""Errors the API answers with: each has an HTTP status, a machine code and a message saying what to fix.

Domain code raises these; one place (``midiscribe.api.routes``) turns them into the error envelope
``{"success": false, "error": message, "code": code}``. Engine errors carry their own status and
code, so :func:`from_engine_error` only wraps them.
"""

from __future__ import annotations

from midiscribe.engine.errors import EngineError


class ApiError(Exception):
    """Base class: a request the API refuses, with the status and code the client sees."""

    http_status = 500
    default_code = "INTERNAL_ERROR"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def envelope(self) -> dict:
        return {"success": False, "error": self.message, "code": self.code}


class BadRequestError(ApiError):
    http_status = 400
    default_code = "BAD_REQUEST"


class UnauthorizedError(ApiError):
    http_status = 401
    default_code = "UNAUTHORIZED"


class ForbiddenError(ApiError):
    """A request that carries its own authorization (a signed link) which does not grant access."""

    http_status = 403
    default_code = "FORBIDDEN"


class NotFoundError(ApiError):
    http_status = 404
    default_code = "NOT_FOUND"


class PayloadTooLargeError(ApiError):
    http_status = 413
    default_code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(ApiError):
    http_status = 415
    default_code = "UNSUPPORTED_MEDIA_TYPE"


class UnprocessableError(ApiError):
    http_status = 422
    default_code = "UNPROCESSABLE"


class TooManyRequestsError(ApiError):
    http_status = 429
    default_code = "TOO_MANY_REQUESTS"


class InternalError(ApiError):
    """Something on our side failed; the message never carries internals (those go to the logs)."""

    http_status = 500
    default_code = "INTERNAL_ERROR"


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.http_status: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        UnprocessableError,
        TooManyRequestsError,
        InternalError,
    )
}


def from_engine_error(error: EngineError) -> ApiError:
    """The API error for an engine error, keeping the engine's status, code and message."""
    cls = _BY_STATUS.get(error.http_status, UnprocessableError)
    if cls is InternalError:
        return InternalError("The transcription service is not ready; try again later.", error.code)
    return cls(error.message, error.code)
