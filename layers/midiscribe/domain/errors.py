"""Errors of the domain: each carries a machine code and a message that says what to fix.

They say what went wrong, not how a protocol reports it: the API maps each class to an HTTP
status in one place (``midiscribe.api.errors``), the worker records the message on the task.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request that cannot be carried out as asked."""

    default_code = "ERROR"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InvalidRequestError(DomainError):
    """A parameter is missing, malformed or out of range."""

    default_code = "BAD_REQUEST"


class NotAuthenticatedError(DomainError):
    """No API key came with the request."""

    default_code = "UNAUTHORIZED"


class AccessDeniedError(DomainError):
    """The request carries its own authorization (a signed link) and it does not grant access."""

    default_code = "FORBIDDEN"


class NotFoundError(DomainError):
    """No such task, file or object (or one that belongs to another key)."""

    default_code = "NOT_FOUND"


class ConflictError(DomainError):
    """The task is not in a state that allows this (not finished yet, no webhook to send)."""

    default_code = "CONFLICT"


class TooLargeError(DomainError):
    """The input is larger than this deployment accepts."""

    default_code = "PAYLOAD_TOO_LARGE"


class UnprocessableError(DomainError):
    """Understood, but cannot be done (for example, the earlier task it builds on failed)."""

    default_code = "UNPROCESSABLE"


class ServiceBusyError(DomainError):
    """A store or queue asked us to slow down; the caller should try again in a few seconds."""

    default_code = "TOO_MANY_REQUESTS"

    def __init__(self, reason: str = ""):
        super().__init__("Too many requests right now: wait a few seconds and try again.")
        self.reason = reason  # the store's own word for it (e.g. ThrottlingException), for logs


# ---- what the repositories and storage report (the service decides what each means to a client)


class TaskExistsError(Exception):
    def __init__(self, task_id: str):
        super().__init__(f"task {task_id} already exists")
        self.task_id = task_id


class ObjectNotFoundError(Exception):
    """The object (or its bucket) does not exist."""

    def __init__(self, bucket: str, key: str):
        super().__init__(f"s3://{bucket}/{key} does not exist")
        self.bucket = bucket
        self.key = key


class ObjectTooLargeError(Exception):
    def __init__(self, key: str, size: int, limit: int):
        super().__init__(f"{key} is {size} bytes, more than {limit} bytes")
        self.key = key
        self.size = size
        self.limit = limit
