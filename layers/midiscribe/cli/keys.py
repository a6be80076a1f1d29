"""``midiscribe keys create|list|disable``: manage the API keys of a deployed stack or the local one.

The keys table is found from ``--table``, else the stack's ``KeysTableName`` output
(``--stack-name``), else ``$MIDISCRIBE_KEYS_TABLE``, else, with ``--endpoint-url``, the local
stack's table. A new key is printed once, with its webhook signing secret; only its SHA-256 is
stored. In a deployed stack, each key is also registered with the stack's usage plan
(``UsagePlanId`` output) so that API Gateway applies the per-key limits: API Gateway refuses a key
the plan does not know.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

KEYS_TABLE_OUTPUT = "KeysTableName"
USAGE_PLAN_OUTPUT = "UsagePlanId"
API_URL_OUTPUT = "ApiUrl"


class KeysCommandError(RuntimeError):
    """What went wrong and what to do about it; printed without a traceback."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "keys",
        help="create, list or disable API keys",
        description="Manage API keys in the keys table of a deployed stack (--stack-name) or the local one "
                    "(--endpoint-url). Keys are stored only as SHA-256 hashes.",
    )
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a key and print it and its webhook secret once")
    create.add_argument("--name", required=True, help="who or what uses the key, e.g. ci-pipeline")
    _add_location_arguments(create)
    create.set_defaults(run=run_create)

    listing = actions.add_parser("list", help="list keys (ids, names, enabled, creation time; never the keys)")
    _add_location_arguments(listing)
    listing.set_defaults(run=run_list)

    disable = actions.add_parser("disable", help="refuse a key from now on (its tasks stay)")
    disable.add_argument("key_id", metavar="KEY_ID", help="the key's id, as `keys list` shows it (key_…)")
    _add_location_arguments(disable)
    disable.set_defaults(run=run_disable)


def endpoint_url(text: str) -> str:
    """An argparse type: an http(s) URL (boto3 refused anything else with a ValueError traceback)."""
    from urllib.parse import urlsplit

    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL such as http://127.0.0.1:5000 (got {text!r})")
    return text.strip()


def _add_location_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("which stack")
    where.add_argument("--stack-name", help="a deployed stack: its outputs name the keys table and usage plan")
    where.add_argument("--table", help="the keys table itself (default: $MIDISCRIBE_KEYS_TABLE)")
    where.add_argument("--usage-plan-id", help="register new keys with this API Gateway usage plan")
    where.add_argument("--endpoint-url", type=endpoint_url,
                       help="an AWS-compatible endpoint, e.g. the local stack's moto server")
    where.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


@dataclass(frozen=True)
class KeysLocation:
    table: str
    usage_plan_id: str | None
    api_url: str | None
    described_as: str


class _Clients:
    """boto3 clients for the chosen endpoint and region, created when first needed."""

    def __init__(self, endpoint_url: str | None, region: str | None):
        import boto3

        options: dict[str, Any] = {}
        if region:
            options["region_name"] = region
        self._session = boto3.session.Session(**options)
        self._client_options: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
        if endpoint_url and self._session.get_credentials() is None:
            # The local stack's moto accepts any credentials.
            self._client_options.update(aws_access_key_id="local", aws_secret_access_key="local")  # nosec B106 # moto's placeholder, only with an endpoint URL
        if self._session.region_name is None:
            if endpoint_url:
                self._client_options["region_name"] = "us-east-1"
            else:
                raise KeysCommandError(
                    "No AWS region is configured: pass --region (the stack's region) or set AWS_REGION."
                )
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, **self._client_options)
        return self._clients[service]


