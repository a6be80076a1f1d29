"""ApiKeyRepository against the template's keys table in moto."""

from __future__ import annotations

import base64
import hashlib
import json
import re

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


def test_list_returns_every_key_oldest_first(repository, monkeypatch):
    # Stamps are to the millisecond, and moto creates three keys within one: give each its own.
    stamps = iter(["2026-01-01T00:00:00.003Z", "2026-01-01T00:00:00.001Z", "2026-01-01T00:00:00.002Z"])
    monkeypatch.setattr("midiscribe.aws.keys.iso_now", lambda: next(stamps))
    made = [repository.create(name)[1] for name in ("third", "first", "second")]
    created = sorted(made, key=lambda record: record.created_at)
    assert [record.name for record in created] == ["first", "second", "third"]
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


# ---------------------------------------------------------------------------------------- the CLI
def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from midiscribe.cli import main

    code = main(["keys", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_create_prints_the_key_once_and_stores_its_hash(aws_stack, capsys):
    code, out, _ = run_cli(capsys, "create", "--name", "ci pipeline", "--table", aws_stack.keys_table)
    assert code == 0
    raw_key = re.search(r"API key\s+(msk_\S+)", out).group(1)
    secret = re.search(r"Webhook secret\s+(whsec_\S+)", out).group(1)
    record = ApiKeyRepository(aws_stack.keys_table).lookup(raw_key)
    assert record is not None and record.name == "ci pipeline" and record.webhook_secret == secret
    assert "usage plan" in out  # warns that a deployed stack needs the key in its usage plan

    code, out, _ = run_cli(capsys, "list", "--table", aws_stack.keys_table)
    assert code == 0 and record.key_id in out and "ci pipeline" in out
    assert raw_key not in out and secret not in out


def test_cli_finds_the_table_from_the_environment_and_disables(aws_stack, capsys):
    # aws_stack sets MIDISCRIBE_KEYS_TABLE as the functions get it.
    code, out, _ = run_cli(capsys, "create", "--name", "app", "--json")
    created = json.loads(out)
    assert code == 0 and created["api_key"].startswith("msk_") and created["enabled"] is True

    code, out, _ = run_cli(capsys, "disable", created["key_id"])
    assert code == 0 and "Disabled" in out
    assert ApiKeyRepository(aws_stack.keys_table).lookup(created["api_key"]) is None

    code, out, _ = run_cli(capsys, "list", "--json")
    assert [(k["key_id"], k["enabled"]) for k in json.loads(out)] == [(created["key_id"], False)]
    assert "webhook_secret" not in out


def test_cli_uses_the_stack_outputs_and_registers_keys_with_the_usage_plan(aws_stack, capsys):
    import boto3

    apigateway = boto3.client("apigateway", region_name=aws_stack.region)
    plan_id = apigateway.create_usage_plan(name="per-key")["id"]
    cloudformation = boto3.client("cloudformation", region_name=aws_stack.region)
    cloudformation.create_stack(StackName="midiscribe", TemplateBody=json.dumps({
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"KeysTableName": {"Value": aws_stack.keys_table}, "UsagePlanId": {"Value": plan_id},
                    "ApiUrl": {"Value": "https://abc.execute-api.us-east-1.amazonaws.com/prod"}},
    }))

    code, out, _ = run_cli(capsys, "create", "--name", "partner", "--stack-name", "midiscribe")
    assert code == 0, out
    assert f"usage plan {plan_id}" in out and "https://abc.execute-api" in out
    key_id = re.search(r"\((key_\w+)\)", out).group(1)
    plan_keys = apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]
    assert [item["value"] for item in plan_keys] == [key_id]  # what the authorizer returns as usageIdentifierKey

    code, out, _ = run_cli(capsys, "disable", key_id, "--stack-name", "midiscribe")
    assert code == 0 and "usage-plan key is disabled too" in out
    gateway_key = apigateway.get_api_keys(nameQuery=key_id)["items"][0]
    assert gateway_key["enabled"] is False


def test_cli_explains_what_is_missing(aws_stack, capsys, monkeypatch):
    monkeypatch.delenv("MIDISCRIBE_KEYS_TABLE")
    code, _, err = run_cli(capsys, "list")
    assert code == 1 and "--stack-name" in err and "--table" in err

    code, _, err = run_cli(capsys, "list", "--stack-name", "no-such-stack")
    assert code == 1 and "Cannot read stack no-such-stack" in err

    code, _, err = run_cli(capsys, "disable", "key_unknown0000000000000", "--table", aws_stack.keys_table)
    assert code == 1 and "keys list" in err

    code, _, err = run_cli(capsys, "create", "--name", " ", "--table", aws_stack.keys_table)
    assert code == 1 and "name" in err

    code, _, err = run_cli(capsys, "list", "--table", "no-such-table")
    assert code == 1 and "ResourceNotFoundException" in err


@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:5000", "ftp://127.0.0.1:5000"])
def test_cli_refuses_an_endpoint_that_is_not_a_url(capsys, url):
    """boto3 refused these with a ValueError traceback."""
    from midiscribe.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["keys", "list", "--endpoint-url", url])
    assert exit_info.value.code == 2
    assert "argument --endpoint-url: expected an http:// or https:// URL" in capsys.readouterr().err
