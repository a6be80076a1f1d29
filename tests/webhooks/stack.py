"""Helpers for driving the notify function and the redeliver route against the moto stack."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from midiscribe.aws.queues import MessageQueue
from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.tasks import Task, TaskKind, TaskSource
from midiscribe.local.functions import LambdaContext, import_module_file

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py, imported as the local stack imports it."""
    return import_module_file(REPOSITORY_ROOT / "functions" / name / "app.py")


def lambda_context(function_name: str = "NotifyFunction") -> LambdaContext:
    return LambdaContext(function_name, memory_mb=512, timeout_s=180)


def make_finished_task(
    stack: Any,
    *,
    owner_id: str,
    webhook_url: str,
    kind: TaskKind = TaskKind.AUDIO_TO_MIDI,
    failed: bool = False,
    outputs: dict[str, bytes] | None = None,
) -> Task:
    """A task that went IN_QUEUE → PROCESSING → COMPLETED (with its outputs in S3) or FAILED."""
    repository = TaskRepository(stack.tasks_table, client=stack.dynamodb)
    task = Task.new(
        kind=kind,
        owner_id=owner_id,
        source=TaskSource(kind="s3", key="uploads/x/song.wav", filename="song.wav"),
        retention_days=14,
        webhook_url=webhook_url,
    )
    repository.create(task)
    repository.claim(task.task_id)
    if failed:
        return repository.fail(
            task.task_id, error="The file is not audio: upload WAV, MP3, FLAC or OGG.", error_code="NOT_AUDIO",
            status_msg="Audio to Midi Failed",
        )
    files = outputs if outputs is not None else {
        "midi": b"MThd", "wav": b"RIFF", "csv": b"start_time_s\n", "json": b'{"instruments": []}',
        "quantized_midi": b"MThd", "musicxml": b"<?xml",
    }
    keys = {}
    for name, data in files.items():
        key = f"results/{task.task_id}/song.{name}"
        stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
        keys[name] = key
    return repository.complete(
        task.task_id, outputs=keys, status_msg="Audio to Midi Completed", audio_duration_s=12.5, note_count=42,
        model="general", model_name="basic-pitch-0.4.0-icassp2022",
    )


def enqueue_notify(stack: Any, task: Task) -> None:
    """What the worker sends when a task with a webhook_url finishes."""
    event = "task.completed" if task.status.value == "COMPLETED" else "task.failed"
    MessageQueue(stack.notify_queue_url, client=stack.sqs).send({"task_id": task.task_id, "event": event})


def pump_notify(stack: Any, *, rounds: int = 20) -> list[dict]:
    """Feed the notify queue to the notify function until it is empty, as Lambda's event source mapping would.

    Records the function reports as failed stay on the queue (invisible for the visibility timeout);
    the others are deleted. Returns each invocation's response.
    """
    handler = load_function("notify").lambda_handler
    responses = []
    for _ in range(rounds):
        event = stack.sqs_event(stack.notify_queue_url)
        if not event["Records"]:
            return responses
        response = handler(event, lambda_context())
        responses.append(response)
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                stack.sqs.delete_message(QueueUrl=stack.notify_queue_url, ReceiptHandle=record["receiptHandle"])
    raise AssertionError(f"the notify queue was still not empty after {rounds} rounds")


def dead_letters(stack: Any) -> list[dict]:
    return [json.loads(message["Body"]) for message in stack.receive(stack.notify_dlq_url)]


def task_item(stack: Any, task_id: str) -> dict:
    from midiscribe.aws.tasks import deserialize_item

    item = stack.dynamodb.get_item(TableName=stack.tasks_table, Key={"task_id": {"S": task_id}})["Item"]
    return deserialize_item(item)


def follow_file_link(url: str, public_api_url: str) -> dict:
    """What the API answers to a GET of ``url`` (a payload's file link): SubmitFunction called with the
    REST proxy event API Gateway makes for it on the public ``/v1/files/{task_id}/{name}`` route."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    link, base = urlsplit(url), urlsplit(public_api_url)
    assert (link.scheme, link.netloc) == (base.scheme, base.netloc), f"{url} is not a link on {public_api_url}"
    stage_path = base.path.rstrip("/")
    assert link.path.startswith(stage_path + "/v1/files/"), url
    path = link.path[len(stage_path):]
    _, _, _, task_id, name = path.split("/")
    query = dict(parse_qsl(link.query))
    event = {
        "resource": "/v1/files/{task_id}/{name}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"Host": link.netloc, "User-Agent": "receiver"},
        "multiValueHeaders": {"Host": [link.netloc], "User-Agent": ["receiver"]},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": {"task_id": unquote(task_id), "name": unquote(name)},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v1/files/{task_id}/{name}",
            "httpMethod": "GET",
            "path": link.path,
            "stage": stage_path.lstrip("/") or "prod",
            "requestId": "11111111-1111-4111-8111-111111111111",
            "accountId": "123456789012",
            "apiId": base.netloc.split(".", 1)[0],
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "receiver"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    return load_function("submit").lambda_handler(event, lambda_context("SubmitFunction"))
