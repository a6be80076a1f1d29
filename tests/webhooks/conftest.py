from __future__ import annotations

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def stack(aws_stack, monkeypatch):
    """The template's resources in moto, with webhooks allowed to reach the loopback receiver quickly."""
    monkeypatch.setenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("MIDISCRIBE_ALLOW_HTTP_URLS", "true")
    monkeypatch.setenv("MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE", "0,0,0")
    monkeypatch.setenv("MIDISCRIBE_WEBHOOK_TIMEOUT_S", "0.5")
    return aws_stack