def locate(args: argparse.Namespace, clients: _Clients) -> KeysLocation:
    if args.table:
        return KeysLocation(args.table, args.usage_plan_id, None, f"table {args.table}")
    if args.stack_name:
        outputs = _stack_outputs(clients("cloudformation"), args.stack_name)
        if KEYS_TABLE_OUTPUT not in outputs:
            raise KeysCommandError(
                f"Stack {args.stack_name} has no {KEYS_TABLE_OUTPUT} output: is it a midiscribe stack? "
                f"(its outputs: {', '.join(sorted(outputs)) or 'none'})"
            )
        return KeysLocation(
            outputs[KEYS_TABLE_OUTPUT],
            args.usage_plan_id or outputs.get(USAGE_PLAN_OUTPUT),
            outputs.get(API_URL_OUTPUT),
            f"stack {args.stack_name} (table {outputs[KEYS_TABLE_OUTPUT]})",
        )
    from_environment = os.environ.get("MIDISCRIBE_KEYS_TABLE")
    if from_environment:
        return KeysLocation(from_environment, args.usage_plan_id, None, f"table {from_environment} "
                                                                         "($MIDISCRIBE_KEYS_TABLE)")
    if args.endpoint_url:
        from ..local.builders import local_physical_name
        from ..local.resources import KEYS_TABLE_ID

        table = local_physical_name(KEYS_TABLE_ID)
        return KeysLocation(table, args.usage_plan_id, _local_api_url(clients, table), f"the local stack's table {table}")
    raise KeysCommandError(
        "Which keys table? Pass --stack-name STACK for a deployed stack, --endpoint-url URL for the local "
        "stack, or --table TABLE (or set MIDISCRIBE_KEYS_TABLE)."
    )


