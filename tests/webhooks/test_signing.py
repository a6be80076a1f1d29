"""Standard Webhooks headers: a receiver using the standardwebhooks package accepts them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from midiscribe.aws.keys import new_webhook_secret
from midiscribe.webhooks.signing import WebhookSecretError, new_webhook_id, signed_headers

BODY = b'{"success":true,"task_id":"t1","message":"Audio to Midi Completed \xc3\xa9"}'


def test_receiver_verifies_with_the_same_secret():
    secret = new_webhook_secret()
    headers = signed_headers(secret, "msg_1", BODY)
    assert Webhook(secret).verify(BODY, headers)["task_id"] == "t1"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("midiscribe/")


def test_signature_is_hmac_sha256_of_id_timestamp_body():
    secret = new_webhook_secret()
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    headers = signed_headers(secret, "msg_2", BODY, at=at)
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_2." + headers["webhook-timestamp"].encode() + b"." + BODY, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b"true", b"fals"), headers),
        lambda body, headers: (body, {**headers, "webhook-id": "msg_other"}),
        lambda body, headers: (body, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}),
    ],
)
def test_tampering_is_detected(tamper):
    secret = new_webhook_secret()
    body, headers = tamper(BODY, signed_headers(secret, "msg_3", BODY))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_another_keys_secret_does_not_verify():
    headers = signed_headers(new_webhook_secret(), "msg_4", BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(BODY, headers)


def test_old_attempts_are_refused_by_receivers():
    secret = new_webhook_secret()
    headers = signed_headers(secret, "msg_5", BODY, at=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


@pytest.mark.parametrize("secret", ["", "not-a-whsec", "whsec_"])
def test_unusable_secrets_are_reported(secret):
    with pytest.raises(WebhookSecretError):
        signed_headers(secret, "msg_6", BODY)


def test_webhook_ids_are_unique():
    assert len({new_webhook_id() for _ in range(1000)}) == 1000
