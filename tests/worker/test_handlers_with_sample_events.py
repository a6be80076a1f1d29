"""Every handler driven with the sample events in events/ (the shapes `sam local invoke -e` uses)."""

from __future__ import annotations

import json

import pytest
from worker_support import LambdaContext, load_function, tiny_wav

from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.tasks import Task, TaskKind, TaskSource, TaskStatus

EVENTS_BUCKET = "midiscribe-123456789012-us-east-1-b954e4c02e15"
SAMPLE_TASK_ID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
SAMPLE_KEY_ID = "key_0f1e2d3c4b5a69788796"
SAMPLE_RAW_KEY = "msk_sample-key-not-valid-anywhere-0123456789"
# The sample key's own upload, which events/api_audio_to_midi_path_json.json (and the cURL one) name.
SAMPLE_UPLOAD = f"uploads/{SAMPLE_KEY_ID}/{SAMPLE_TASK_ID}/audio.wav"


@pytest.fixture
def stack(aws_stack, monkeypatch):
    monkeypatch.setattr("midiscribe.net.urls.system_resolver", lambda host, port: ["93.184.216.34"])
    aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key=SAMPLE_UPLOAD, Body=tiny_wav())
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=SAMPLE_KEY_ID, retention_days=1, task_id=SAMPLE_TASK_ID,
                    source=TaskSource(kind="s3", key=SAMPLE_UPLOAD, filename="audio.wav"))
    TaskRepository(aws_stack.tasks_table, client=aws_stack.dynamodb).create(task)
    return aws_stack


def event(sample_event, stack, name: str) -> dict:
    """The sample event, pointed at this test's bucket (the same name unless the local naming changes)."""
    return json.loads(json.dumps(sample_event(name)).replace(EVENTS_BUCKET, stack.bucket))


def call_api(payload: dict) -> tuple[int, dict | str]:
    response = load_function("submit").lambda_handler(payload, LambdaContext(function_name="SubmitFunction"))
    try:
        return response["statusCode"], json.loads(response["body"])
    except ValueError:
        return response["statusCode"], response["body"]


@pytest.mark.parametrize(
    "name",
    ["api_audio_to_midi_curl", "api_audio_to_midi_multipart", "api_audio_to_midi_path_json",
     "api_audio_to_midi_url_form", "api_file_convert"],
)
def test_submit_events_queue_a_task(stack, sample_event, name) -> None:
    status, body = call_api(event(sample_event, stack, name))
    assert status == 200, body
    assert body["success"] is True and body["status"] == "IN_QUEUE" and body["conversion_id"]
    queued = [json.loads(m["Body"]) for m in stack.receive(stack.transcribe_queue_url)]
    assert queued == [{"task_id": body["task_id"]}]


@pytest.mark.parametrize("name", ["api_health", "api_openapi", "api_swagger", "api_uploads", "api_by_id"])
def test_read_events_answer_200(stack, sample_event, name) -> None:
    status, body = call_api(event(sample_event, stack, name))
    assert status == 200, body


def test_kie_events_generate_then_record(stack, sample_event) -> None:
    status, body = call_api(event(sample_event, stack, "api_midi_generate"))
    assert status == 200 and body["code"] == 200, body
    record_event = event(sample_event, stack, "api_midi_record_info")
    record_event["queryStringParameters"] = {"taskId": body["data"]["taskId"]}
    record_event["multiValueQueryStringParameters"] = {"taskId": [body["data"]["taskId"]]}
    status, record = call_api(record_event)
    assert status == 200 and record["data"]["taskId"] == body["data"]["taskId"]


@pytest.mark.parametrize("name", ["authorizer_request", "authorizer_request_bearer"])
def test_authorizer_events(stack, sample_event, name) -> None:
    stack.create_key("sample key", raw_key=SAMPLE_RAW_KEY)
    policy = load_function("authorizer").lambda_handler(event(sample_event, stack, name), LambdaContext())
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    with pytest.raises(Exception, match="Unauthorized"):
        other = event(sample_event, stack, name)
        other["headers"]["Authorization"] = "msk_some-other-key-0123456789"
        other["multiValueHeaders"]["Authorization"] = ["msk_some-other-key-0123456789"]
        load_function("authorizer").lambda_handler(other, LambdaContext())


def test_transcribe_event_completes_the_sample_task(stack, sample_event) -> None:
    response = load_function("transcribe").lambda_handler(event(sample_event, stack, "sqs_transcribe"),
                                                          LambdaContext())
    assert response == {"batchItemFailures": []}
    task = TaskRepository(stack.tasks_table, client=stack.dynamodb).get(SAMPLE_TASK_ID)
    assert task.status is TaskStatus.COMPLETED and task.note_count >= 1


def test_inbox_event_creates_and_completes_an_inbox_task(stack, sample_event) -> None:
    stack.s3.put_object(Bucket=stack.bucket, Key="inbox/my song (take 2).wav", Body=tiny_wav())
    stack.receive(stack.transcribe_queue_url)  # moto's own notification; the sample event stands in for it
    response = load_function("transcribe").lambda_handler(event(sample_event, stack, "sqs_s3_inbox"),
                                                          LambdaContext())
    assert response == {"batchItemFailures": []}
    repo = TaskRepository(stack.tasks_table, client=stack.dynamodb)
    inbox = [t for t in repo.list_by_owner("inbox")]
    assert len(inbox) == 1 and inbox[0].status is TaskStatus.COMPLETED
    assert inbox[0].source.key == "inbox/my song (take 2).wav"
    assert inbox[0].outputs["midi"] == f"results/{inbox[0].task_id}/my_song__take_2.mid"


def test_s3_test_event_is_skipped(stack, sample_event) -> None:
    response = load_function("transcribe").lambda_handler(event(sample_event, stack, "sqs_s3_test_event"),
                                                          LambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(stack.dynamodb.scan(TableName=stack.tasks_table)["Items"]) == 1  # only the sample task
