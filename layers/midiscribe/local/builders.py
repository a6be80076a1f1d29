"""Creating the template's bucket, queues and tables in moto, property by property.

Only what moto can hold is created: S3, SQS and DynamoDB. Properties the builder does not know are
refused, so a template change cannot quietly make the local stack differ from the deployed one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .intrinsics import Created, TemplateEvaluator
from .template import DEFAULT_STACK_NAME, PARTITION, URL_SUFFIX, TemplateError


def local_physical_name(logical_id: str, stack_name: str = DEFAULT_STACK_NAME) -> str:
    """The name a queue or table without an explicit name gets locally.

    CloudFormation adds a random suffix; a fixed name lets a restarted local stack, and
    ``midiscribe keys --endpoint-url``, find the same table again.
    """
    return f"{stack_name}-{logical_id}"


def _as_int(value: Any, what: str) -> int:
    try:
        return int(float(str(value)))
    except ValueError:
        raise TemplateError(f"{what} must be a number, got {value!r}") from None


def _reject_unknown(logical_id: str, properties: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(properties) - known)
    if unknown:
        raise TemplateError(
            f"{logical_id}: the local resource builder does not know how to create "
            f"{', '.join(unknown)}; teach midiscribe/local/builders.py, so local and deployed stacks stay alike"
        )


class ResourceBuilder:
    def __init__(self, evaluator: TemplateEvaluator, clients: Mapping[str, Any]):
        self.evaluator = evaluator
        self.s3 = clients["s3"]
        self.sqs = clients["sqs"]
        self.dynamodb = clients["dynamodb"]

    def physical_name(self, logical_id: str) -> str:
        return local_physical_name(logical_id, self.evaluator.stack_name)

    def create(self, logical_id: str) -> None:
        resource = self.evaluator.template["Resources"][logical_id]
        properties = self.evaluator.resolve(resource.get("Properties") or {})
        creator = {
            "AWS::SQS::Queue": self.queue,
            "AWS::SQS::QueuePolicy": self.queue_policy,
            "AWS::DynamoDB::Table": self.table,
            "AWS::S3::Bucket": self.bucket,
        }[resource["Type"]]
        creator(logical_id, properties)

    # -- SQS
    QUEUE_ATTRIBUTES = {
        "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "RedriveAllowPolicy", "SqsManagedSseEnabled",
        "FifoQueue", "ContentBasedDeduplication", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
    }

    def queue(self, logical_id: str, properties: dict) -> None:
        _reject_unknown(logical_id, properties, self.QUEUE_ATTRIBUTES | {"QueueName", "Tags"})
        name = properties.get("QueueName") or self.physical_name(logical_id)
        if str(properties.get("FifoQueue", "")).lower() == "true" and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {}
        for key, value in properties.items():
            if key not in self.QUEUE_ATTRIBUTES:
                continue
            if isinstance(value, dict):
                value = json.dumps(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            attributes[key] = str(value)
        try:
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except self.sqs.exceptions.QueueNameExists:
            # Persisted local state from an older template: bring it up to date.
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.evaluator.created[logical_id] = Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def queue_policy(self, logical_id: str, properties: dict) -> None:
        _reject_unknown(logical_id, properties, {"Queues", "PolicyDocument"})
        for url in properties["Queues"]:
            self.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
            )
        self.evaluator.created[logical_id] = Created(logical_id)

    # -- DynamoDB
    def table(self, logical_id: str, properties: dict) -> None:
        _reject_unknown(logical_id, properties, {
            "TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes", "ProvisionedThroughput", "StreamSpecification", "SSESpecification",
            "TimeToLiveSpecification", "PointInTimeRecoverySpecification", "Tags", "DeletionProtectionEnabled",
        })
        name = properties.get("TableName") or self.physical_name(logical_id)
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "StreamSpecification"):
            if key in properties:
                arguments[key] = properties[key]
        if "SSESpecification" in properties:
            arguments["SSESpecification"] = {"Enabled": bool(properties["SSESpecification"].get("SSEEnabled"))}
        try:
            description = self.dynamodb.create_table(**arguments)["TableDescription"]
        except self.dynamodb.exceptions.ResourceInUseException:
            description = self.dynamodb.describe_table(TableName=name)["Table"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            current = self.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                self.dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )
        recovery = properties.get("PointInTimeRecoverySpecification")
        if recovery and str(recovery.get("PointInTimeRecoveryEnabled")).lower() == "true":
            self.dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        attributes = {"Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        self.evaluator.created[logical_id] = Created(name, attributes)

    # -- S3
    def bucket(self, logical_id: str, properties: dict) -> None:
        _reject_unknown(logical_id, properties, {
            "BucketName", "BucketEncryption", "PublicAccessBlockConfiguration", "OwnershipControls",
            "LifecycleConfiguration", "NotificationConfiguration", "VersioningConfiguration",
            "CorsConfiguration", "Tags",
        })
        name = properties.get("BucketName") or self.physical_name(logical_id).lower()
        arguments: dict[str, Any] = {"Bucket": name}
        if self.evaluator.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.evaluator.region}
        try:
            self.s3.create_bucket(**arguments)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        if "BucketEncryption" in properties:
            self.s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration=_encryption_rules(properties["BucketEncryption"]),
            )
        if "PublicAccessBlockConfiguration" in properties:
            self.s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in properties:
            self.s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])
        if "VersioningConfiguration" in properties:
            self.s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]}
            )
        if "CorsConfiguration" in properties:
            self.s3.put_bucket_cors(Bucket=name, CORSConfiguration=_cors_rules(properties["CorsConfiguration"]))
        if "LifecycleConfiguration" in properties:
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration=_lifecycle_rules(logical_id, properties["LifecycleConfiguration"])
            )
        self.evaluator.created[logical_id] = Created(
            name,
            {
                "Arn": f"arn:{PARTITION}:s3:::{name}",
                "DomainName": f"{name}.s3.{URL_SUFFIX}",
                "RegionalDomainName": f"{name}.s3.{self.evaluator.region}.{URL_SUFFIX}",
            },
        )
        if "NotificationConfiguration" in properties:
            # moto then sends s3:TestEvent to each queue, as S3 does.
            self.s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration=_notification(logical_id, properties["NotificationConfiguration"]),
            )


def _encryption_rules(configuration: dict) -> dict:
    # CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
    rules = []
    for rule in configuration["ServerSideEncryptionConfiguration"]:
        converted = {key: value for key, value in rule.items() if key != "ServerSideEncryptionByDefault"}
        if "ServerSideEncryptionByDefault" in rule:
            converted["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
        if "BucketKeyEnabled" in converted:
            converted["BucketKeyEnabled"] = str(converted["BucketKeyEnabled"]).lower() == "true"
        rules.append(converted)
    return {"Rules": rules}


def _lifecycle_rules(logical_id: str, configuration: dict) -> dict:
    rules = []
    for rule in configuration.get("Rules", []):
        _reject_unknown(f"{logical_id} lifecycle rule", rule, {
            "Id", "Status", "Prefix", "ExpirationInDays", "AbortIncompleteMultipartUpload",
            "NoncurrentVersionExpirationInDays",
        })
        converted: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "Id" in rule:
            converted["ID"] = rule["Id"]
        if "ExpirationInDays" in rule:
            converted["Expiration"] = {"Days": _as_int(rule["ExpirationInDays"], "ExpirationInDays")}
        if "AbortIncompleteMultipartUpload" in rule:
            days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": _as_int(days, "DaysAfterInitiation")}
        if "NoncurrentVersionExpirationInDays" in rule:
            days = _as_int(rule["NoncurrentVersionExpirationInDays"], "NoncurrentVersionExpirationInDays")
            converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        rules.append(converted)
    return {"Rules": rules}


def _notification(logical_id: str, configuration: dict) -> dict:
    _reject_unknown(f"{logical_id} NotificationConfiguration", configuration, {"QueueConfigurations"})
    queues = []
    for entry in configuration.get("QueueConfigurations", []):
        converted: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
        if rules:
            converted["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
        queues.append(converted)
    return {"QueueConfigurations": queues}


def _cors_rules(configuration: dict) -> dict:
    rules = []
    for rule in configuration.get("CorsRules", []):
        converted = {key: value for key, value in rule.items() if key != "MaxAge"}
        if "MaxAge" in rule:
            converted["MaxAgeSeconds"] = _as_int(rule["MaxAge"], "MaxAge")
        rules.append(converted)
    return {"CORSRules": rules}
