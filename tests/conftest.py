"""Shared fixtures: fake AWS credentials for every test, and ``aws_stack`` (the template's resources in moto).

No test may reach real AWS. The credentials below are set before any test module is imported
(so even clients created at import time get them) and again around every test; shared config and
credential files are pointed at nothing, so no profile on the machine can be picked up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from midiscribe.aws import forget_clients

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Variables that would send boto3 somewhere else or to another identity.
AWS_VARIABLES_TO_CLEAR = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN",
                          "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI")

os.environ.update(FAKE_AWS_ENVIRONMENT)
for _name in AWS_VARIABLES_TO_CLEAR:
    os.environ.pop(_name, None)

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPOSITORY_ROOT / "events"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with fake credentials, whatever an earlier test did to the environment."""
    for name, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    # boto3 clients are shared per process; each test's moto mock must start with clients of its own.
    forget_clients()


def load_event(name: str) -> dict:
    """A sample event from ``events/`` (``name`` with or without ``.json``), as a fresh dict."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def sample_event() -> Any:
    """``sample_event("sqs_transcribe")`` loads ``events/sqs_transcribe.json`` (a fresh copy each call)."""
    return load_event


@dataclass
class AwsStack:
    """The template's bucket, tables and queues inside ``mock_aws``, with the functions' environment set."""

    resources: Any  # midiscribe.local.resources.StackResources
    s3: Any
    sqs: Any
    dynamodb: Any

    @property
    def region(self) -> str:
        return self.resources.region

    @property
    def bucket(self) -> str:
        return self.resources.bucket

    @property
    def tasks_table(self) -> str:
        return self.resources.tasks_table

    @property
    def keys_table(self) -> str:
        return self.resources.keys_table

    @property
    def transcribe_queue_url(self) -> str:
        return self.resources.transcribe_queue_url

    @property
    def notify_queue_url(self) -> str:
        return self.resources.notify_queue_url

    @property
    def transcribe_dlq_url(self) -> str:
        return self.resources.transcribe_dlq_url

    @property
    def notify_dlq_url(self) -> str:
        return self.resources.notify_dlq_url

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.resources.environment)

    def create_key(self, name: str = "test key", *, raw_key: str | None = None,
                   webhook_secret: str | None = None):
        """A new API key in the keys table: ``(raw_key, ApiKeyRecord)``."""
        from midiscribe.aws.keys import ApiKeyRepository

        repository = ApiKeyRepository(self.keys_table, client=self.dynamodb)
        if raw_key is None and webhook_secret is None:
            return repository.create(name)
        raw_key = raw_key or f"msk_test_{os.urandom(12).hex()}"
        return raw_key, repository.create_with(raw_key, name, webhook_secret)

    def receive(self, queue_url: str, *, max_messages: int = 10, delete: bool = True) -> list[dict]:
        """Messages waiting on a queue, as received (``Body`` still a string); deleted unless asked not to."""
        messages = self.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
            MessageAttributeNames=["All"], WaitTimeSeconds=0,
        ).get("Messages", [])
        if delete:
            for message in messages:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def sqs_event(self, queue_url: str, *, max_messages: int = 10) -> dict:
        """The messages waiting on a queue, received and wrapped as Lambda's SQS event (not deleted)."""
        arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        records = []
        for message in self.receive(queue_url, max_messages=max_messages, delete=False):
            records.append({
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    key: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for key, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": self.region,
            })
        return {"Records": records}


def _drop_s3_test_events(sqs: Any, queue_url: str) -> None:
    """S3 greets a newly configured queue with s3:TestEvent; tests start from empty queues."""
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        for message in messages:
            if '"s3:TestEvent"' not in message["Body"]:
                raise AssertionError(f"unexpected message on a new queue: {message['Body'][:200]}")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStack]:
    """Everything template.yaml creates in S3, SQS and DynamoDB, in moto, with MIDISCRIBE_* set.

    Queues start empty (the bucket's s3:TestEvent is removed; ``events/sqs_s3_test_event.json``
    holds one for tests of the worker's skipping it).
    """
    import boto3
    from moto import mock_aws

    from midiscribe.local.resources import create_stack_resources

    region = FAKE_AWS_ENVIRONMENT["AWS_DEFAULT_REGION"]
    with mock_aws():
        clients = {service: boto3.client(service, region_name=region) for service in ("s3", "sqs", "dynamodb")}
        # Inside mock_aws nothing can reach AWS, so the builder's real-account check (an STS call) is skipped.
        resources = create_stack_resources(region=region, clients=clients)
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        stack = AwsStack(resources=resources, **clients)
        _drop_s3_test_events(stack.sqs, resources.transcribe_queue_url)
        yield stack
