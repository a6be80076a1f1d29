"""The local API Gateway against a small template: routing, authorizer, proxy events, responses."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request

import pytest

from midiscribe.local.api_spec import API_GATEWAY_MAX_PAYLOAD_BYTES, LAMBDA_MAX_REQUEST_BYTES, api_spec
from midiscribe.local.gateway import LocalApiGateway
from midiscribe.local.proxy import HttpRequest, proxy_result_to_http
from midiscribe.local.server import ApiHttpServer, PortInUseError

ENVELOPE = '{"success": false, "error": $context.error.messageString, "code": "UNAUTHORIZED"}'

TEMPLATE = {
    "Parameters": {"StageName": {"Type": "String", "Default": "Prod"}},
    "Resources": {
        "Api": {
            "Type": "AWS::Serverless::Api",
            "Properties": {
                "StageName": {"Ref": "StageName"},
                "BinaryMediaTypes": ["multipart~1form-data", "audio/*"],
                "Auth": {
                    "DefaultAuthorizer": "KeyAuthorizer",
                    "Authorizers": {
                        "KeyAuthorizer": {
                            "FunctionArn": {"Fn::GetAtt": ["AuthFn", "Arn"]},
                            "FunctionPayloadType": "REQUEST",
                            "Identity": {"Headers": ["Authorization"]},
                        }
                    },
                },
                "GatewayResponses": {
                    "UNAUTHORIZED": {
                        "StatusCode": 401,
                        "ResponseTemplates": {"application/json": ENVELOPE},
                        "ResponseParameters": {"Headers": {"Access-Control-Allow-Origin": "'*'"}},
                    }
                },
            },
        },
        "AuthFn": {"Type": "AWS::Serverless::Function", "Properties": {}},
        "ApiFn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Events": {
                    "Health": {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/health",
                                                             "Method": "GET", "Auth": {"Authorizer": "NONE"}}},
                    "Submit": {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/v1/audio_to_midi",
                                                             "Method": "POST"}},
                    "ById": {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/v1/byId",
                                                           "Method": "GET"}},
                    "Redeliver": {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Api"},
                                                                "Path": "/v1/tasks/{task_id}/webhook/redeliver",
                                                                "Method": "POST"}},
                }
            },
        },
    },
}

GOOD_KEY = "msk_good"


def authorizer(event):
    token = (event["headers"] or {}).get("Authorization", "").removeprefix("Bearer ")
    if token == "msk_denied":
        effect = "Deny"
    elif token == GOOD_KEY:
        effect = "Allow"
    else:
        raise Exception("Unauthorized")
    return {
        "principalId": "key-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"].split("/")[0] + "/*"}]},
        "context": {"key_id": "key-1", "key_name": "dev", "enabled": True},
        "usageIdentifierKey": "usage-key-1",
    }


class Recorder:
    def __init__(self, response=None, error=None):
        self.events = []
        self.response = response or {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                                     "body": json.dumps({"ok": True})}
        self.error = error

    def __call__(self, event):
        self.events.append(event)
        if self.error:
            raise self.error
        return self.response


@pytest.fixture
def api_fn():
    return Recorder()


@pytest.fixture
def gateway(api_fn):
    return LocalApiGateway(api_spec(TEMPLATE), {"AuthFn": authorizer, "ApiFn": api_fn})


def request(method, path, headers=(), body=b""):
    return HttpRequest(method=method, raw_path=path, headers=list(headers), body=body, host="127.0.0.1:3000")


def test_spec_reads_routes_authorizer_and_binary_types():
    spec = api_spec(TEMPLATE)
    assert spec.stage == "Prod"
    assert spec.binary_media_types == ("multipart/form-data", "audio/*")
    assert spec.authorizer.function_id == "AuthFn" and spec.authorizer.payload_type == "REQUEST"
    public = {route.resource for route in spec.routes if not route.authorized}
    assert public == {"/health"}


def test_public_route_skips_the_authorizer(gateway, api_fn):
    response = gateway.handle(request("GET", "/health"))
    assert response.status == 200
    event = api_fn.events[0]
    assert "authorizer" not in event["requestContext"]
    assert event["resource"] == "/health" and event["httpMethod"] == "GET"


def test_missing_or_wrong_key_is_401_with_the_template_envelope(gateway, api_fn):
    for headers in ([], [("Authorization", "wrong")]):
        response = gateway.handle(request("GET", "/v1/byId?task_id=x", headers))
        assert response.status == 401
        assert json.loads(response.body) == {"success": False, "error": "Unauthorized", "code": "UNAUTHORIZED"}
        assert ("Access-Control-Allow-Origin", "*") in response.headers
    assert api_fn.events == []


def test_explicit_deny_is_403_in_api_gateway_default_shape(gateway):
    response = gateway.handle(request("GET", "/v1/byId", [("Authorization", "msk_denied")]))
    assert response.status == 403
    assert "explicit deny" in json.loads(response.body)["message"]


def test_unknown_route_is_missing_authentication_token(gateway):
    response = gateway.handle(request("GET", "/nope"))
    assert response.status == 403
    assert json.loads(response.body) == {"message": "Missing Authentication Token"}


def test_proxy_event_is_complete(gateway, api_fn):
    headers = [("Authorization", f"Bearer {GOOD_KEY}"), ("X-Multi", "a"), ("X-Multi", "b"), ("User-Agent", "t/1")]
    response = gateway.handle(request("POST", "/v1/tasks/abc%20d/webhook/redeliver?x=1&x=2&y=", headers))
    assert response.status == 200
    event = api_fn.events[0]
    assert event["resource"] == "/v1/tasks/{task_id}/webhook/redeliver"
    assert event["path"] == "/v1/tasks/abc d/webhook/redeliver"
    assert event["pathParameters"] == {"task_id": "abc d"}
    assert event["headers"]["X-Multi"] == "b" and event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["stageVariables"] is None and event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "Prod" and context["resourcePath"] == event["resource"]
    assert context["path"] == "/Prod/v1/tasks/abc d/webhook/redeliver"
    assert context["authorizer"]["key_id"] == "key-1" and context["authorizer"]["principalId"] == "key-1"
    assert context["authorizer"]["enabled"] == "true"
    assert context["identity"]["apiKey"] == "usage-key-1"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["userAgent"] == "t/1"
    assert context["requestId"] and context["requestTimeEpoch"] > 0


def test_binary_media_types_are_base64_and_text_is_not(gateway, api_fn):
    payload = bytes(range(256))
    auth = ("Authorization", GOOD_KEY)
    gateway.handle(request("POST", "/v1/audio_to_midi", [auth, ("Content-Type", "multipart/form-data; boundary=x")], payload))
    gateway.handle(request("POST", "/v1/audio_to_midi", [auth, ("Content-Type", "application/x-www-form-urlencoded")],
                           b'{"audio_path": "s3://b/k"}'))
    binary, text = api_fn.events
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == payload
    assert text["isBase64Encoded"] is False and json.loads(text["body"]) == {"audio_path": "s3://b/k"}


def test_payload_over_10_mb_is_413(gateway, api_fn):
    response = gateway.handle(request("POST", "/v1/audio_to_midi", [("Authorization", GOOD_KEY)],
                                      b"x" * (API_GATEWAY_MAX_PAYLOAD_BYTES + 1)))
    assert response.status == 413
    assert api_fn.events == []


def test_a_binary_body_whose_event_is_over_lambdas_6_mb_is_413_as_on_aws(gateway, api_fn):
    # 5 MB of audio passes API Gateway's 10 MB, but base64-encoded in the event it is 6.7 MB: on AWS, Lambda
    # refuses the invocation. Locally it worked, so a curl upload that worked in development failed deployed.
    audio = [("Authorization", GOOD_KEY), ("Content-Type", "audio/wav")]
    response = gateway.handle(request("POST", "/v1/audio_to_midi", audio, b"x" * (5 * 1024 * 1024)))
    assert response.status == 413 and api_fn.events == []
    fits = LAMBDA_MAX_REQUEST_BYTES * 3 // 4 - 64 * 1024  # base64 of it, and the event's other fields, fit
    assert gateway.handle(request("POST", "/v1/audio_to_midi", audio, b"x" * fits)).status == 200
    assert len(api_fn.events) == 1


def test_a_text_body_counts_its_utf8_bytes_against_lambdas_6_mb(gateway, api_fn):
    # 2.5 MB of "é" is 5 MB of UTF-8, which Lambda takes; escaped as \u00e9 it would count 15 MB.
    text = [("Authorization", GOOD_KEY), ("Content-Type", "application/json")]
    body = json.dumps({"note": "é" * (5 * 512 * 1024)}, ensure_ascii=False).encode("utf-8")
    assert len(body) < LAMBDA_MAX_REQUEST_BYTES - 64 * 1024
    assert gateway.handle(request("POST", "/v1/audio_to_midi", text, body)).status == 200
    assert len(api_fn.events) == 1
    over = json.dumps({"note": "é" * (LAMBDA_MAX_REQUEST_BYTES // 2)}, ensure_ascii=False).encode("utf-8")
    assert gateway.handle(request("POST", "/v1/audio_to_midi", text, over)).status == 413
    assert len(api_fn.events) == 1


def test_handler_error_and_malformed_response_are_502():
    for function in (Recorder(error=RuntimeError("boom")), Recorder(response={"body": "no status"})):
        gateway = LocalApiGateway(api_spec(TEMPLATE), {"AuthFn": authorizer, "ApiFn": function})
        response = gateway.handle(request("GET", "/health"))
        assert response.status == 502
        assert b"boom" not in response.body


def test_proxy_result_merges_headers_and_decodes_base64():
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "audio/midi", "X-One": "single"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-one": ["multi"]},
        "body": base64.b64encode(b"\x00MThd").decode(),
        "isBase64Encoded": True,
    }
    response = proxy_result_to_http(result, "rid")
    assert response.status == 201 and response.body == b"\x00MThd"
    assert [v for n, v in response.headers if n == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for n, v in response.headers if n.lower() == "x-one"] == ["multi"]


def test_over_real_http_and_port_in_use(api_fn):
    gateway = LocalApiGateway(api_spec(TEMPLATE), {"AuthFn": authorizer, "ApiFn": api_fn})
    server = ApiHttpServer(("127.0.0.1", 0), gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as reply:
            assert reply.status == 200 and json.loads(reply.read()) == {"ok": True}
        big = urllib.request.Request(f"http://127.0.0.1:{port}/v1/audio_to_midi", method="POST",
                                     data=b"\0" * (API_GATEWAY_MAX_PAYLOAD_BYTES + 10),
                                     headers={"Authorization": GOOD_KEY, "Content-Type": "audio/wav"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(big, timeout=10)
        assert refused.value.code == 413
        with pytest.raises(PortInUseError, match="already in use"):
            ApiHttpServer(("127.0.0.1", port), gateway)
    finally:
        server.shutdown()
        server.server_close()


def test_a_handler_slower_than_the_integration_timeout_gets_504():
    import time

    def slow(event):
        time.sleep(2)
        return {"statusCode": 200, "body": "late"}

    gateway = LocalApiGateway(api_spec(TEMPLATE), {"AuthFn": authorizer, "ApiFn": slow}, integration_timeout_s=0.2)
    response = gateway.handle(request("GET", "/health"))
    assert response.status == 504
    assert json.loads(response.body) == {"message": "Endpoint request timed out"}
