"""The authorizer's decision, without AWS: header forms, disabled keys, the cached policy's scope."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from midiscribe.service.authorization import (
    Caller,
    Unauthorized,
    allow_policy,
    api_wide_resource,
    authorize,
    header_value,
    key_from_header,
)


@dataclass
class Record:
    key_id: str
    name: str
    enabled: bool


class Keys:
    def __init__(self, **records: Record):
        self.records = records

    def lookup(self, raw_key: str):
        return self.records.get(raw_key)


KEYS = Keys(good=Record("key_1", "ci", True), off=Record("key_2", "old", False))


@pytest.mark.parametrize(
    ("header", "key"),
    [("abc", "abc"), ("Bearer abc", "abc"), ("bearer   abc ", "abc"), (" abc ", "abc"), ("", ""), ("Bearer", "")],
)
def test_key_from_header(header: str, key: str) -> None:
    assert key_from_header(header) == key


def test_known_enabled_key_is_allowed_either_way() -> None:
    assert authorize("good", KEYS) == Caller("key_1", "ci")
    assert authorize("Bearer good", KEYS) == Caller("key_1", "ci")


@pytest.mark.parametrize("header", ["", "Bearer ", "unknown", "off", "Bearer off"])
def test_missing_unknown_or_disabled_keys_are_refused(header: str) -> None:
    with pytest.raises(Unauthorized):
        authorize(header, KEYS)


def test_header_lookup_ignores_case_and_reads_token_events() -> None:
    assert header_value({"headers": {"authorization": "x"}}, "Authorization") == "x"
    assert header_value({"multiValueHeaders": {"AUTHORIZATION": ["y"]}}, "Authorization") == "y"
    assert header_value({"authorizationToken": "z"}, "Authorization") == "z"
    assert header_value({}, "Authorization") == ""


def test_allow_policy_covers_the_whole_api_for_caching() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/byId"
    policy = allow_policy(Caller("key_1", "ci"), arn)
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"
    assert policy["principalId"] == "key_1"
    assert policy["context"] == {"key_id": "key_1", "key_name": "ci"}
    assert policy["usageIdentifierKey"] == "key_1"
    assert api_wide_resource("not-an-arn") == "not-an-arn"
