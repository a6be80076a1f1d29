"""Idempotency-Key on every POST, through SubmitFunction's handler, with the template's table in moto."""

from __future__ import annotations

import io
import json

import pytest
from apigw_events import LambdaContext, load_function, prepared_event
from botocore.exceptions import ClientError

from midiscribe.aws import client as shared_client

URL_BODY = {"audio_url": "https://example.com/a.wav"}


@pytest.fixture
def stack(aws_stack, monkeypatch):
    monkeypatch.setattr("midiscribe.net.urls.system_resolver", lambda host, port: ["93.184.216.34"])
    return aws_stack


def post(path: str, key: str | None, *, key_id: str = "key_owner", **kwargs) -> dict:
    headers = {"Idempotency-Key": key} if key is not None else {}
    event = prepared_event("POST", path, headers=headers, key_id=key_id, **kwargs)
    return load_function("submit").lambda_handler(event, LambdaContext())


def body_of(response: dict) -> dict:
    return json.loads(response["body"])


def queued(stack) -> list[str]:
    return [json.loads(m["Body"])["task_id"] for m in stack.receive(stack.transcribe_queue_url)]


def replayed(response: dict) -> bool:
    return (response.get("multiValueHeaders") or {}).get("Idempotent-Replayed") == ["true"]


def test_the_same_key_and_request_get_the_first_answer_and_no_second_task(stack):
    first = post("/v1/audio_to_midi", "k-1", json=URL_BODY)
    again = post("/v1/audio_to_midi", "k-1", json=URL_BODY)
    assert first["statusCode"] == again["statusCode"] == 200
    assert again["body"] == first["body"] and replayed(again) and not replayed(first)
    assert queued(stack) == [body_of(first)["task_id"]]


def test_a_multipart_body_rebuilt_with_another_boundary_is_the_same_request(stack):
    files = {"audio_file": ("a.wav", b"RIFF" + bytes(64), "audio/wav")}
    first = post("/v1/audio_to_midi", "k-2", files={"audio_file": ("a.wav", io.BytesIO(files["audio_file"][1]))})
    again = post("/v1/audio_to_midi", "k-2", files={"audio_file": ("a.wav", io.BytesIO(files["audio_file"][1]))})
    assert body_of(again)["task_id"] == body_of(first)["task_id"] and len(queued(stack)) == 1


@pytest.mark.parametrize(
    ("path", "payload"),
    [("/v1/audio_to_midi", {"audio_url": "https://example.com/b.wav"}),
     ("/v1/file_convert", URL_BODY)],
    ids=["another-body", "another-route"],
)
def test_the_same_key_with_another_request_is_422(stack, path, payload):
    post("/v1/audio_to_midi", "k-3", json=URL_BODY)
    refused = post(path, "k-3", json=payload)
    assert refused["statusCode"] == 422
    assert body_of(refused)["code"] == "IDEMPOTENCY_KEY_REUSED" and "Idempotency-Key" in body_of(refused)["error"]
    assert len(queued(stack)) == 1


def _wav(frequency: float) -> bytes:
    import numpy as np
    import soundfile

    buffer = io.BytesIO()
    tone = 0.3 * np.sin(2 * np.pi * frequency * np.arange(8000) / 8000).astype(np.float32)
    soundfile.write(buffer, tone, 8000, format="WAV")
    return buffer.getvalue()


