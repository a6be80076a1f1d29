from __future__ import annotations

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running
