"""Standard Webhooks signatures (https://www.standardwebhooks.com), through the `standardwebhooks` package.

A receiver checks a delivery with the same package::

    from standardwebhooks.webhooks import Webhook
    payload = Webhook("whsec_...").verify(body, headers)   # raises WebhookVerificationError

``webhook-id`` names the event, not the attempt: every retry and every redelivery of one event
carries the same id, so receivers can deduplicate. ``webhook-timestamp`` is the time of the
attempt, so a receiver can refuse replays of old requests (the package allows 5 minutes).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from midiscribe.net import USER_AGENT

SECRET_PREFIX = "whsec_"  # nosec B105 # the prefix every Standard Webhooks secret has, not a secret


class WebhookSecretError(ValueError):
    """The signing secret stored for an API key cannot be used."""


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signed_headers(secret: str, webhook_id: str, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
    """Every header of one delivery attempt: the three Standard Webhooks headers, content type, user agent."""
    if not secret or not secret.startswith(SECRET_PREFIX):
        raise WebhookSecretError(
            "the API key's webhook secret is missing or does not start with 'whsec_': create a new key"
        )
    when = (at or datetime.now(UTC)).astimezone(UTC)
    try:
        signature = Webhook(secret).sign(webhook_id, when, body.decode("utf-8"))
    except (EmptyWebhookSecretError, ValueError) as exc:
        raise WebhookSecretError(f"the API key's webhook secret is not valid base64 after 'whsec_' ({exc})") from None
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
