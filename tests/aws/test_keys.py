"""ApiKeyRepository against the template's keys table in moto."""

from __future__ import annotations

import base64
import hashlib

import pytest
from midiscribe.aws.keys import (
    ApiKeyError,
    ApiKeyNotFoundError,
    ApiKeyRepository,
    check_webhook_secret,
    hash_key,
    new_webhook_secret,
)


@pytest.fixture
def repository(aws_stack) -> ApiKeyRepository:
    return ApiKeyRepository(aws_stack.keys_table)


def test_hash_key_is_sha256_hex():
    assert hash_key("msk_example-key-123") == hashlib.sha256(b"msk_example-key-123").hexdigest()


def test_created_key_is_stored_only_as_its_hash(repository, aws_stack):
    raw_key, record = repository.create("ci pipeline")

    assert raw_key.startswith("msk_") and len(raw_key) > 40
    items = aws_stack.dynamodb.scan(TableName=aws_stack.keys_table)["Items"]
    assert len(items) == 1
    item = items[0]
    assert item["key_hash"]["S"] == hash_key(raw_key)
    assert raw_key not in str(item)
    assert item["key_id"]["S"] == record.key_id
    assert item["name"]["S"] == "ci pipeline"
    assert item["enabled"]["BOOL"] is True
    assert record.created_at.endswith("Z") and item["created_at"]["S"] == record.created_at


def test_key_ids_are_long_enough_for_usage_plans_and_unique(repository):
    ids = {repository.create(f"key {n}")[1].key_id for n in range(5)}
    assert len(ids) == 5
    assert all(key_id.startswith("key_") and len(key_id) >= 20 for key_id in ids)


def test_webhook_secret_is_a_standard_webhooks_secret(repository):
    from standardwebhooks import Webhook

    _, record = repository.create("receiver")
    assert record.webhook_secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(record.webhook_secret.removeprefix("whsec_"))) <= 64
    # The standardwebhooks package accepts it for signing and verifying.
    webhook = Webhook(record.webhook_secret)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    signature = webhook.sign("msg_1", now, '{"a":1}')
    webhook.verify('{"a":1}', {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
                               "webhook-signature": signature})


def test_lookup_finds_enabled_keys_and_refuses_unknown_and_disabled(repository):
    raw_key, record = repository.create("app")

    assert repository.lookup(raw_key) == record
    assert repository.lookup(raw_key + "x") is None
    assert repository.lookup("") is None

    disabled = repository.disable(record.key_id)
    assert disabled.enabled is False
    assert repository.lookup(raw_key) is None
    assert repository.lookup(raw_key, include_disabled=True) == disabled


def test_get_by_key_id_includes_disabled_keys(repository):
    _, record = repository.create("app")
    repository.disable(record.key_id)

    found = repository.get(record.key_id)
    assert found is not None and found.key_id == record.key_id and found.enabled is False
    assert found.webhook_secret == record.webhook_secret
    assert repository.get("key_unknown0000000000000") is None


def test_list_returns_every_key_oldest_first(repository):
    created = [repository.create(name)[1] for name in ("first", "second", "third")]
    listed = repository.list()
    assert [record.key_id for record in listed] == [record.key_id for record in created]


def test_disable_unknown_key_says_how_to_find_keys(repository):
    with pytest.raises(ApiKeyNotFoundError, match="keys list"):
        repository.disable("key_doesnotexist00000000")


def test_create_with_fixed_key_is_idempotent_and_keeps_the_key_id(repository):
    secret = new_webhook_secret()
    first = repository.create_with("msk_development-key-0001", "dev", secret)
    repository.disable(first.key_id)

    again = repository.create_with("msk_development-key-0001", "dev again")
    assert again.key_id == first.key_id
    assert again.enabled is True
    assert again.name == "dev again"
    assert again.webhook_secret == secret

    other_secret = new_webhook_secret()
    replaced = repository.create_with("msk_development-key-0001", "dev", other_secret)
    assert replaced.webhook_secret == other_secret
    assert repository.lookup("msk_development-key-0001").webhook_secret == other_secret


@pytest.mark.parametrize(
    ("raw_key", "message"),
    [
        ("", "empty"),
        ("short", "16 to 256"),
        ("msk_has a space in it", "spaces"),
        ("Bearer msk_0123456789abcdef", "Bearer"),
        ("msk_non-ascii-ключ-12345", "non-ASCII"),
    ],
)
def test_unusable_raw_keys_are_refused_with_a_reason(repository, raw_key, message):
    with pytest.raises(ApiKeyError, match=message):
        repository.create_with(raw_key, "dev")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\tname"])
def test_unusable_names_are_refused(repository, name):
    with pytest.raises(ApiKeyError):
        repository.create(name)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("plain-secret", "whsec_"),
        ("whsec_***not-base64***", "base64"),
        ("whsec_" + base64.b64encode(b"x" * 8).decode(), "24 to 64"),
    ],
)
def test_unusable_webhook_secrets_are_refused(secret, message):
    with pytest.raises(ApiKeyError, match=message):
        check_webhook_secret(secret)


def test_repository_needs_a_table_name():
    with pytest.raises(ApiKeyError, match="MIDISCRIBE_KEYS_TABLE"):
        ApiKeyRepository("")
