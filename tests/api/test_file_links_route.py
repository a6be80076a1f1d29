"""GET /v1/files/{task_id}/{name}: the signed result links webhooks carry, through SubmitFunction's handler."""

from __future__ import annotations

import time

import pytest
import requests
from apigw_events import LambdaContext, call, load_function, rest_event

from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.tasks import Task, TaskKind, TaskSource
from midiscribe.webhooks.file_links import FileLink, sign

OUTPUTS = {"midi": b"MThd-file", "wav": b"RIFF-file", "csv": b"start_time_s\n", "json": b'{"notes": []}'}


@pytest.fixture
def owner(aws_stack):
    _raw, record = aws_stack.create_key("file links")
    return record


@pytest.fixture
def task(aws_stack, owner) -> Task:
    repository = TaskRepository(aws_stack.tasks_table, client=aws_stack.dynamodb)
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=owner.key_id,
                    source=TaskSource(kind="s3", key="uploads/x/song.wav", filename="song.wav"), retention_days=14)
    repository.create(task)
    repository.claim(task.task_id)
    keys = {}
    for name, data in OUTPUTS.items():
        keys[name] = f"results/{task.task_id}/song.{name}"
        aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key=keys[name], Body=data)
    return repository.complete(task.task_id, outputs=keys, status_msg="Audio to Midi Completed",
                               audio_duration_s=1.0, note_count=1)


def follow(task_id: str, name: str, query: dict[str, str] | None) -> dict:
    """The raw proxy response (no Authorization header, no authorizer context: the route is public)."""
    event = rest_event("GET", f"/v1/files/{task_id}/{name}", query=query, key_id=None)
    return load_function("submit").lambda_handler(event, LambdaContext())


def link_query(secret: str, task_id: str, name: str, *, expires: int | None = None) -> dict[str, str]:
    link = FileLink(task_id=task_id, name=name, expires=expires or int(time.time()) + 3600)
    return {"expires": str(link.expires), "signature": sign(secret, link)}


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_a_signed_link_redirects_to_a_presigned_url_that_downloads_the_file(task, owner, name):
    answer = follow(task.task_id, name, link_query(owner.webhook_secret, task.task_id, name))
    assert answer["statusCode"] == 302 and answer["body"] == ""
    [location] = answer["multiValueHeaders"]["Location"]
    assert answer["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert f"results/{task.task_id}/song.{name}" in location
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.content == OUTPUTS[name]


def test_a_disabled_keys_links_stop_working(aws_stack, task, owner):
    """Disabling a key refuses its API calls and its links; enabling it again brings them back."""
    from midiscribe.aws.keys import ApiKeyRepository

    keys = ApiKeyRepository(aws_stack.keys_table, client=aws_stack.dynamodb)
    keys.disable(owner.key_id)
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/midi",
                                   query=link_query(owner.webhook_secret, task.task_id, "midi"), key_id=None))
    assert (status, body["success"], body["code"]) == (403, False, "KEY_DISABLED")
    # Only a genuine link learns that: a forged one gets the answer any bad signature gets.
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/midi",
                                   query={"expires": "1900000000", "signature": "forged"}, key_id=None))
    assert (status, body["code"]) == (403, "INVALID_SIGNATURE")


def test_a_tampered_name_is_refused(task, owner):
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/wav",
                                   query=link_query(owner.webhook_secret, task.task_id, "midi"), key_id=None))
    assert status == 403
    assert body == {"success": False, "code": "INVALID_SIGNATURE", "error": body["error"]}
    assert "signature" in body["error"]


def test_another_keys_secret_is_refused(aws_stack, task):
    _raw, stranger = aws_stack.create_key("someone else")
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/midi",
                                   query=link_query(stranger.webhook_secret, task.task_id, "midi"), key_id=None))
    assert (status, body["code"]) == (403, "INVALID_SIGNATURE")


def test_an_expired_link_is_refused(task, owner):
    query = link_query(owner.webhook_secret, task.task_id, "midi", expires=int(time.time()) - 1)
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/midi", query=query, key_id=None))
    assert (status, body["code"]) == (403, "LINK_EXPIRED")
    assert "/v1/byId" in body["error"]


@pytest.mark.parametrize("task_id", ["00000000-0000-4000-8000-000000000000", "x" * 200])
def test_an_unknown_task_is_answered_like_a_bad_signature(task, owner, task_id):
    """Whether a task exists is not for a link's holder to learn: the same answer, word for word."""
    query = {"expires": "1900000000", "signature": "forged"}
    unknown = call(rest_event("GET", f"/v1/files/{task_id}/midi", query=query, key_id=None))
    forged = call(rest_event("GET", f"/v1/files/{task.task_id}/midi", query=query, key_id=None))
    assert unknown == forged and unknown[0] == 403 and unknown[1]["code"] == "INVALID_SIGNATURE"


@pytest.mark.parametrize("name", ["converted", "midi_data", "nonsense"])
def test_a_file_the_task_does_not_have_is_404(task, owner, name):
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/{name}",
                                   query=link_query(owner.webhook_secret, task.task_id, name), key_id=None))
    assert (status, body["code"]) == (404, "FILE_NOT_FOUND")
    assert "midi, wav, csv, json" in body["error"]


@pytest.mark.parametrize(
    "query",
    [None, {"expires": "1900000000"}, {"signature": "abc"}, {"expires": "soon", "signature": "abc"}],
    ids=["nothing", "no-signature", "no-expiry", "expiry-not-a-number"],
)
def test_missing_or_malformed_parameters_are_400(task, query):
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/midi", query=query, key_id=None))
    assert (status, body["success"], body["code"]) == (400, False, "INVALID_PARAMETER")


def test_an_absurd_expiry_is_refused_as_a_bad_link(task, owner):
    query = {"expires": "9" * 20, "signature": "abc"}
    status, body = call(rest_event("GET", f"/v1/files/{task.task_id}/midi", query=query, key_id=None))
    assert (status, body["code"]) == (403, "INVALID_SIGNATURE")


def test_the_sample_event_is_what_api_gateway_sends_for_a_link(sample_event, task, owner):
    """events/api_file_link.json (no authorizer context: the route is public), with a real link's values."""
    event = sample_event("api_file_link")
    assert "authorizer" not in event["requestContext"]
    query = link_query(owner.webhook_secret, task.task_id, "midi")
    event["path"] = event["path"].replace(event["pathParameters"]["task_id"], task.task_id)
    event["pathParameters"]["task_id"] = task.task_id
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
    answer = load_function("submit").lambda_handler(event, LambdaContext())
    assert answer["statusCode"] == 302
    # As sampled, it names a task this stack does not have: answered like any link that does not check out.
    status, body = call(sample_event("api_file_link"))
    assert (status, body["code"]) == (403, "INVALID_SIGNATURE")
