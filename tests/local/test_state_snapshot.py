"""--data-dir: what the local stack saves on stop comes back, in fresh resources, on the next start."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from midiscribe.local.resources import create_stack_resources
from midiscribe.local.state import StateStore
from midiscribe.local.template import load_template

REGION = "us-east-1"


def clients():
    return {
        "s3": boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4")),
        "sqs": boto3.client("sqs", region_name=REGION),
        "dynamodb": boto3.client("dynamodb", region_name=REGION),
    }


def store_for(directory, created):
    return StateStore(directory, template=load_template(), physical_ids=created.physical_ids,
                      account_id=created.account_id, region=REGION, clients=clients())


def all_messages(sqs, queue_url):
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    VisibilityTimeout=60).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def test_items_objects_and_messages_survive_a_restart(tmp_path):
    with mock_aws():
        created = create_stack_resources(region=REGION)
        c = clients()
        c["dynamodb"].put_item(TableName=created.tasks_table, Item={
            "task_id": {"S": "t1"}, "status": {"S": "PROCESSING"}, "blob": {"B": b"\x00\x01"},
            "tags": {"SS": ["a", "b"]}, "n": {"N": "3"}})
        c["s3"].put_object(Bucket=created.bucket, Key="results/t1/song.mid", Body=b"MThd", ContentType="audio/midi")
        c["s3"].put_object(Bucket=created.bucket, Key="inbox/dropped.wav", Body=b"RIFF")
        sqs = c["sqs"]
        for message in all_messages(sqs, created.transcribe_queue_url):  # s3:TestEvent and the inbox file's event
            sqs.delete_message(QueueUrl=created.transcribe_queue_url, ReceiptHandle=message["ReceiptHandle"])
        sqs.send_message(QueueUrl=created.transcribe_queue_url, MessageBody='{"task_id": "t1"}')
        # In flight at shutdown: invisible now, but must come back.
        sqs.receive_message(QueueUrl=created.transcribe_queue_url, VisibilityTimeout=600)
        sqs.send_message(QueueUrl=created.notify_queue_url, MessageBody='{"task_id": "t1", "attempt": 2}',
                         DelaySeconds=600, MessageAttributes={"kind": {"DataType": "String", "StringValue": "retry"}})
        counts = store_for(tmp_path, created).save()
    assert counts == {"items": 1, "objects": 2, "messages": 2}

    with mock_aws():  # a fresh moto: nothing left from before
        created = create_stack_resources(region=REGION)
        c = clients()
        assert store_for(tmp_path, created).load() == {"items": 1, "objects": 2, "messages": 2}
        item = c["dynamodb"].get_item(TableName=created.tasks_table, Key={"task_id": {"S": "t1"}})["Item"]
        assert item["blob"]["B"] == b"\x00\x01" and set(item["tags"]["SS"]) == {"a", "b"}
        midi = c["s3"].get_object(Bucket=created.bucket, Key="results/t1/song.mid")
        assert midi["Body"].read() == b"MThd" and midi["ContentType"] == "audio/midi"
        bodies = [m["Body"] for m in all_messages(c["sqs"], created.transcribe_queue_url)]
        # The in-flight task message is back; the restored inbox file was not queued again.
        assert [b for b in bodies if "TestEvent" not in b] == ['{"task_id": "t1"}']
        notify = c["sqs"].get_queue_attributes(QueueUrl=created.notify_queue_url,
                                               AttributeNames=["ApproximateNumberOfMessagesDelayed"])
        assert notify["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
        # The inbox trigger is back in place after the restore.
        [trigger] = c["s3"].get_bucket_notification_configuration(Bucket=created.bucket)["QueueConfigurations"]
        assert trigger["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "inbox/"}]


def test_nothing_saved_loads_nothing_and_a_foreign_format_is_refused(tmp_path):
    with mock_aws():
        created = create_stack_resources(region=REGION)
        store = store_for(tmp_path, created)
        assert store.load() is None
        (tmp_path / "state").mkdir()
        (tmp_path / "state" / "manifest.json").write_text('{"format_version": 99}')
        with pytest.raises(ValueError, match="move the directory away"):
            store.load()
