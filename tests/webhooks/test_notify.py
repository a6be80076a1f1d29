"""The notify function end to end: moto's queues and tables, a real receiver on 127.0.0.1.

The schedule is compressed to "0,0,0" (three attempts, no waits), so a whole run through it
happens within one test by feeding the notify queue to the handler until it is empty.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from midiscribe.domain.tasks import TaskKind
from midiscribe.service import kie
from midiscribe.webhooks.payload import MIN_SIGNED_LINK_S, link_lifetime_s
from midiscribe.webhooks.schedule import RetrySchedule

from .receiver import Reply
from .stack import (
    dead_letters,
    enqueue_notify,
    follow_file_link,
    load_function,
    make_finished_task,
    pump_notify,
    task_item,
)

SEED_002_FIELDS = [
    "success", "conversion_type", "task_id", "conversion_id",
    "midi_file_path", "sonify_file_path", "notes_file_path", "message",
]


@pytest.fixture
def key(stack):
    _raw, record = stack.create_key("webhook tests")
    return record


def _verified(request, secret):
    return Webhook(secret).verify(request.body, request.headers)


def _download(stack, link: str) -> bytes:
    """Follow a payload link as a receiver would: the API's redirect, then the presigned S3 URL (moto)."""
    answer = follow_file_link(link, stack.environment["MIDISCRIBE_PUBLIC_API_URL"])
    assert answer["statusCode"] == 302, answer
    [location] = answer["multiValueHeaders"]["Location"]
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200
    return fetched.content


def test_completed_task_is_delivered_signed_with_seed_002_fields(stack, key, receiver):
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    [request] = receiver.requests
    payload = _verified(request, key.webhook_secret)
    assert list(payload)[: len(SEED_002_FIELDS)] == SEED_002_FIELDS
    assert payload["success"] is True
    assert payload["conversion_type"] == "Audio to MIDI"
    assert (payload["task_id"], payload["conversion_id"]) == (task.task_id, task.conversion_id)
    assert payload["message"] == "Audio to Midi Completed"
    assert (payload["status"], payload["error"], payload["type"]) == ("COMPLETED", None, "task.completed")
    assert payload["error_code"] is None
    assert (payload["audio_duration_s"], payload["note_count"]) == (12.5, 42)
    assert payload["timestamp"] == task.updated_at
    public_api_url = stack.environment["MIDISCRIBE_PUBLIC_API_URL"]
    assert public_api_url.startswith("https://") and public_api_url.endswith(".amazonaws.com/prod")
    assert (payload["instrument"], payload["model"], payload["model_name"]) == (
        "auto", "general", "basic-pitch-0.4.0-icassp2022")
    contents = {"midi": b"MThd", "wav": b"RIFF", "csv": b"start_time_s\n", "json": b'{"instruments": []}',
                "quantized_midi": b"MThd", "musicxml": b"<?xml"}
    for field, name in [("midi_file_path", "midi"), ("sonify_file_path", "wav"), ("notes_file_path", "csv"),
                        ("notes_json_path", "json"), ("quantized_midi_file_path", "quantized_midi"),
                        ("musicxml_file_path", "musicxml")]:
        link = urlsplit(payload[field])
        assert f"{link.scheme}://{link.netloc}{link.path}" == f"{public_api_url}/v1/files/{task.task_id}/{name}"
        # Valid for days, however short the (compressed) schedule, and not tied to any AWS credentials.
        assert int(parse_qs(link.query)["expires"][0]) >= time.time() + MIN_SIGNED_LINK_S - 60
        assert "X-Amz-Credential" not in link.query and "X-Amz-Security-Token" not in link.query
        assert _download(stack, payload[field]) == contents[name]
    assert request.headers["user-agent"].startswith("midiscribe/")

    item = task_item(stack, task.task_id)
    assert item["webhook_status"] == "delivered"
    assert item["webhook_event_id"] == request.headers["webhook-id"]
    [attempt] = item["webhook_attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["attempt"] == 1
    assert dead_letters(stack) == []


def test_without_a_public_api_url_links_fall_back_to_presigned_urls(stack, key, receiver, monkeypatch, caplog):
    monkeypatch.setenv("MIDISCRIBE_PUBLIC_API_URL", "")
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)
    payload = _verified(receiver.requests[0], key.webhook_secret)
    link = urlsplit(payload["midi_file_path"])
    assert link.path.endswith(f"results/{task.task_id}/song.midi")
    assert int(parse_qs(link.query)["X-Amz-Expires"][0]) == link_lifetime_s(RetrySchedule([0, 0, 0]))
    assert requests.get(payload["midi_file_path"], timeout=10).content == b"MThd"
    # Said at most once per process (an earlier test may already have said it): not once per webhook.
    assert len([r for r in caplog.records if "MIDISCRIBE_PUBLIC_API_URL is not set" in r.getMessage()]) <= 1


