"""POST /v1/tasks/{task_id}/webhook/redeliver through the submit function, then the notify function."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.tasks import Task, TaskKind, TaskSource

from .receiver import Reply
from .stack import (
    dead_letters,
    enqueue_notify,
    lambda_context,
    load_function,
    make_finished_task,
    pump_notify,
    task_item,
)


@pytest.fixture
def owner(stack):
    return stack.create_key("owner")[1]


@pytest.fixture
def redeliver(stack, sample_event):
    """Call the route as API Gateway would, with the authorizer's key_id in the request context."""
    handler = load_function("submit").lambda_handler

    def call(task_id: str, key_id: str) -> tuple[int, dict]:
        event = sample_event("api_webhook_redeliver")
        path = f"/v1/tasks/{task_id}/webhook/redeliver"
        event["path"] = path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        event["requestContext"]["path"] = f"/prod{path}"
        event["requestContext"]["authorizer"].update({"key_id": key_id, "principalId": key_id})
        response = handler(event, lambda_context("SubmitFunction"))
        return response["statusCode"], json.loads(response["body"])

    return call


def test_owner_redelivers_with_the_same_webhook_id(stack, owner, receiver, redeliver):
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    status, body = redeliver(task.task_id, owner.key_id)
    assert status == 202
    assert body["success"] is True and body["event"] == "task.completed"
    assert task_item(stack, task.task_id)["webhook_status"] == "pending"
    pump_notify(stack)

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == body["webhook_id"]
    assert Webhook(owner.webhook_secret).verify(second.body, second.headers)["task_id"] == task.task_id
    item = task_item(stack, task.task_id)
    assert item["webhook_status"] == "delivered"
    assert [a["status_code"] for a in item["webhook_attempts"]] == [200, 200]


def test_redelivery_after_failure_runs_the_whole_schedule_again(stack, owner, receiver, redeliver):
    receiver.default = Reply(500)
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)
    assert task_item(stack, task.task_id)["webhook_status"] == "failed"
    assert len(dead_letters(stack)) == 1

    receiver.default = Reply(200)
    receiver.script = [Reply(500)]
    assert redeliver(task.task_id, owner.key_id)[0] == 202
    pump_notify(stack)
    item = task_item(stack, task.task_id)
    assert item["webhook_status"] == "delivered"
    assert [a["status_code"] for a in item["webhook_attempts"]] == [500, 500, 500, 500, 200]
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1


def test_redelivery_replaces_a_series_still_retrying(stack, owner, receiver, redeliver):
    receiver.script = [Reply(500)]
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    # One round only: attempt 1 fails and attempt 2 waits on the queue.
    handler = load_function("notify").lambda_handler
    event = stack.sqs_event(stack.notify_queue_url)
    handler(event, lambda_context())
    stack.sqs.delete_message(QueueUrl=stack.notify_queue_url, ReceiptHandle=event["Records"][0]["receiptHandle"])

    assert redeliver(task.task_id, owner.key_id)[0] == 202
    pump_notify(stack)
    # The old series' attempt 2 is dropped; the new series delivers once.
    assert len(receiver.requests) == 2
    assert [a["status_code"] for a in task_item(stack, task.task_id)["webhook_attempts"]] == [500, 200]


def test_other_keys_get_404(stack, owner, receiver, redeliver):
    other = stack.create_key("someone else")[1]
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url=receiver.url())
    status, body = redeliver(task.task_id, other.key_id)
    assert status == 404
    assert body == {"success": False, "error": body["error"], "code": "TASK_NOT_FOUND"}
    assert stack.sqs_event(stack.notify_queue_url)["Records"] == []
    assert redeliver("no-such-task", owner.key_id)[0] == 404


def test_task_without_webhook_url_is_409(stack, owner, redeliver):
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url="")
    status, body = redeliver(task.task_id, owner.key_id)
    assert (status, body["code"]) == (409, "WEBHOOK_NOT_CONFIGURED")
    assert "webhook_url" in body["error"]


def test_unfinished_task_is_409(stack, owner, receiver, redeliver):
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=owner.key_id, source=TaskSource(kind="s3", key="k"),
                    retention_days=1, webhook_url=receiver.url())
    TaskRepository(stack.tasks_table, client=stack.dynamodb).create(task)
    status, body = redeliver(task.task_id, owner.key_id)
    assert (status, body["code"]) == (409, "TASK_NOT_FINISHED")
    assert "IN_QUEUE" in body["error"]


def test_by_id_shows_the_delivery_log(stack, owner, receiver, sample_event):
    receiver.script = [Reply(503, b"busy")]
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url=receiver.url())
    enqueue_notify(stack, task)
    pump_notify(stack)

    event = sample_event("api_by_id")
    event["queryStringParameters"] = {"conversionType": "AUDIO_TO_MIDI", "task_id": task.task_id}
    event["multiValueQueryStringParameters"] = {"conversionType": ["AUDIO_TO_MIDI"], "task_id": [task.task_id]}
    event["requestContext"]["authorizer"].update({"key_id": owner.key_id, "principalId": owner.key_id})
    response = load_function("submit").lambda_handler(event, lambda_context("SubmitFunction"))
    conversion = json.loads(response["body"])["conversion"]
    assert conversion["webhook_status"] == "delivered"
    assert [(a["attempt"], a["status_code"]) for a in conversion["webhook_attempts"]] == [(1, 503), (2, 200)]
    assert all({"at", "error", "duration_ms"} <= set(a) for a in conversion["webhook_attempts"])


def test_no_key_in_the_request_context_is_401(stack, owner, receiver, redeliver):
    task = make_finished_task(stack, owner_id=owner.key_id, webhook_url=receiver.url())
    status, body = redeliver(task.task_id, "")
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
