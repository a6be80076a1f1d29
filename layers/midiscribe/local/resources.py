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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .builders import ResourceBuilder, _as_int
from .intrinsics import TemplateEvaluator
from .template import (
    CREATED_TYPES,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    TemplateError,
    load_template,
    references,
)

# What a function is told about each resource: the contract's logical ids.
BUCKET_ID = "DataBucket"
TASKS_TABLE_ID = "TasksTable"
KEYS_TABLE_ID = "ApiKeysTable"
# The local stack tags its keys table with its API's address, so that `midiscribe keys create --endpoint-url`
# can say where to send the new key.
LOCAL_API_URL_TAG = "midiscribe:local-api-url"
TRANSCRIBE_QUEUE_ID = "TranscribeQueue"
TRANSCRIBE_DLQ_ID = "TranscribeDLQ"
NOTIFY_QUEUE_ID = "NotifyQueue"
NOTIFY_DLQ_ID = "NotifyDLQ"


def creation_order(template: dict) -> list[str]:
    """The locally created resources, each after those it refers to or depends on."""
    resources = template["Resources"]
    wanted = [name for name, resource in resources.items() if resource.get("Type") in CREATED_TYPES]
    dependencies: dict[str, set[str]] = {}
    for name in wanted:
        depends_on = resources[name].get("DependsOn") or []
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        refs = references(resources[name].get("Properties") or {}) | set(depends_on)
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
        options.update(aws_access_key_id="testing", aws_secret_access_key="testing")  # nosec B106 # moto's placeholder
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
    builder = ResourceBuilder(evaluator, clients)
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
