"""The template's bucket, queues and tables, created from ``template.yaml``'s own definitions.

Tests (in-process ``mock_aws``) and the local stack (moto in server mode) both build their AWS
resources here, by reading the resource properties in ``template.yaml`` and evaluating its
intrinsic functions (``!Ref``, ``!Sub``, ``!GetAtt``, ``!If``, ``!Select``…) with the parameter
defaults, a stack name, account ``123456789012`` and a region. So the queues' redrive policies
and visibility timeouts, the tables' keys, indexes and TTL, and the bucket's inbox notification
are the deployed ones, and a change to the template changes what the tests run against.

It also resolves the environment variables the template gives each function, so handlers run
locally see the same ``MIDISCRIBE_*`` settings as in Lambda, and lists the SQS event sources
(which function consumes which queue, with what batch size) for the local stack's pollers.

Only what moto can hold is created: S3, SQS and DynamoDB. Functions, the API, IAM, alarms and
the bucket policy are AWS's business (moto does not enforce policies, and the TLS-only bucket
policy would refuse the local stack's plain-http endpoint if it did).
"""

from __future__ import annotations

import copy
import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK_NAME = "midiscribe-local"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = REPOSITORY_ROOT / "template.yaml"

# What a function is told about each resource: the contract's logical ids.
BUCKET_ID = "DataBucket"
TASKS_TABLE_ID = "TasksTable"
KEYS_TABLE_ID = "ApiKeysTable"
TRANSCRIBE_QUEUE_ID = "TranscribeQueue"
TRANSCRIBE_DLQ_ID = "TranscribeDLQ"
NOTIFY_QUEUE_ID = "NotifyQueue"
NOTIFY_DLQ_ID = "NotifyDLQ"

CREATED_TYPES = ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::DynamoDB::Table", "AWS::S3::Bucket")
# Not created here, but functions may be told about them (the API's URL): ``!Ref`` gives a stand-in id.
# Whoever serves the API locally (the local stack) sets the variables built from it to its own address.
STAND_IN_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")


class TemplateError(ValueError):
    """The template cannot be read or evaluated here; the message says what and where."""


