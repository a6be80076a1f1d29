"""The local SQS event source mapping: Lambda's event shape, partial failures, retries and the DLQ."""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from moto import mock_aws

from midiscribe.local.pollers import SqsPoller, failed_message_ids, sqs_event_record

REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def make_queue(sqs, name, *, visibility=30, max_receive=None):
    attributes = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if max_receive:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


def count(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_event_record_has_lambdas_shape(sqs):
    url, arn, _ = make_queue(sqs, "shape")
    sqs.send_message(QueueUrl=url, MessageBody='{"task_id": "t1"}',
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "audio"},
                                        "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}})
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"],
                                    MessageSystemAttributeNames=["All"])["Messages"]
    record = sqs_event_record(message, arn, REGION)
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                           "eventSource", "eventSourceARN", "awsRegion"}
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {"stringValue": "audio", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AQI="
    assert json.loads(record["body"]) == {"task_id": "t1"}


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"wrong": "b"}]}, {"a", "b"}),
        ("not an object", {"a", "b"}),
    ],
)
def test_partial_batch_response_rules(response, failed):
    assert failed_message_ids(response, ["a", "b"], report_batch_item_failures=True) == failed


def test_without_report_batch_item_failures_a_return_value_means_success():
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, ["a"],
                              report_batch_item_failures=False) == set()


def test_poller_deletes_successes_and_retries_failures_until_the_dlq(sqs):
    url, arn, dlq_url = make_queue(sqs, "work", visibility=1, max_receive=2)
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def handler(event):
        failures = []
        for record in event["Records"]:
            body = json.loads(record["body"])
            with lock:
                seen[body["n"]] = seen.get(body["n"], 0) + 1
            if body["n"] == "bad":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    for n in ("one", "two", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    poller = SqsPoller(name="work", invoke=handler, sqs_client=sqs, queue_url=url, queue_arn=arn, region=REGION,
                       batch_size=10, report_batch_item_failures=True, workers=2)
    poller.start()
    try:
        # The failing message is received twice (maxReceiveCount 2); the third receive moves it to the DLQ.
        assert wait_until(lambda: count(sqs, dlq_url) == 1, timeout=20)
        assert count(sqs, url) == 0
    finally:
        poller.stop()
        assert poller.join(timeout=10)
    assert seen == {"one": 1, "two": 1, "bad": 2}
    [dead] = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert json.loads(dead["Body"]) == {"n": "bad"}


def test_a_raising_handler_leaves_the_whole_batch(sqs):
    url, arn, _ = make_queue(sqs, "raise", visibility=30)
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    calls = []

    def handler(event):
        calls.append(event)
        raise RuntimeError("crash mid-task")

    poller = SqsPoller(name="raise", invoke=handler, sqs_client=sqs, queue_url=url, queue_arn=arn, region=REGION,
                       workers=1)
    poller.start()
    try:
        assert wait_until(lambda: len(calls) == 1)
    finally:
        poller.stop()
        assert poller.join(timeout=10)
    assert count(sqs, url) == 1  # invisible until its visibility timeout, not deleted


def test_invalid_worker_count_is_refused(sqs):
    with pytest.raises(ValueError, match="workers"):
        SqsPoller(name="x", invoke=print, sqs_client=sqs, queue_url="u", queue_arn="a", region=REGION, workers=0)