def test_failed_task_is_delivered_too(stack, key, receiver):
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url(), failed=True)
    enqueue_notify(stack, task)
    pump_notify(stack)

    payload = _verified(receiver.requests[0], key.webhook_secret)
    assert payload["success"] is False
    assert payload["type"] == "task.failed"
    assert payload["status"] == "FAILED"
    assert payload["message"] == "Audio to Midi Failed"
    assert "not audio" in payload["error"]
    assert payload["error_code"] == "NOT_AUDIO"  # as byId gives it, so receivers can branch on the reason
    assert payload["midi_file_path"] == "" and payload["sonify_file_path"] == ""


def test_fails_twice_then_succeeds_three_attempts_same_webhook_id(stack, key, receiver):
    receiver.script = [Reply(500, b"down"), Reply(503, b"still down")]
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    assert len(receiver.requests) == 3
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert len(ids) == 1
    for request in receiver.requests:
        assert _verified(request, key.webhook_secret)["task_id"] == task.task_id
    item = task_item(stack, task.task_id)
    assert [a["status_code"] for a in item["webhook_attempts"]] == [500, 503, 200]
    assert [a["attempt"] for a in item["webhook_attempts"]] == [1, 2, 3]
    assert item["webhook_status"] == "delivered"
    assert dead_letters(stack) == []


def test_gone_stops_retrying_and_is_dead_lettered(stack, key, receiver):
    receiver.default = Reply(410, b"unsubscribed")
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    assert len(receiver.requests) == 1
    item = task_item(stack, task.task_id)
    assert item["webhook_status"] == "failed"
    assert [a["status_code"] for a in item["webhook_attempts"]] == [410]
    [parked] = dead_letters(stack)
    assert parked["task_id"] == task.task_id
    assert parked["webhook_id"] == item["webhook_event_id"]
    assert "410" in parked["reason"]


def test_timeout_is_retried(stack, key, receiver):
    receiver.script = [Reply(200, delay_s=1.5)]
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    item = task_item(stack, task.task_id)
    first, second = item["webhook_attempts"]
    assert first["status_code"] is None and "timed out" in first["error"]
    assert second["status_code"] == 200
    assert item["webhook_status"] == "delivered"


def test_redirect_is_not_followed(stack, key, receiver):
    receiver.script = [Reply(302, b"", {"Location": receiver.url("/elsewhere")})]
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    assert receiver.paths() == ["/hook", "/hook"]  # the retry goes to the URL given, never to Location
    first, second = task_item(stack, task.task_id)["webhook_attempts"]
    assert first["status_code"] == 302 and "redirect not followed" in first["error"]
    assert second["status_code"] == 200