def test_the_same_stems_in_another_order_are_another_request(stack):
    """Stems become tracks in the order their parts come, so reordering them asks for another file."""
    bass, keys = _wav(110.0), _wav(440.0)
    first = post("/v1/audio_to_midi", "k-order", files=[("stem.bass", ("bass.wav", io.BytesIO(bass))),
                                                        ("stem.keys", ("keys.wav", io.BytesIO(keys)))])
    same = post("/v1/audio_to_midi", "k-order", files=[("stem.bass", ("bass.wav", io.BytesIO(bass))),
                                                       ("stem.keys", ("keys.wav", io.BytesIO(keys)))])
    reordered = post("/v1/audio_to_midi", "k-order", files=[("stem.keys", ("keys.wav", io.BytesIO(keys))),
                                                            ("stem.bass", ("bass.wav", io.BytesIO(bass)))])
    assert first["statusCode"] == 200, first["body"]
    assert replayed(same) and body_of(same)["task_id"] == body_of(first)["task_id"]
    assert reordered["statusCode"] == 422 and not replayed(reordered), reordered["body"]
    assert "the same stems in another order" in body_of(reordered)["error"]


def test_a_retry_at_musicgpts_path_for_the_same_route_is_the_same_request(stack):
    # /api/public/v1/audio_to_midi is /v1/audio_to_midi at MusicGPT's path: a retry that switched was 422.
    first = post("/v1/audio_to_midi", "k-alias", json=URL_BODY)
    again = post("/api/public/v1/audio_to_midi", "k-alias", json=URL_BODY)
    assert again["statusCode"] == 200 and replayed(again) and again["body"] == first["body"]
    assert len(queued(stack)) == 1
    assert post("/api/public/v1/file_convert", "k-alias", json=URL_BODY)["statusCode"] == 422  # another route


def test_keys_are_per_api_key(stack):
    mine = post("/v1/audio_to_midi", "shared", json=URL_BODY)
    theirs = post("/v1/audio_to_midi", "shared", key_id="key_other", json=URL_BODY)
    assert body_of(mine)["task_id"] != body_of(theirs)["task_id"] and not replayed(theirs)


def test_a_refused_request_is_not_kept_so_it_can_be_corrected(stack):
    refused = post("/v1/audio_to_midi", "k-4", json={"audio_url": "https://example.com/a.wav", "nope": 1})
    assert refused["statusCode"] == 400
    accepted = post("/v1/audio_to_midi", "k-4", json=URL_BODY)
    assert accepted["statusCode"] == 200 and not replayed(accepted)


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ключ"])
def test_a_malformed_key_is_400(stack, key):
    refused = post("/v1/audio_to_midi", key, json=URL_BODY)
    assert (refused["statusCode"], body_of(refused)["code"]) == (400, "INVALID_IDEMPOTENCY_KEY")
    assert queued(stack) == []


def test_every_post_honours_it(stack):
    first = post("/v1/uploads", "k-5", json={"filename": "a.wav"})
    again = post("/v1/uploads", "k-5", json={"filename": "a.wav"})
    assert body_of(again)["upload_id"] == body_of(first)["upload_id"] and replayed(again)


def test_a_request_racing_the_first_is_told_to_retry(stack, monkeypatch):
    """While the first request runs, its record says INPROGRESS: a second one gets 409, then the answer."""
    from midiscribe.service.submissions import Submissions

    real = Submissions.submit_audio_to_midi
    answers = []

    def slow(self, owner_id, request):
        answers.append(post("/v1/audio_to_midi", "k-6", json=URL_BODY))  # arrives while the first still runs
        return real(self, owner_id, request)

    monkeypatch.setattr(Submissions, "submit_audio_to_midi", slow)
    first = post("/v1/audio_to_midi", "k-6", json=URL_BODY)
    [racing] = answers
    assert racing["statusCode"] == 409 and body_of(racing)["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    monkeypatch.setattr(Submissions, "submit_audio_to_midi", real)
    assert post("/v1/audio_to_midi", "k-6", json=URL_BODY)["body"] == first["body"]


def test_a_throttled_record_is_429(stack):
    dynamodb = shared_client("dynamodb").wrapped
    dynamodb.put_item = lambda **kwargs: (_ for _ in ()).throw(ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem"))
    refused = post("/v1/audio_to_midi", "k-7", json=URL_BODY)
    assert (refused["statusCode"], body_of(refused)["code"]) == (429, "TOO_MANY_REQUESTS")