class _NoValue:
    """``AWS::NoValue``: the property it is the value of disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# ------------------------------------------------------------------------------------------ loading
def load_template(path: str | Path | None = None) -> dict:
    """Parse a SAM/CloudFormation YAML template; intrinsic tags become their JSON forms.

    Each call returns a fresh copy; the parse itself is cached per file version, since every
    test that builds the stack reads the same template.
    """
    path = Path(path) if path else DEFAULT_TEMPLATE
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise TemplateError(
            f"{path} does not exist: run from a checkout of the repository, or pass the template's path"
        ) from None
    return copy.deepcopy(_parse_template(str(path), version))


@functools.lru_cache(maxsize=8)
def _parse_template(path: str, version: int) -> dict:
    import yaml

    class TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    def construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
        name = "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    TemplateLoader.add_multi_constructor("!", construct_intrinsic)
    try:
        template = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=TemplateLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section; is it the SAM template?")
    return template


# ------------------------------------------------------------------------------------------ evaluation
@dataclass
class _Created:
    """A created resource as intrinsics see it: what ``Ref`` returns, and its ``GetAtt`` attributes."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class TemplateEvaluator:
    """Evaluates intrinsic functions against parameters, pseudo parameters and created resources."""

    def __init__(
        self,
        template: dict,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        account_id: str = ACCOUNT_ID,
        parameters: Mapping[str, Any] | None = None,
    ):
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        # A stable id per stack name, so a restarted local stack finds the same bucket again.
        stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"midiscribe-local-stack/{account_id}/{region}/{stack_name}")
        self.pseudo = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{region}:{account_id}:stack/{stack_name}/{stack_uuid}",
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NotificationARNs": [],
        }
        self.parameters = self._parameter_values(parameters or {})
        self.created: dict[str, _Created] = {}
        self._conditions: dict[str, bool] = {}

    def _parameter_values(self, overrides: Mapping[str, Any]) -> dict[str, str]:
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(
                f"unknown template parameter(s) {', '.join(unknown)}; the template declares: {', '.join(declared)}"
            )
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = overrides[name]
                value = ("true" if value else "false") if isinstance(value, bool) else str(value)
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                raise TemplateError(f"template parameter {name} has no default: pass a value for it")
            allowed = spec.get("AllowedValues")
            if allowed is not None and value not in [str(option) for option in allowed]:
                raise TemplateError(
                    f"template parameter {name}={value!r} is not one of {', '.join(map(str, allowed))}"
                )
            values[name] = value
        return values

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions") or {}
            if name not in definitions:
                raise TemplateError(f"condition {name} is used but not declared under Conditions")
            self._conditions[name] = bool(self.resolve(definitions[name]))
        return self._conditions[name]

    def resource_enabled(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return True if condition is None else self.condition(condition)

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.created:
            return self.created[name].ref
        resource = (self.template.get("Resources") or {}).get(name)
        if isinstance(resource, dict) and resource.get("Type") in STAND_IN_TYPES:
            return self.stand_in_id(name)
        if resource is not None:
            raise TemplateError(
                f"!Ref {name}: {name} is not one of the resources created locally "
                f"({', '.join(CREATED_TYPES)}) or not created yet"
            )
        raise TemplateError(f"!Ref {name}: no parameter, pseudo parameter or resource has that name")

    def stand_in_id(self, logical_id: str) -> str:
        """A REST API id (10 lowercase letters and digits, as API Gateway's) stable per stack and resource."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{self.pseudo['AWS::StackId']}/{logical_id}").hex[:10]

    def _get_att(self, logical_id: str, attribute: str) -> str:
        created = self.created.get(logical_id)
        if created is None:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: {logical_id} is not created locally")
        if attribute not in created.attributes:
            raise TemplateError(
                f"!GetAtt {logical_id}.{attribute}: known attributes are {', '.join(created.attributes)}"
            )
        return created.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {key: self.resolve(value) for key, value in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated; ``AWS::NoValue`` entries removed."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref":
                return self._ref(str(argument))
            if name == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if name.startswith("Fn::"):
                return self._function(name, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return self._get_att(str(parts[0]), str(self.resolve(parts[1])))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = argument
            items = self.resolve(items)
            return items[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Fn::FindInMap":
            mapping, top, second = (self.resolve(item) for item in argument[:3])
            try:
                return self.template["Mappings"][mapping][top][second]
            except KeyError:
                raise TemplateError(f"!FindInMap [{mapping}, {top}, {second}] finds nothing") from None
        if name == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        raise TemplateError(f"{name} is not supported by the local resource builder")


def _references(value: Any) -> set[str]:
    """Logical ids a value refers to (``Ref``, ``GetAtt`` and ``${…}`` in ``Sub``)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item.split(".")[0])
            elif key == "Fn::GetAtt":
                found.add(str(item[0] if isinstance(item, list) else str(item).split(".")[0]))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", str(text))}
                if isinstance(item, list):
                    found |= _references(item[1])
            else:
                found |= _references(item)
    return found


def creation_order(template: dict) -> list[str]:
    """The locally created resources, each after those it refers to or depends on."""
    resources = template["Resources"]
    wanted = [name for name, resource in resources.items() if resource.get("Type") in CREATED_TYPES]
    dependencies: dict[str, set[str]] = {}
    for name in wanted:
        depends_on = resources[name].get("DependsOn") or []
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        refs = _references(resources[name].get("Properties") or {}) | set(depends_on)
        dependencies[name] = {ref for ref in refs if ref in wanted and ref != name}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise TemplateError(f"circular dependency through {name} among {', '.join(sorted(visiting))}")
        visiting.add(name)
        for dependency in sorted(dependencies[name]):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


# ------------------------------------------------------------------------------------------ result
@dataclass(frozen=True)
class SqsEventSource:
    """A function's SQS trigger, as Lambda's event source mapping would run it."""

    function_id: str
    queue_id: str
    queue_url: str
    batch_size: int
    maximum_batching_window_s: int
    report_batch_item_failures: bool
    visibility_timeout_s: int
    max_receive_count: int | None
    dead_letter_queue_url: str | None


