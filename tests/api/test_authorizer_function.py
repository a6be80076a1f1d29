"""AuthorizerFunction against the keys table in moto."""

from __future__ import annotations

import pytest
from apigw_events import LambdaContext, load_function

from midiscribe.aws.keys import ApiKeyRepository

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/v1/audio_to_midi"


def authorizer_event(header: str | None) -> dict:
    headers = {"Authorization": header} if header is not None else {}
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "resource": "/{proxy+}", "path": "/v1/audio_to_midi",
            "httpMethod": "POST", "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": {"stage": "prod", "apiId": "abc123"}}


def invoke(event: dict) -> dict:
    return load_function("authorizer").lambda_handler(event, LambdaContext(function_name="AuthorizerFunction"))


@pytest.mark.parametrize("form", ["{key}", "Bearer {key}"])
def test_known_key_is_allowed_with_context(aws_stack, form: str) -> None:
    raw_key, record = aws_stack.create_key("ci")
    policy = invoke(authorizer_event(form.format(key=raw_key)))
    assert policy["principalId"] == record.key_id
    assert policy["context"] == {"key_id": record.key_id, "key_name": "ci"}
    assert policy["usageIdentifierKey"] == record.key_id
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow" and statement["Resource"].endswith("abc123/prod/*/*")


@pytest.mark.parametrize("header", [None, "", "Bearer ", "msk_unknown_key_000000000000"])
def test_missing_or_unknown_key_is_unauthorized(aws_stack, header) -> None:
    with pytest.raises(Exception, match="^Unauthorized$"):
        invoke(authorizer_event(header))


def test_disabled_key_is_unauthorized(aws_stack) -> None:
    raw_key, record = aws_stack.create_key("old")
    ApiKeyRepository(aws_stack.keys_table, client=aws_stack.dynamodb).disable(record.key_id)
    with pytest.raises(Exception, match="^Unauthorized$"):
        invoke(authorizer_event(raw_key))
