"""Failures injected at the AWS adapters while a task goes from submission to its webhook.

Each test submits a real transcription (moto, the real engine on a short tone), breaks one thing at
the boundary between our adapters and AWS (or the receiver), runs the worker and the notifier as
Lambda's event source mappings would, retries and all, and then checks the same outcome: the task
is COMPLETED (or FAILED with a reason) exactly once, its outputs are all there and readable, and the
receiver got one webhook event (one ``webhook-id``) acknowledged once.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

import mido
import pytest
import soundfile
from botocore.exceptions import ClientError
from webhooks.receiver import Reply
from webhooks.stack import pump_notify, task_item
from worker.worker_support import REPOSITORY_ROOT, LambdaContext, load_function, tiny_wav

from midiscribe.aws import client as shared_client
from midiscribe.aws.storage import Storage
from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.requests import AudioInput, AudioToMidiRequest, UploadedFile
from midiscribe.domain.tasks import Task, TaskStatus
from midiscribe.local.functions import import_module_file
from midiscribe.service.config import Settings

OUTPUT_FILES = {"midi", "wav", "csv", "json"}


class WorkerKilled(BaseException):
    """What Lambda does to a worker at its timeout or out of memory: nothing of ours can catch it."""


@pytest.fixture
def submitted(stack, receiver) -> Task:
    """A transcription with a webhook, submitted as the API does, by a key of the stack's."""
    _raw, key = stack.create_key("fault injection")
    use_cases = load_function("submit").use_cases(Settings.from_env())
    request = AudioToMidiRequest(audio=AudioInput(file=UploadedFile("tone.wav", "audio/wav", tiny_wav(1.0))),
                                 options={}, webhook_url=receiver.url())
    return use_cases.submissions.submit_audio_to_midi(key.key_id, request).task


