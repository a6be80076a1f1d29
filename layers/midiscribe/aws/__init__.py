"""The AWS adapters: S3 storage, DynamoDB task and key repositories, SQS queues.

They implement the interfaces of ``midiscribe.domain.ports`` and are the only boto3 calls the
deployed functions make (the local stack and the ``keys`` command make their own, to set things up).
Errors the service must tell apart leave here as the domain's exceptions: a missing object, a task
that exists, and AWS asking us to slow down (``ServiceBusyError``, which the API answers with 429).

:func:`client` hands out one client per service and per endpoint for the whole process: creating
boto3 clients costs milliseconds of CPU each, and a warm Lambda should not pay that on every request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from midiscribe.domain.errors import ServiceBusyError

_clients: dict[tuple[str | None, ...], Any] = {}
_lock = threading.Lock()

# What decides where a client sends its requests and as whom: a client made under other values of
# these (the local stack's moto endpoint, a test's fake credentials) is a different client.
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID")
# The error codes with which S3, DynamoDB and SQS ask a caller to slow down.
THROTTLING_CODES = frozenset({
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
})


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


class ThrottleAwareClient:
    """A boto3 client whose API calls raise :class:`ServiceBusyError` when AWS throttles them.

    Everything else (other errors, ``exceptions``, ``meta``, paginators, presigning) is the
    client's own, so adapters use it as they would use the client.
    """

    def __init__(self, client: Any):
        self.wrapped = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.wrapped, name)
        if name not in self.wrapped.meta.method_to_api_mapping:
            return attribute
        return _slowing_down(attribute)


def _slowing_down(call: Callable[..., Any]) -> Callable[..., Any]:
    def api_call(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ClientError as error:
            code = error_code(error)
            if code in THROTTLING_CODES:
                raise ServiceBusyError(code) from error
            raise

    return api_call


def throttle_aware(client: Any) -> Any:
    return client if isinstance(client, ThrottleAwareClient) else ThrottleAwareClient(client)


class AwsAdapter:
    """What every adapter shares: the boto3 client it was given (tests pass moto's), else the process's."""

    service = ""
    signature_version: str | None = None

    def __init__(self, client: Any = None):
        self._client = throttle_aware(client) if client is not None else None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = shared_client(self.service, signature_version=self.signature_version)
        return self._client


def client(service: str, *, signature_version: str | None = None) -> Any:
    """The process's boto3 client for ``service`` under the current environment, created on first use."""
    key = (
        service,
        signature_version,
        os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}"),
        *(os.environ.get(name) for name in _ENDPOINT_VARIABLES),
    )
    existing = _clients.get(key)
    if existing is not None:
        return existing
    with _lock:  # boto3's default session is not safe to create clients from concurrently
        if key not in _clients:
            import boto3
            from botocore.config import Config

            config = Config(signature_version=signature_version) if signature_version else None
            _clients[key] = ThrottleAwareClient(boto3.client(service, config=config))
        return _clients[key]


shared_client = client


def forget_clients() -> None:
    """Drop every cached client (tests start each moto mock with fresh ones)."""
    with _lock:
        _clients.clear()