@dataclass(frozen=True)
class StackResources:
    """What was created, under the names the functions are given."""

    stack_name: str
    region: str
    account_id: str
    endpoint_url: str | None
    bucket: str
    tasks_table: str
    keys_table: str
    transcribe_queue_url: str
    transcribe_dlq_url: str
    notify_queue_url: str
    notify_dlq_url: str
    # Every created resource: logical id -> what !Ref returns (bucket/table name, queue URL).
    physical_ids: Mapping[str, str]
    arns: Mapping[str, str]
    # MIDISCRIBE_*/POWERTOOLS_* variables of all functions together (they agree where they overlap).
    environment: Mapping[str, str]
    function_environments: Mapping[str, Mapping[str, str]]
    sqs_event_sources: tuple[SqsEventSource, ...]
    parameters: Mapping[str, str]


# ------------------------------------------------------------------------------------------ creating
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
            f"{', '.join(unknown)}; teach midiscribe/local/resources.py, so local and deployed stacks stay alike"
        )


class _Builder:
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
        self.evaluator.created[logical_id] = _Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def queue_policy(self, logical_id: str, properties: dict) -> None:
        _reject_unknown(logical_id, properties, {"Queues", "PolicyDocument"})
        for url in properties["Queues"]:
            self.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
            )
        self.evaluator.created[logical_id] = _Created(logical_id)

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
        self.evaluator.created[logical_id] = _Created(name, attributes)

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
        self.evaluator.created[logical_id] = _Created(
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


# ------------------------------------------------------------------------------------------ functions
def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def function_environments(template: dict, evaluator: TemplateEvaluator) -> dict[str, dict[str, str]]:
    """Each function's environment variables (Globals merged under its own), evaluated."""
    defaults = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    environments: dict[str, dict[str, str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function" or not evaluator.resource_enabled(logical_id):
            continue
        own = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        merged = {**(defaults.get("Variables") or {}), **own}
        resolved = evaluator.resolve(merged)
        environments[logical_id] = {name: _stringify(value) for name, value in resolved.items()}
    return environments


def merged_environment(environments: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """One environment for a process that runs every function (the local stack)."""
    merged: dict[str, str] = {}
    for function_id, variables in environments.items():
        for name, value in variables.items():
            if name in merged and merged[name] != value:
                raise TemplateError(
                    f"{function_id} sets {name}={value!r} but another function sets {merged[name]!r}; "
                    "functions sharing one local process must agree"
                )
            merged[name] = value
    return merged


def sqs_event_sources(template: dict, evaluator: TemplateEvaluator) -> tuple[SqsEventSource, ...]:
    sources = []
    for function_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function" or not evaluator.resource_enabled(function_id):
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            properties = event.get("Properties") or {}
            queue_arn = evaluator.resolve(properties["Queue"])
            queue_id = next(
                (logical for logical, created in evaluator.created.items() if created.attributes.get("Arn") == queue_arn),
                None,
            )
            if queue_id is None:
                raise TemplateError(f"{function_id}'s SQS event names a queue that is not in the template")
            queue_properties = evaluator.resolve(template["Resources"][queue_id].get("Properties") or {})
            redrive = queue_properties.get("RedrivePolicy") or {}
            dlq_url = None
            if redrive:
                dlq_url = next(
                    created.ref for created in evaluator.created.values()
                    if created.attributes.get("Arn") == redrive.get("deadLetterTargetArn")
                )
            sources.append(SqsEventSource(
                function_id=function_id,
                queue_id=queue_id,
                queue_url=evaluator.created[queue_id].ref,
                batch_size=_as_int(evaluator.resolve(properties.get("BatchSize", 10)), "BatchSize"),
                maximum_batching_window_s=_as_int(
                    evaluator.resolve(properties.get("MaximumBatchingWindowInSeconds", 0)), "MaximumBatchingWindowInSeconds"
                ),
                report_batch_item_failures="ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or []),
                visibility_timeout_s=_as_int(queue_properties.get("VisibilityTimeout", 30), "VisibilityTimeout"),
                max_receive_count=_as_int(redrive["maxReceiveCount"], "maxReceiveCount") if redrive else None,
                dead_letter_queue_url=dlq_url,
            ))
    return tuple(sources)


# ------------------------------------------------------------------------------------------ entry point
def _clients(endpoint_url: str | None, region: str) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(region_name=region)
    options: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
    if endpoint_url and session.get_credentials() is None:
        # moto in server mode accepts any credentials; real AWS is never given these.
        options.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    return {service: session.client(service, **options) for service in ("s3", "sqs", "dynamodb", "sts")}


def _refuse_real_aws(sts: Any, account_id: str) -> None:
    """Only moto answers with the example account id: anything else is a real account."""
    try:
        actual = sts.get_caller_identity()["Account"]
    except Exception as exc:  # noqa: BLE001 - any failure means we cannot prove this is moto
        raise TemplateError(
            f"cannot confirm the endpoint is moto ({type(exc).__name__}: {exc}); pass endpoint_url of a "
            "moto server, or run inside moto's mock_aws"
        ) from None
    if actual != account_id:
        raise TemplateError(
            f"the AWS endpoint answers for account {actual}, not moto's {account_id}: refusing to create "
            "resources in a real account (deploy with `sam deploy` instead)"
        )


def create_stack_resources(
    *,
    endpoint_url: str | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    parameters: Mapping[str, Any] | None = None,
    template_path: str | Path | None = None,
    clients: Mapping[str, Any] | None = None,
) -> StackResources:
    """Create the template's bucket, queues and tables on moto and say what functions are told.

    ``endpoint_url`` is a moto server (``http://127.0.0.1:PORT``); leave it out inside ``mock_aws``.
    ``parameters`` override the template's parameter defaults (e.g. ``{"AllowPrivateUrls": "true"}``).
    ``clients`` are ready-made boto3 clients (``s3``, ``sqs``, ``dynamodb``, optionally ``sts``);
    without ``sts`` the check that the endpoint is moto and not a real account is skipped, so
    pass clients without it only inside ``mock_aws``.
    Safe to call again on existing state: what exists is reused and brought up to date.
    """
    template = load_template(template_path)
    evaluator = TemplateEvaluator(template, stack_name=stack_name, region=region, parameters=parameters)
    clients = dict(clients) if clients else _clients(endpoint_url, region)
    if "sts" in clients:
        _refuse_real_aws(clients["sts"], evaluator.account_id)
    builder = _Builder(evaluator, clients)
    for logical_id in creation_order(template):
        if evaluator.resource_enabled(logical_id):
            builder.create(logical_id)
    missing = [
        logical_id
        for logical_id in (BUCKET_ID, TASKS_TABLE_ID, KEYS_TABLE_ID, TRANSCRIBE_QUEUE_ID, TRANSCRIBE_DLQ_ID,
                           NOTIFY_QUEUE_ID, NOTIFY_DLQ_ID)
        if logical_id not in evaluator.created
    ]
    if missing:
        raise TemplateError(f"the template has no {', '.join(missing)}; the service needs them")
    environments = function_environments(template, evaluator)
    created = evaluator.created
    return StackResources(
        stack_name=stack_name,
        region=region,
        account_id=evaluator.account_id,
        endpoint_url=endpoint_url,
        bucket=created[BUCKET_ID].ref,
        tasks_table=created[TASKS_TABLE_ID].ref,
        keys_table=created[KEYS_TABLE_ID].ref,
        transcribe_queue_url=created[TRANSCRIBE_QUEUE_ID].ref,
        transcribe_dlq_url=created[TRANSCRIBE_DLQ_ID].ref,
        notify_queue_url=created[NOTIFY_QUEUE_ID].ref,
        notify_dlq_url=created[NOTIFY_DLQ_ID].ref,
        physical_ids={logical_id: item.ref for logical_id, item in created.items()},
        arns={logical_id: item.attributes["Arn"] for logical_id, item in created.items() if "Arn" in item.attributes},
        environment=merged_environment(environments),
        function_environments=environments,
        sqs_event_sources=sqs_event_sources(template, evaluator),
        parameters=dict(evaluator.parameters),
    )
