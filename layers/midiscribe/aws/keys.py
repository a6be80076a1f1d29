"""API keys in DynamoDB: only the SHA-256 of each key is stored, next to its webhook signing secret.

A raw key (``msk_…``) is shown once, when it is created, and never stored: the table's partition
key is ``sha256(raw_key)`` in hex, so a request's key is looked up by hashing it, and a copy of the
table does not let anyone call the API. Each key has a ``key_id`` (safe to log and to show; it owns
the tasks created with the key and is the API Gateway usage-plan identifier), a name, a Standard
Webhooks secret (``whsec_`` + base64 of random bytes) that signs the webhooks of its tasks, an
``enabled`` flag and a creation time. The ``by_key_id`` index finds a key from its id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from midiscribe.domain.timestamps import iso_now

from . import AwsAdapter

RAW_KEY_PREFIX = "msk_"
KEY_ID_PREFIX = "key_"
WEBHOOK_SECRET_PREFIX = "whsec_"  # nosec B105 # the prefix every Standard Webhooks secret has, not a secret
BY_KEY_ID_INDEX = "by_key_id"
# Standard Webhooks asks for secrets of 24 to 64 random bytes; 32 matches an HMAC-SHA256 block's key size.
WEBHOOK_SECRET_BYTES = 32
# Short keys could be guessed; the generated ones carry 256 bits.
MIN_RAW_KEY_LENGTH = 16
MAX_RAW_KEY_LENGTH = 256
MAX_NAME_LENGTH = 100


class ApiKeyError(ValueError):
    """A key, name or secret that cannot be used; the message says what to change."""


class ApiKeyNotFoundError(LookupError):
    """No key has the given key_id."""


def hash_key(raw_key: str) -> str:
    """The table's partition key for a raw API key: SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def new_raw_key() -> str:
    return RAW_KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    # API Gateway usage-plan key values must be at least 20 characters; this is 24.
    return KEY_ID_PREFIX + secrets.token_hex(10)


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(WEBHOOK_SECRET_BYTES)).decode("ascii")


def check_raw_key(raw_key: str) -> str:
    if not isinstance(raw_key, str) or not raw_key:
        raise ApiKeyError("The API key is empty: give a key of at least 16 characters, or let one be generated.")
    if len(raw_key) < MIN_RAW_KEY_LENGTH or len(raw_key) > MAX_RAW_KEY_LENGTH:
        raise ApiKeyError(
            f"The API key is {len(raw_key)} characters long: use {MIN_RAW_KEY_LENGTH} to "
            f"{MAX_RAW_KEY_LENGTH} characters (a generated key is {len(new_raw_key())})."
        )
    if raw_key.lower().startswith("bearer"):
        raise ApiKeyError("The API key must not start with 'Bearer': that word is how clients send a key.")
    if any(char.isspace() or not char.isprintable() for char in raw_key) or not raw_key.isascii():
        raise ApiKeyError(
            "The API key contains spaces or non-printable or non-ASCII characters; it must fit in an "
            "Authorization header as it is: use letters, digits and punctuation only."
        )
    return raw_key


