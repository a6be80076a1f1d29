"""The AWS adapters: S3 storage, DynamoDB task and key repositories, SQS queues.

This package is the only place boto3 is called. :func:`client` hands out one client per service and
per endpoint for the whole process: creating boto3 clients costs milliseconds of CPU each, and a warm
Lambda should not pay that on every request.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_clients: dict[tuple[str | None, ...], Any] = {}
_lock = threading.Lock()

# What decides where a client sends its requests and as whom: a client made under other values of
# these (the local stack's moto endpoint, a test's fake credentials) is a different client.
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID")


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
            _clients[key] = boto3.client(service, config=config)
        return _clients[key]


def forget_clients() -> None:
    """Drop every cached client (tests start each moto mock with fresh ones)."""
    with _lock:
        _clients.clear()