def test_exhausted_schedule_ends_failed_and_in_the_dlq(stack, key, receiver):
    receiver.default = Reply(500, b"broken")
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    assert len(receiver.requests) == 3
    item = task_item(stack, task.task_id)
    assert item["webhook_status"] == "failed"
    assert [a["status_code"] for a in item["webhook_attempts"]] == [500, 500, 500]
    [parked] = dead_letters(stack)
    assert (parked["task_id"], parked["attempt"], parked["event"]) == (task.task_id, 3, "task.completed")
    assert parked["last_status_code"] == 500
    assert "all 3 attempts failed" in parked["reason"]


def test_repeated_first_message_delivers_once(stack, key, receiver):
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    enqueue_notify(stack, task)
    pump_notify(stack)
    assert len(receiver.requests) == 1


def test_private_webhook_url_in_a_deployed_stack_is_never_called(stack, key, receiver, monkeypatch):
    monkeypatch.setenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", "false")
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    assert receiver.requests == []
    item = task_item(stack, task.task_id)
    assert item["webhook_status"] == "failed"
    assert "loopback" in item["webhook_attempts"][0]["error"]
    [parked] = dead_letters(stack)
    assert "URL refused" in parked["reason"]


def test_task_whose_key_was_deleted_is_dead_lettered(stack, receiver):
    task = make_finished_task(stack, owner_id="key_gone00000000000000", webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)
    assert receiver.requests == []
    assert task_item(stack, task.task_id)["webhook_status"] == "failed"
    assert "no longer exists" in dead_letters(stack)[0]["reason"]


def test_task_without_webhook_url_sends_nothing(stack, key, receiver):
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url="")
    enqueue_notify(stack, task)
    pump_notify(stack)
    assert receiver.requests == []
    assert "webhook_status" not in task_item(stack, task.task_id)
    assert dead_letters(stack) == []


def test_malformed_and_orphan_messages_go_to_the_dlq(stack):
    stack.sqs.send_message(QueueUrl=stack.notify_queue_url, MessageBody="{not json")
    stack.sqs.send_message(QueueUrl=stack.notify_queue_url, MessageBody=json.dumps({"task_id": "nope"}))
    pump_notify(stack)
    reasons = sorted(parked["reason"] for parked in dead_letters(stack))
    assert reasons == ["notify message body is not JSON", "the task no longer exists (expired or deleted)"]


def test_unfinished_task_is_reported_as_a_batch_failure(stack, key, receiver):
    from midiscribe.aws.tasks import TaskRepository
    from midiscribe.domain.tasks import Task, TaskSource

    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=key.key_id, source=TaskSource(kind="s3", key="k"),
                    retention_days=1, webhook_url=receiver.url())
    TaskRepository(stack.tasks_table, client=stack.dynamodb).create(task)
    stack.sqs.send_message(QueueUrl=stack.notify_queue_url, MessageBody=json.dumps({"task_id": task.task_id}))
    [response] = pump_notify(stack)
    assert len(response["batchItemFailures"]) == 1
    assert receiver.requests == []


def test_file_convert_payload(stack, key, receiver):
    task = make_finished_task(
        stack, owner_id=key.key_id, webhook_url=receiver.url(), kind=TaskKind.FILE_CONVERT,
        outputs={"converted": b"fLaC"},
    )
    enqueue_notify(stack, task)
    pump_notify(stack)
    payload = _verified(receiver.requests[0], key.webhook_secret)
    assert payload["conversion_type"] == "File Conversion"
    assert payload["message"] == "File Conversion Completed"
    assert urlsplit(payload["output_path"]).path.endswith(f"/v1/files/{task.task_id}/converted")
    assert _download(stack, payload["output_path"]) == b"fLaC"
    assert "midi_file_path" not in payload


# kie.ai's velocities are numbers from 0 to 1: MIDI's 127 is 1.0, 64 is 64/127.
KIE_INSTRUMENTS = [{"name": "Electric Piano 1", "notes": [
    {"pitch": 60, "start": 0.5, "end": 1.25, "velocity": 1.0},
    {"pitch": 64, "start": 1.0, "end": 1.5, "velocity": 0.5039},
]}]


