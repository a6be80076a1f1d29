"""One boto3 client per service and endpoint for the whole process, so warm functions reuse them."""

from __future__ import annotations

from midiscribe.aws import client, forget_clients
from midiscribe.aws.queues import MessageQueue
from midiscribe.aws.tasks import TaskRepository


def test_repositories_share_the_process_client():
    first = TaskRepository("tasks").client
    assert TaskRepository("other-table").client is first
    assert client("dynamodb") is first
    assert MessageQueue("http://queue").client is client("sqs")


def test_another_endpoint_or_signature_gets_another_client(monkeypatch):
    default = client("s3")
    assert client("s3", signature_version="s3v4") is not default
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    pointed = client("s3")
    assert pointed is not default
    assert pointed.meta.endpoint_url == "http://127.0.0.1:4566"


def test_forgetting_starts_over():
    before = client("sqs")
    forget_clients()
    assert client("sqs") is not before