def check_name(name: str) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise ApiKeyError("The key needs a name that says who or what uses it, e.g. --name ci-pipeline.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ApiKeyError(f"The key name is {len(cleaned)} characters long; keep it to {MAX_NAME_LENGTH}.")
    if not cleaned.isprintable():
        raise ApiKeyError("The key name contains control characters; use printable text only.")
    return cleaned


def check_webhook_secret(secret: str) -> str:
    """Accept a Standard Webhooks secret: ``whsec_`` + base64 of 24 to 64 bytes."""
    if not isinstance(secret, str) or not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ApiKeyError(
            "The webhook secret must look like whsec_<base64>, as Standard Webhooks secrets do; "
            "leave it unset to have one generated."
        )
    try:
        raw = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ApiKeyError("The part of the webhook secret after whsec_ is not valid base64.") from None
    if not 24 <= len(raw) <= 64:
        raise ApiKeyError(
            f"The webhook secret holds {len(raw)} bytes; Standard Webhooks secrets hold 24 to 64 random bytes."
        )
    return secret


@dataclass(frozen=True)
class ApiKeyRecord:
    """What is known about a key once it exists: everything except the raw key itself."""

    key_id: str
    name: str
    webhook_secret: str
    enabled: bool
    created_at: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ApiKeyRecord:
        return cls(
            key_id=item["key_id"]["S"],
            name=item.get("name", {}).get("S", ""),
            webhook_secret=item["webhook_secret"]["S"],
            enabled=bool(item.get("enabled", {}).get("BOOL", False)),
            created_at=item.get("created_at", {}).get("S", ""),
        )


class ApiKeyRepository(AwsAdapter):
    """The API-keys table (``MIDISCRIBE_KEYS_TABLE``): :class:`midiscribe.domain.ports.KeyStore` on DynamoDB."""

    service = "dynamodb"

    def __init__(self, table_name: str, client: Any = None):
        if not table_name:
            raise ApiKeyError(
                "No API-keys table is configured: set MIDISCRIBE_KEYS_TABLE (the stack's KeysTableName output)."
            )
        self.table_name = table_name
        super().__init__(client)

    def create(self, name: str) -> tuple[str, ApiKeyRecord]:
        """A new random key: returns the raw key (shown once, never stored) and its record."""
        raw_key = new_raw_key()
        return raw_key, self.create_with(raw_key, name)

    def create_with(self, raw_key: str, name: str, webhook_secret: str | None = None) -> ApiKeyRecord:
        """Store a key whose raw value is chosen by the caller (fixed development keys).

        Idempotent so that a local stack restarted on persisted state can call it again: when the
        key already exists it is kept (same key_id, tasks still belong to it), re-enabled, renamed,
        and given ``webhook_secret`` if one is passed.
        """
        check_raw_key(raw_key)
        name = check_name(name)
        if webhook_secret is not None:
            check_webhook_secret(webhook_secret)
        record = ApiKeyRecord(
            key_id=new_key_id(),
            name=name,
            webhook_secret=webhook_secret or new_webhook_secret(),
            enabled=True,
            created_at=iso_now(),
        )
        key_hash = hash_key(raw_key)
        errors = self.client.exceptions
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "key_hash": {"S": key_hash},
                    "key_id": {"S": record.key_id},
                    "name": {"S": record.name},
                    "webhook_secret": {"S": record.webhook_secret},
                    "enabled": {"BOOL": True},
                    "created_at": {"S": record.created_at},
                },
                ConditionExpression="attribute_not_exists(key_hash)",
            )
            return record
        except errors.ConditionalCheckFailedException:
            pass
        updates = ["#name = :name", "enabled = :enabled"]
        values: dict[str, Any] = {":name": {"S": name}, ":enabled": {"BOOL": True}}
        if webhook_secret is not None:
            updates.append("webhook_secret = :secret")
            values[":secret"] = {"S": webhook_secret}
        result = self.client.update_item(
            TableName=self.table_name,
            Key={"key_hash": {"S": key_hash}},
            UpdateExpression="SET " + ", ".join(updates),
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return ApiKeyRecord.from_item(result["Attributes"])

    def lookup(self, raw_key: str, *, include_disabled: bool = False) -> ApiKeyRecord | None:
        """The record of the key a client presented, or None if unknown (or disabled, by default).

        Disabled keys count as unknown unless asked for, so a caller that only checks for None
        still refuses them.
        """
        if not isinstance(raw_key, str) or not raw_key:
            return None
        response = self.client.get_item(
            TableName=self.table_name, Key={"key_hash": {"S": hash_key(raw_key)}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        record = ApiKeyRecord.from_item(item)
        return record if (record.enabled or include_disabled) else None

    def _item_by_id(self, key_id: str) -> dict[str, Any] | None:
        if not isinstance(key_id, str) or not key_id:
            return None
        response = self.client.query(
            TableName=self.table_name,
            IndexName=BY_KEY_ID_INDEX,
            KeyConditionExpression="key_id = :key_id",
            ExpressionAttributeValues={":key_id": {"S": key_id}},
            Limit=1,
        )
        items = response.get("Items") or []
        return items[0] if items else None

    def get(self, key_id: str) -> ApiKeyRecord | None:
        """A key by its id, enabled or not (the notify function needs a disabled key's secret too)."""
        item = self._item_by_id(key_id)
        return ApiKeyRecord.from_item(item) if item else None

    def list(self) -> list[ApiKeyRecord]:
        """Every key, oldest first. A scan: the table holds one item per key, so it stays small."""
        records: list[ApiKeyRecord] = []
        paginator = self.client.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table_name):
            records.extend(ApiKeyRecord.from_item(item) for item in page.get("Items", []))
        return sorted(records, key=lambda record: (record.created_at, record.key_id))

    def disable(self, key_id: str) -> ApiKeyRecord:
        """Refuse the key from now on; its tasks and their results stay. Disabling twice is harmless."""
        return self._set_enabled(key_id, False)

    def enable(self, key_id: str) -> ApiKeyRecord:
        return self._set_enabled(key_id, True)

    def _set_enabled(self, key_id: str, enabled: bool) -> ApiKeyRecord:
        item = self._item_by_id(key_id)
        if item is None:
            raise ApiKeyNotFoundError(
                f"No API key has key_id {key_id!r}; `midiscribe keys list` shows the existing ones."
            )
        result = self.client.update_item(
            TableName=self.table_name,
            Key={"key_hash": item["key_hash"]},
            UpdateExpression="SET enabled = :enabled",
            ConditionExpression="attribute_exists(key_hash)",
            ExpressionAttributeValues={":enabled": {"BOOL": enabled}},
            ReturnValues="ALL_NEW",
        )
        return ApiKeyRecord.from_item(result["Attributes"])
