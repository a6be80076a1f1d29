"""midiscribe.local.resources (and its template evaluator): the template's own bucket, queues and tables, in moto."""

from __future__ import annotations

import json
import re
import socket
import urllib.parse

import boto3
import pytest

from midiscribe.local.intrinsics import TemplateEvaluator
from midiscribe.local.resources import create_stack_resources, creation_order
from midiscribe.local.template import TemplateError, load_template
from midiscribe.service.config import Settings


def test_tables_have_the_template_keys_indexes_ttl_and_recovery(aws_stack):
    dynamodb = aws_stack.dynamodb
    tasks = dynamodb.describe_table(TableName=aws_stack.tasks_table)["Table"]
    assert tasks["KeySchema"] == [{"AttributeName": "task_id", "KeyType": "HASH"}]
    assert tasks["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index for index in tasks["GlobalSecondaryIndexes"]}
    assert indexes["by_owner"]["KeySchema"] == [
        {"AttributeName": "owner_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    ttl = dynamodb.describe_time_to_live(TableName=aws_stack.tasks_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName=aws_stack.tasks_table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"

    keys = dynamodb.describe_table(TableName=aws_stack.keys_table)["Table"]
    assert keys["KeySchema"] == [{"AttributeName": "key_hash", "KeyType": "HASH"}]
    assert [index["IndexName"] for index in keys["GlobalSecondaryIndexes"]] == ["by_key_id"]


def test_owner_index_lists_a_keys_tasks_newest_first(aws_stack):
    for n, created_at in enumerate(["2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z"]):
        aws_stack.dynamodb.put_item(TableName=aws_stack.tasks_table, Item={
            "task_id": {"S": f"t{n}"}, "owner_id": {"S": "key_a"}, "created_at": {"S": created_at}})
    items = aws_stack.dynamodb.query(
        TableName=aws_stack.tasks_table, IndexName="by_owner", KeyConditionExpression="owner_id = :o",
        ExpressionAttributeValues={":o": {"S": "key_a"}}, ScanIndexForward=False)["Items"]
    assert [item["task_id"]["S"] for item in items] == ["t1", "t2", "t0"]


@pytest.mark.parametrize(
    ("queue", "dlq", "visibility", "max_receives"),
    [("transcribe_queue_url", "transcribe_dlq_url", "5400", 3), ("notify_queue_url", "notify_dlq_url", "1080", 5)],
)
def test_queues_redrive_to_their_dead_letter_queues(aws_stack, queue, dlq, visibility, max_receives):
    sqs = aws_stack.sqs
    attributes = sqs.get_queue_attributes(QueueUrl=getattr(aws_stack, queue), AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=getattr(aws_stack, dlq), AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    assert attributes["VisibilityTimeout"] == visibility
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == max_receives


def test_a_message_received_too_often_lands_in_the_dead_letter_queue(aws_stack):
    sqs = aws_stack.sqs
    sqs.set_queue_attributes(QueueUrl=aws_stack.notify_queue_url, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=aws_stack.notify_queue_url, MessageBody='{"task_id": "t1", "event": "task.failed"}')
    for _ in range(5):
        assert len(aws_stack.receive(aws_stack.notify_queue_url, delete=False)) == 1
    assert aws_stack.receive(aws_stack.notify_queue_url, delete=False) == []
    parked = aws_stack.receive(aws_stack.notify_dlq_url)
    assert [json.loads(m["Body"])["task_id"] for m in parked] == ["t1"]


def test_bucket_is_encrypted_private_and_expires_uploads_and_results(aws_stack):
    s3 = aws_stack.s3
    rules = s3.get_bucket_encryption(Bucket=aws_stack.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=aws_stack.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=aws_stack.bucket)["Rules"]
    expiring = {rule["Filter"]["Prefix"]: rule["Expiration"]["Days"] for rule in lifecycle if "Expiration" in rule}
    assert expiring == {"uploads/": 14, "results/": 14}


def test_inbox_objects_notify_the_transcribe_queue_with_url_encoded_keys(aws_stack):
    aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key="uploads/t1/not-inbox.wav", Body=b"RIFF")
    aws_stack.s3.put_object(Bucket=aws_stack.bucket, Key="inbox/my song (take 2).wav", Body=b"RIFF")

    messages = aws_stack.receive(aws_stack.transcribe_queue_url)
    assert len(messages) == 1, "only inbox/ notifies the queue"
    record = json.loads(messages[0]["Body"])["Records"][0]
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == aws_stack.bucket
    assert urllib.parse.unquote_plus(record["s3"]["object"]["key"]) == "inbox/my song (take 2).wav"


def test_queue_policy_names_the_bucket_by_its_fixed_name(aws_stack):
    policy = json.loads(aws_stack.sqs.get_queue_attributes(
        QueueUrl=aws_stack.transcribe_queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{aws_stack.bucket}"


def test_functions_are_given_the_created_names(aws_stack):
    settings = Settings.from_env()
    assert settings.bucket == aws_stack.bucket
    assert settings.tasks_table == aws_stack.tasks_table
    assert settings.keys_table == aws_stack.keys_table
    assert settings.transcribe_queue_url == aws_stack.transcribe_queue_url
    assert settings.notify_queue_url == aws_stack.notify_queue_url
    assert settings.retention_days == 14
    assert settings.allow_private_urls is False and settings.allow_http_urls is False
    assert settings.transcribe_max_receive == 3
    environments = aws_stack.resources.function_environments
    assert set(environments) == {"SubmitFunction", "AuthorizerFunction", "TranscribeFunction", "NotifyFunction"}


def test_sqs_event_sources_describe_the_consumers(aws_stack):
    sources = {source.queue_url: source for source in aws_stack.resources.sqs_event_sources}
    assert set(sources) == {aws_stack.transcribe_queue_url, aws_stack.transcribe_dlq_url, aws_stack.notify_queue_url}
    transcribe = sources[aws_stack.transcribe_queue_url]
    assert transcribe.function_id == "TranscribeFunction"
    assert transcribe.batch_size == 1 and transcribe.report_batch_item_failures
    assert transcribe.max_receive_count == 3 and transcribe.dead_letter_queue_url == aws_stack.transcribe_dlq_url
    # The worker drains its own dead letters, so a task whose attempts all crashed still ends FAILED.
    dead_letters = sources[aws_stack.transcribe_dlq_url]
    assert dead_letters.function_id == "TranscribeFunction" and dead_letters.report_batch_item_failures
    assert sources[aws_stack.notify_queue_url].function_id == "NotifyFunction"


def test_sample_events_name_the_fixture_bucket(aws_stack, sample_event):
    body = json.loads(sample_event("sqs_s3_inbox")["Records"][0]["body"])
    assert body["Records"][0]["s3"]["bucket"]["name"] == aws_stack.bucket
    assert aws_stack.bucket in json.loads(sample_event("api_audio_to_midi_path_json")["body"])["audio_path"]


def test_parameters_override_defaults_and_creating_again_reuses_everything():
    from moto import mock_aws

    with mock_aws():
        first = create_stack_resources(parameters={"AllowPrivateUrls": "true", "RetentionDays": 3})
        assert first.environment["MIDISCRIBE_ALLOW_PRIVATE_URLS"] == "true"
        assert first.environment["MIDISCRIBE_RETENTION_DAYS"] == "3"
        again = create_stack_resources(parameters={"AllowPrivateUrls": "true", "RetentionDays": 3})
        assert again == first
        other = create_stack_resources(stack_name="second-stack")
        assert other.bucket != first.bucket and other.tasks_table != first.tasks_table


@pytest.mark.parametrize(
    ("parameters", "message"),
    [({"NoSuchParameter": "1"}, "unknown template parameter"), ({"AllowHttpUrls": "maybe"}, "is not one of")],
)
def test_bad_parameters_are_refused_with_the_reason(parameters, message):
    from moto import mock_aws

    with mock_aws(), pytest.raises(TemplateError, match=message):
        create_stack_resources(parameters=parameters)


def test_refuses_to_create_resources_in_a_real_account():
    class RealAccountSts:
        def get_caller_identity(self):
            return {"Account": "999988887777"}

    with pytest.raises(TemplateError, match="real account"):
        create_stack_resources(clients={"sts": RealAccountSts(), "s3": None, "sqs": None, "dynamodb": None})


def test_evaluator_resolves_the_intrinsics_the_template_uses():
    template = {
        "Parameters": {"Flag": {"Type": "String", "Default": "yes"}},
        "Conditions": {"IsYes": {"Fn::Equals": [{"Ref": "Flag"}, "yes"]}},
        "Resources": {},
    }
    evaluator = TemplateEvaluator(template, stack_name="s", region="eu-west-1")
    assert evaluator.resolve({"Fn::Sub": "${AWS::StackName}-${AWS::Region}-${!Literal}"}) == "s-eu-west-1-${Literal}"
    assert evaluator.resolve({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    assert evaluator.resolve({"Fn::If": ["IsYes", "on", "off"]}) == "on"
    assert evaluator.resolve({"Fn::Join": ["-", ["a", {"Ref": "Flag"}]]}) == "a-yes"
    assert evaluator.resolve({"A": {"Ref": "AWS::NoValue"}, "B": 1}) == {"B": 1}
    with pytest.raises(TemplateError, match="no parameter"):
        evaluator.resolve({"Ref": "Missing"})


def test_the_api_is_not_created_but_its_url_resolves_with_a_stable_stand_in_id():
    template = load_template()
    evaluator = TemplateEvaluator(template, stack_name="s", region="eu-west-1")
    url = evaluator.resolve(template["Outputs"]["ApiUrl"]["Value"])
    assert re.fullmatch(r"https://[0-9a-f]{10}\.execute-api\.eu-west-1\.amazonaws\.com/prod", url), url
    assert TemplateEvaluator(template, stack_name="s", region="eu-west-1").resolve(
        template["Outputs"]["ApiUrl"]["Value"]) == url
    assert TemplateEvaluator(template, stack_name="other", region="eu-west-1").resolve(
        template["Outputs"]["ApiUrl"]["Value"]) != url


def test_creation_order_puts_dependencies_first():
    order = creation_order(load_template())
    assert order.index("TranscribeDLQ") < order.index("TranscribeQueue") < order.index("TranscribeQueuePolicy")
    assert order.index("TranscribeQueuePolicy") < order.index("DataBucket")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_works_against_a_moto_server_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        resources = create_stack_resources(endpoint_url=endpoint)
        assert resources.transcribe_queue_url.startswith(endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        s3.put_object(Bucket=resources.bucket, Key="inbox/a b.wav", Body=b"RIFF")
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(
            QueueUrl=resources.transcribe_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
        keys = [urllib.parse.unquote_plus(record["s3"]["object"]["key"])
                for body in bodies for record in body.get("Records", [])]
        assert keys == ["inbox/a b.wav"]
        assert [body["Event"] for body in bodies if "Event" in body] == ["s3:TestEvent"]
    finally:
        server.stop()