def test_midi_generate_payload_is_kie_shaped_with_the_record_info_instruments(stack, key, receiver):
    task = make_finished_task(
        stack, owner_id=key.key_id, webhook_url=receiver.url(), kind=TaskKind.MIDI_GENERATE,
        outputs={"midi": b"MThd", "midi_data": kie.midi_data_document(KIE_INSTRUMENTS)},
    )
    enqueue_notify(stack, task)
    pump_notify(stack)
    payload = _verified(receiver.requests[0], key.webhook_secret)
    assert (payload["code"], payload["msg"], payload["task_id"]) == (200, "success", task.task_id)
    assert payload["data"] == {"taskId": task.task_id, "state": "complete", "instruments": KIE_INSTRUMENTS}


def test_midi_generate_falls_back_to_the_engine_notes_document(stack, key, receiver):
    document = {"instruments": [{"name": "Electric Piano 1", "program": 4, "is_drum": False, "notes": [
        {"pitch": 64, "start": 1.0, "end": 1.5, "velocity": 64, "pitch_bends": [1, 2]},
        {"pitch": 60, "start": 0.5, "end": 1.25, "velocity": 127, "pitch_bends": []},
    ]}]}
    task = make_finished_task(
        stack, owner_id=key.key_id, webhook_url=receiver.url(), kind=TaskKind.MIDI_GENERATE,
        outputs={"json": json.dumps(document).encode()},
    )
    enqueue_notify(stack, task)
    pump_notify(stack)
    payload = _verified(receiver.requests[0], key.webhook_secret)
    assert payload["data"]["instruments"] == KIE_INSTRUMENTS


def test_failed_midi_generate_payload_is_kie_error(stack, key, receiver):
    task = make_finished_task(
        stack, owner_id=key.key_id, webhook_url=receiver.url(), kind=TaskKind.MIDI_GENERATE, failed=True
    )
    enqueue_notify(stack, task)
    pump_notify(stack)
    payload = _verified(receiver.requests[0], key.webhook_secret)
    assert payload["code"] == 500
    assert "not audio" in payload["msg"]
    assert payload["data"] == {"taskId": task.task_id, "state": "failed", "instruments": []}


def test_handler_accepts_the_sample_event_shape(stack, key, receiver, sample_event):
    task = make_finished_task(stack, owner_id=key.key_id, webhook_url=receiver.url())
    event = sample_event("sqs_notify")
    event["Records"][0]["body"] = json.dumps({"task_id": task.task_id, "event": "task.completed"})
    from .stack import lambda_context

    response = load_function("notify").lambda_handler(event, lambda_context())
    assert response == {"batchItemFailures": []}
    assert len(receiver.requests) == 1


def test_a_stems_task_payload_names_each_stems_instrument():
    from midiscribe.domain.messages import TASK_COMPLETED
    from midiscribe.domain.tasks import Task, TaskSource, TaskStem
    from midiscribe.webhooks.payload import build_payload

    stems = (TaskStem("drums", TaskSource(kind="s3", key="uploads/k/d.wav"), "drums"),
             TaskStem("lead", TaskSource(kind="url", url="https://e.com/l.wav"), "winds"))
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id="k", retention_days=1,
                    source=TaskSource(kind="stems", filename="stems", stems=stems))
    payload = build_payload(task, TASK_COMPLETED, link=lambda task, name: f"https://x/{name}")
    assert payload["instrument"] is None
    assert payload["stems"] == [{"name": "drums", "instrument": "drums"}, {"name": "lead", "instrument": "winds"}]
    single = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id="k", retention_days=1,
                      source=TaskSource(kind="url", url="https://e.com/a.wav"))
    payload = build_payload(single, TASK_COMPLETED, link=lambda task, name: f"https://x/{name}")
    assert payload["instrument"] == "auto" and "stems" not in payload