def failing(call: Callable[..., Any], error: BaseException, *, times: int = 1,
            when: Callable[[dict], bool] = lambda _: True) -> Callable[..., Any]:
    """``call``, raising ``error`` the first ``times`` calls whose keyword arguments match ``when``."""
    left = [times]

    def injected(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0 and when(kwargs):
            left[0] -= 1
            raise error
        return call(*args, **kwargs)

    return injected


def aws_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


def transition_to(status: str) -> Callable[[dict], bool]:
    return lambda kwargs: kwargs.get("ExpressionAttributeValues", {}).get(":target") == {"S": status}


def run_worker(stack, *, rounds: int = 6, environment: int = 1) -> list[dict]:
    """Feed the transcribe queue to the handler until it is empty, as the event source mapping does: a
    record reported failed, or a whole invocation that died, is received again (visibility 0 here)."""
    handler = import_module_file(REPOSITORY_ROOT / "functions" / "transcribe" / "app.py", environment).lambda_handler
    responses = []
    for _ in range(rounds):
        event = stack.sqs_event(stack.transcribe_queue_url)
        if not event["Records"]:
            return responses
        try:
            response = handler(event, LambdaContext())
        except WorkerKilled:
            response = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
        responses.append(response)
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] in failed:
                stack.sqs.change_message_visibility(QueueUrl=stack.transcribe_queue_url,
                                                    ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
            else:
                stack.sqs.delete_message(QueueUrl=stack.transcribe_queue_url, ReceiptHandle=record["receiptHandle"])
    raise AssertionError(f"the transcribe queue was still not empty after {rounds} rounds")


def assert_finished_once(stack, receiver, task_id: str) -> Task:
    """COMPLETED once, every output readable, one webhook event acknowledged once, nothing left queued."""
    task = TaskRepository(stack.tasks_table, client=stack.dynamodb).get(task_id)
    assert task.status is TaskStatus.COMPLETED, (task.status, task.error)
    assert set(task.outputs) == OUTPUT_FILES
    files = {name: stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
             for name, key in task.outputs.items()}
    assert any(m.type == "note_on" for m in mido.MidiFile(file=io.BytesIO(files["midi"])))
    assert soundfile.info(io.BytesIO(files["wav"])).frames > 0
    notes = json.loads(files["json"])["instruments"][0]["notes"]
    assert len(files["csv"].decode().strip().splitlines()) - 1 == len(notes) == task.note_count
    events = [request for request in receiver.requests if request.method == "POST"]
    assert {request.headers["webhook-id"] for request in events} == {task_item(stack, task_id)["webhook_event_id"]}
    bodies = {json.loads(request.body)["status"] for request in events}
    assert bodies == {"COMPLETED"}
    assert task.webhook_status == "delivered"
    acknowledged = [a for a in task.webhook_attempts if a.get("status_code") == 200]
    assert len(acknowledged) == 1
    for queue in (stack.transcribe_queue_url, stack.transcribe_dlq_url, stack.notify_queue_url, stack.notify_dlq_url):
        assert stack.receive(queue, delete=False) == [], queue
    return task


def test_an_output_upload_that_fails_once_is_retried(stack, receiver, submitted, monkeypatch):
    monkeypatch.setattr(Storage, "upload_file", failing(Storage.upload_file, aws_error("InternalError", "PutObject", 500)))
    responses = run_worker(stack)
    assert len(responses) == 2 and responses[0]["batchItemFailures"]
    pump_notify(stack)
    task = assert_finished_once(stack, receiver, submitted.task_id)
    assert task.attempts == 2


@pytest.mark.parametrize("status", ["PROCESSING", "COMPLETED"])
def test_a_throttled_status_write_is_retried(stack, receiver, submitted, status):
    dynamodb = shared_client("dynamodb").wrapped
    dynamodb.update_item = failing(dynamodb.update_item, aws_error("ProvisionedThroughputExceededException",
                                                                   "UpdateItem"), when=transition_to(status))
    responses = run_worker(stack)
    assert len(responses) == 2 and responses[0]["batchItemFailures"]
    pump_notify(stack)
    assert_finished_once(stack, receiver, submitted.task_id)


def test_a_worker_killed_after_writing_its_outputs_completes_on_the_next_delivery(stack, receiver, submitted,
                                                                                   monkeypatch):
    monkeypatch.setattr(TaskRepository, "complete", failing(TaskRepository.complete, WorkerKilled()))
    responses = run_worker(stack)
    assert len(responses) == 2
    pump_notify(stack)
    task = assert_finished_once(stack, receiver, submitted.task_id)
    assert task.attempts == 2  # the outputs of the first attempt were written again, whole


def test_the_same_message_delivered_twice_at_once_completes_once(stack, receiver, submitted):
    event = stack.sqs_event(stack.transcribe_queue_url)
    assert len(event["Records"]) == 1
    start = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def invoke(slot: int) -> None:
        # Two execution environments of the function, as two concurrent Lambda invocations have.
        handler = import_module_file(REPOSITORY_ROOT / "functions" / "transcribe" / "app.py", slot + 1).lambda_handler
        start.wait()
        answers[slot] = handler(json.loads(json.dumps(event)), LambdaContext())

    threads = [threading.Thread(target=invoke, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert answers[0] is not None and answers[1] is not None
    stack.sqs.delete_message(QueueUrl=stack.transcribe_queue_url, ReceiptHandle=event["Records"][0]["receiptHandle"])
    pump_notify(stack)
    assert_finished_once(stack, receiver, submitted.task_id)


def test_two_environments_of_the_transcribe_function_keep_their_metrics_apart():
    # The test above runs two environments in one process, as the local stack's pollers do. With
    # Powertools' Metrics (one metric set shared by every instance) one environment's flush emptied the
    # set while the other was reading it, and that invocation failed.
    from aws_lambda_powertools.metrics import MetricUnit

    app = REPOSITORY_ROOT / "functions" / "transcribe" / "app.py"
    first, second = import_module_file(app, 1).metrics, import_module_file(app, 2).metrics
    first.add_metric(name="ProbeOfThisTest", unit=MetricUnit.Count, value=1)
    try:
        assert "ProbeOfThisTest" in first.metric_set
        assert "ProbeOfThisTest" not in second.metric_set
    finally:
        first.clear_metrics()


def test_a_receiver_down_for_the_first_attempts_gets_the_event_once(stack, receiver, submitted):
    receiver.script = [Reply(503, b"down"), Reply(502, b"still down")]
    run_worker(stack)
    pump_notify(stack)
    task = assert_finished_once(stack, receiver, submitted.task_id)
    assert [a["status_code"] for a in task.webhook_attempts] == [503, 502, 200]


def test_a_receiver_that_never_comes_back_ends_failed_with_a_reason_and_the_task_stays_completed(stack, receiver,
                                                                                                   submitted):
    receiver.default = Reply(503, b"down for good")
    run_worker(stack)
    pump_notify(stack)
    task = TaskRepository(stack.tasks_table, client=stack.dynamodb).get(submitted.task_id)
    assert task.status is TaskStatus.COMPLETED and set(task.outputs) == OUTPUT_FILES
    assert task.webhook_status == "failed" and len(task.webhook_attempts) == 3
    assert {request.headers["webhook-id"] for request in receiver.requests} == {
        task_item(stack, submitted.task_id)["webhook_event_id"]}
    [parked] = [json.loads(m["Body"]) for m in stack.receive(stack.notify_dlq_url)]
    assert parked["task_id"] == submitted.task_id and parked.get("reason")