def _local_api_url(clients: _Clients, table: str) -> str | None:
    """The local stack's API address, from the tag it puts on its keys table; None when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..local.resources import LOCAL_API_URL_TAG

    try:
        dynamodb = clients("dynamodb")
        arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
        tags = dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
    except (BotoCoreError, ClientError):
        return None  # creating the key then says what is wrong
    return next((tag["Value"] for tag in tags if tag.get("Key") == LOCAL_API_URL_TAG), None)


def _stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise KeysCommandError(
            f"Cannot read stack {stack_name}: {message}. Check the name and --region (sam deploy prints both)."
        ) from None
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def _repository(location: KeysLocation, clients: _Clients):
    from ..aws.keys import ApiKeyRepository

    return ApiKeyRepository(location.table, client=clients("dynamodb"))


def _register_with_usage_plan(clients: _Clients, usage_plan_id: str, key_id: str, name: str) -> str:
    """An API Gateway API key whose value is the key_id (what the authorizer returns as usageIdentifierKey)."""
    apigateway = clients("apigateway")
    created = apigateway.create_api_key(
        name=key_id, description=f"midiscribe API key {name!r} (usage plan identity only; not a secret)",
        enabled=True, value=key_id,
    )
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=created["id"], keyType="API_KEY")
    return created["id"]


def _disable_in_usage_plan(clients: _Clients, key_id: str) -> int:
    apigateway = clients("apigateway")
    disabled = 0
    for page in apigateway.get_paginator("get_api_keys").paginate(nameQuery=key_id):
        for item in page.get("items", []):
            if item.get("name") == key_id and item.get("enabled", True):
                apigateway.update_api_key(
                    apiKey=item["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
                )
                disabled += 1
    return disabled


def run_create(args: argparse.Namespace) -> int:
    return _guarded(args, _create)


def run_list(args: argparse.Namespace) -> int:
    return _guarded(args, _list)


def run_disable(args: argparse.Namespace) -> int:
    return _guarded(args, _disable)


def _create(args: argparse.Namespace, clients: _Clients, location: KeysLocation) -> int:
    repository = _repository(location, clients)
    raw_key, record = repository.create(args.name)
    usage_plan_key = None
    if location.usage_plan_id:
        try:
            usage_plan_key = _register_with_usage_plan(clients, location.usage_plan_id, record.key_id, record.name)
        except Exception as exc:
            # A key API Gateway would refuse must not stay usable elsewhere half-registered.
            repository.disable(record.key_id)
            raise KeysCommandError(
                f"Created key {record.key_id} but could not register it with usage plan "
                f"{location.usage_plan_id} ({exc}); the key was disabled again. Fix the cause and create a new one."
            ) from None
    if args.json:
        print(json.dumps({**asdict(record), "api_key": raw_key, "usage_plan_id": location.usage_plan_id,
                          "usage_plan_api_key_id": usage_plan_key}, indent=2))
        return 0
    lines = [
        f"Created API key {record.name!r} ({record.key_id}) in {location.described_as}.",
        "Store these now; they cannot be shown again:",
        f"  API key         {raw_key}",
        f"  Webhook secret  {record.webhook_secret}",
    ]
    if location.usage_plan_id:
        lines.append(f"Registered with usage plan {location.usage_plan_id}: per-key limits apply.")
    elif not args.endpoint_url:
        lines.append(
            "Not registered with a usage plan: a deployed stack refuses it until it is. Use --stack-name "
            "(or --usage-plan-id) when the table belongs to a deployed stack."
        )
    base = location.api_url or "https://YOUR-API-URL"
    lines += ["", "Try it:", f'  curl -H "Authorization: {raw_key}" -F audio_file=@song.wav "{base}/v1/audio_to_midi"']
    print("\n".join(lines))
    return 0


def _list(args: argparse.Namespace, clients: _Clients, location: KeysLocation) -> int:
    records = _repository(location, clients).list()
    if args.json:
        # Secrets are shown once, at creation; listing never prints them.
        print(json.dumps([{k: v for k, v in asdict(r).items() if k != "webhook_secret"} for r in records], indent=2))
        return 0
    if not records:
        print(f"No API keys in {location.described_as}. Create one: midiscribe keys create --name NAME")
        return 0
    width = max(len("NAME"), *(len(record.name) for record in records))
    print(f"{'KEY_ID':<24}  {'NAME':<{width}}  {'ENABLED':<7}  CREATED_AT")
    for record in records:
        enabled = "yes" if record.enabled else "no"
        print(f"{record.key_id:<24}  {record.name:<{width}}  {enabled:<7}  {record.created_at}")
    return 0


def _disable(args: argparse.Namespace, clients: _Clients, location: KeysLocation) -> int:
    from ..aws.keys import ApiKeyNotFoundError

    try:
        record = _repository(location, clients).disable(args.key_id)
    except ApiKeyNotFoundError as exc:
        raise KeysCommandError(str(exc)) from None
    gateway_keys = _disable_in_usage_plan(clients, record.key_id) if location.usage_plan_id else 0
    if args.json:
        print(json.dumps({k: v for k, v in asdict(record).items() if k != "webhook_secret"}, indent=2))
        return 0
    message = f"Disabled {record.key_id} ({record.name})."
    if gateway_keys:
        message += " Its usage-plan key is disabled too."
    message += " Requests with it are refused within a minute (API Gateway caches the authorizer's answer 60 s)."
    print(message)
    return 0


def _guarded(args: argparse.Namespace, action) -> int:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from ..aws.keys import ApiKeyError

    try:
        clients = _Clients(args.endpoint_url, args.region)
        location = locate(args, clients)
        return action(args, clients, location)
    except (KeysCommandError, ApiKeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print("error: no AWS credentials found: run `aws configure` (or set AWS_PROFILE) for a deployed stack, "
              "or pass --endpoint-url for the local one.", file=sys.stderr)
        return 1
    except ClientError as exc:
        error = exc.response.get("Error", {})
        hint = ""
        if error.get("Code") == "ResourceNotFoundException":
            hint = " Does the table exist in this region/endpoint? Check --region, --endpoint-url or --stack-name."
        print(f"error: AWS refused: {error.get('Code')}: {error.get('Message')}.{hint}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"error: cannot reach AWS: {exc}", file=sys.stderr)
        return 1
