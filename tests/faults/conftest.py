"""The webhook tests' fixtures: a loopback receiver, and the moto stack with webhooks allowed to reach it
(retry schedule "0,0,0": three attempts, no waits)."""

from webhooks.conftest import receiver, stack  # noqa: F401 - fixtures, shared rather than written twice
