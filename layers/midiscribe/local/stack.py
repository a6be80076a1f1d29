"""The whole API on one machine: moto as S3/SQS/DynamoDB, the real handlers, a local API Gateway.

``LocalStack.start()`` binds the API port first (so a second ``make run`` stops at once with a
clear message), starts moto in server mode on loopback, points boto3 at it through
``AWS_ENDPOINT_URL`` (every client the handlers create follows), creates the bucket, queues and
tables from template.yaml's own definitions (``midiscribe.local.resources``), gives the process
the environment the template gives the functions, creates the development API key, then starts
the SQS pollers and the HTTP server. ``stop()`` undoes it in reverse order.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api_spec import api_spec
from .functions import FunctionSpec, LocalFunction, function_specs
from .gateway import LocalApiGateway
from .pollers import SqsPoller
from .server import ApiHttpServer, PortInUseError
from .template import TemplateError, load_template

log = logging.getLogger("local_stack")

DEFAULT_REGION = "us-east-1"
DEV_KEY_NAME = "local-development"
DEV_API_KEY_ENV = "MIDISCRIBE_DEV_API_KEY"
DEV_WEBHOOK_SECRET_ENV = "MIDISCRIBE_DEV_WEBHOOK_SECRET"  # nosec B105 # a variable's name, not its value
# Settings that differ from a deployment only here, and only unless the user sets them.
LOCAL_DEFAULTS = {
    "MIDISCRIBE_STAGE": "local",
    "MIDISCRIBE_ALLOW_PRIVATE_URLS": "true",  # webhook_url=http://127.0.0.1:… must work locally
    "MIDISCRIBE_ALLOW_HTTP_URLS": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would only repeat the logs
}
# Resource names and endpoints always come from the resources just created, never from the shell.
RESOURCE_ENV = ("MIDISCRIBE_BUCKET", "MIDISCRIBE_TASKS_TABLE", "MIDISCRIBE_KEYS_TABLE",
                "MIDISCRIBE_TRANSCRIBE_QUEUE_URL", "MIDISCRIBE_NOTIFY_QUEUE_URL", "MIDISCRIBE_NOTIFY_DLQ_URL",
                "MIDISCRIBE_PUBLIC_API_URL")
# Webhook links lead to the API that serves them: here, this stack's own HTTP server.
PUBLIC_API_URL_ENV = "MIDISCRIBE_PUBLIC_API_URL"


def find_repository_root(start: Path | None = None) -> Path:
    """The directory holding template.yaml: the current one or a parent (``make run`` runs at the root)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parents[3]
    if (package_root / "template.yaml").is_file():
        return package_root
    raise TemplateError(
        f"no template.yaml in {here} or its parents: run `midiscribe serve` from the repository, or pass --root"
    )


@dataclass
class StackOptions:
    root: Path
    host: str = "127.0.0.1"
    port: int = 3000
    # moto's port; 0 picks a free one. A fixed one keeps result links valid across --data-dir restarts.
    aws_port: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    data_dir: Path | None = None
    region: str = DEFAULT_REGION
    api_key: str | None = None
    webhook_secret: str | None = None
    # Seconds to let in-flight invocations finish on shutdown before abandoning them.
    shutdown_grace_s: float = 10.0


@dataclass(frozen=True)
class RunningStack:
    """What a client needs to know about a started stack."""

    api_url: str
    aws_endpoint_url: str
    api_key: str
    key_id: str
    webhook_secret: str
    bucket: str
    environment: Mapping[str, str]


def _check_port_free(host: str, port: int, option: str) -> None:
    """moto binds in its own thread and would hang start-up on a taken port, so look first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(
                98, f"{host}:{port} is already in use: choose another {option}, or leave it out for a free port"
            ) from None


# In a --data-dir: the port of the last start's S3 endpoint, which the result links handed out then point at.
AWS_PORT_FILE = "aws-port"


def remembered_aws_port(data_dir: Path) -> int:
    """The port the S3/SQS/DynamoDB endpoint had at the last start with ``data_dir``, when it is free again.
    Else 0 (any free port), and the links handed out before point at a port nothing answers on (``byId``
    gives fresh ones)."""
    try:
        port = int((data_dir / AWS_PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return 0
    if not 0 < port < 65536:
        return 0
    try:
        _check_port_free("127.0.0.1", port, "--aws-port")
    except PortInUseError:
        log.warning("the local AWS endpoint's port %d (the last start's) is in use: links handed out before this "
                    "start will not download; GET /v1/byId gives fresh ones", port)
        return 0
    return port


# moto takes any credentials; a placeholder keeps boto3 from looking for real ones.
MOTO_CREDENTIAL = "testing"


def _aws_environment(endpoint: str, region: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": MOTO_CREDENTIAL,
        "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIAL,
        "AWS_SESSION_TOKEN": MOTO_CREDENTIAL,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


class LocalStack:
    def __init__(self, options: StackOptions, *, handlers: Mapping[str, Callable[[dict, Any], Any]] | None = None):
        if options.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {options.workers}")
        self.options = options
        self.template = load_template(options.root / "template.yaml")
        self.specs: dict[str, FunctionSpec] = function_specs(self.template, options.root)
        # Tests may stand in for handlers that are not written yet; the stack uses the real files otherwise.
        self._handler_overrides = dict(handlers or {})
        self._http: ApiHttpServer | None = None
        self._http_thread: threading.Thread | None = None
        self._moto: Any = None
        self._pollers: list[SqsPoller] = []
        self._stopped = threading.Event()
        self._abandon = threading.Event()
        self._stop_lock = threading.Lock()
        self._saved_environ: dict[str, str | None] = {}
        self.running: RunningStack | None = None
        self._state: Any = None

    # ----------------------------------------------------------------------------------- start

    def start(self) -> RunningStack:
        options = self.options
        api = api_spec(self.template, stage=LOCAL_DEFAULTS["MIDISCRIBE_STAGE"])
        self._check_handler_files()
        # The port first: if another stack holds it, nothing else has started yet.
        self._http = ApiHttpServer((options.host, options.port), LocalApiGateway(api, {}, region=options.region))
        try:
            return self._start_rest()
        except BaseException:
            self.stop()
            raise

    def _start_rest(self) -> RunningStack:
        options = self.options
        from moto.server import ThreadedMotoServer

        aws_port = options.aws_port
        if aws_port:
            _check_port_free("127.0.0.1", aws_port, "--aws-port")
        elif options.data_dir is not None:
            aws_port = remembered_aws_port(options.data_dir)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        if options.data_dir is not None:
            options.data_dir.mkdir(parents=True, exist_ok=True)
            (options.data_dir / AWS_PORT_FILE).write_text(f"{moto_port}\n")
        endpoint = f"http://{moto_host}:{moto_port}"
        self._set_environ(_aws_environment(endpoint, options.region))

        from .resources import create_stack_resources

        created = create_stack_resources(
            endpoint_url=endpoint,
            region=options.region,
            template_path=options.root / "template.yaml",
            parameters=self._template_parameters(),
        )
        function_env = self._function_environment(created.environment)
        self._set_environ(function_env)
        if options.data_dir is not None:
            store = self._state_store(created, options.data_dir)
            loaded = store.load()
            # Only a stack whose saved state loaded may save over it when it stops.
            self._state = store
            if loaded is not None:
                log.info("loaded %(items)d items, %(objects)d objects and %(messages)d messages from %(dir)s",
                         {**loaded, "dir": options.data_dir})

        api_key, record = self._create_dev_key(function_env["MIDISCRIBE_KEYS_TABLE"])
        self._tag_api_url(function_env["MIDISCRIBE_KEYS_TABLE"])

        functions = {
            logical_id: LocalFunction(spec, options.region, self._handler_overrides.get(logical_id))
            for logical_id, spec in self.specs.items()
        }
        self._bound_http().gateway.functions = functions
        # Import every handler now: a broken one should stop start-up, not the first request.
        for function in functions.values():
            function.load()

        self._start_pollers(functions, created)
        self._http_thread = threading.Thread(target=self._bound_http().serve_forever, name="local-api", daemon=True)
        self._http_thread.start()
        self.running = RunningStack(
            api_url=self._api_url(),
            aws_endpoint_url=endpoint,
            api_key=api_key,
            key_id=record.key_id,
            webhook_secret=record.webhook_secret,
            bucket=function_env["MIDISCRIBE_BUCKET"],
            environment=function_env,
        )
        return self.running

    def _bound_http(self) -> ApiHttpServer:
        if self._http is None:
            raise RuntimeError("the API server is not bound: start() binds its port first")
        return self._http

    def _api_url(self) -> str:
        host, port = self._bound_http().server_address[:2]
        return f"http://{host}:{port}"

    def _state_store(self, created: Any, data_dir: Path) -> Any:
        import boto3
        from botocore.config import Config

        from .state import StateStore

        region = self.options.region
        clients = {
            "s3": boto3.client("s3", region_name=region, config=Config(signature_version="s3v4")),
            "sqs": boto3.client("sqs", region_name=region),
            "dynamodb": boto3.client("dynamodb", region_name=region),
        }
        return StateStore(data_dir, template=self.template, physical_ids=created.physical_ids,
                          account_id=created.account_id, region=region, clients=clients)

    def _check_handler_files(self) -> None:
        missing = [
            f"{spec.logical_id}: {spec.problem or spec.module_file}"
            for spec in self.specs.values()
            if spec.logical_id not in self._handler_overrides and (spec.problem or not spec.module_file.is_file())
        ]
        if missing:
            raise TemplateError("handler files named by template.yaml are missing:\n  " + "\n  ".join(missing))

    def _set_environ(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _template_parameters(self) -> dict[str, str]:
        """Template parameters of the local stack: the deployed defaults, opened up for loopback use."""
        from ..service.config import Settings

        self._set_environ({name: os.environ.get(name, value) for name, value in LOCAL_DEFAULTS.items()
                           if name != "MIDISCRIBE_STAGE"})
        settings = Settings.from_env()  # reads the two flags as the handlers will
        return {
            "Stage": LOCAL_DEFAULTS["MIDISCRIBE_STAGE"],
            "AllowPrivateUrls": "true" if settings.allow_private_urls else "false",
            "AllowHttpUrls": "true" if settings.allow_http_urls else "false",
        }

    def _function_environment(self, template_environment: Mapping[str, str]) -> dict[str, str]:
        """The template's function environment, with the user's MIDISCRIBE_* settings on top."""
        environment = {name: str(value) for name, value in template_environment.items()}
        for name, value in os.environ.items():
            # What the user exported wins (retry schedule, limits…), except where the resources live.
            if name.startswith("MIDISCRIBE_") and name not in RESOURCE_ENV and name in environment:
                environment[name] = value
        environment["MIDISCRIBE_STAGE"] = LOCAL_DEFAULTS["MIDISCRIBE_STAGE"]
        # The template's value is a stand-in execute-api URL; the API is served here, not there.
        environment[PUBLIC_API_URL_ENV] = self._api_url()
        for name in ("MIDISCRIBE_ALLOW_PRIVATE_URLS", "MIDISCRIBE_ALLOW_HTTP_URLS"):
            environment[name] = "true" if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"} else "false"
        for name in ("POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED"):
            environment[name] = os.environ.get(name, LOCAL_DEFAULTS[name])
        return environment

    def _tag_api_url(self, keys_table: str) -> None:
        """Tag the keys table with this stack's API address (on every start: the port may change)."""
        import boto3

        from .resources import LOCAL_API_URL_TAG

        dynamodb = boto3.client("dynamodb")
        arn = dynamodb.describe_table(TableName=keys_table)["Table"]["TableArn"]
        dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": LOCAL_API_URL_TAG, "Value": self._api_url()}])

    def _create_dev_key(self, keys_table: str) -> tuple[str, Any]:
        from ..aws.keys import ApiKeyError, ApiKeyRepository, new_raw_key

        options = self.options
        api_key = options.api_key or os.environ.get(DEV_API_KEY_ENV) or None
        secret = options.webhook_secret or os.environ.get(DEV_WEBHOOK_SECRET_ENV) or None
        key_file = options.data_dir / "dev-key.json" if options.data_dir else None
        if api_key is None and key_file is not None and key_file.is_file():
            # A persisted stack keeps its generated key, so scripts written against it keep working.
            saved = json.loads(key_file.read_text(encoding="utf-8"))
            api_key = saved.get("api_key")
            secret = secret or saved.get("webhook_secret")
        api_key = api_key or new_raw_key()
        try:
            record = ApiKeyRepository(keys_table).create_with(api_key, DEV_KEY_NAME, secret)
        except ApiKeyError as error:
            raise ApiKeyError(f"the development key from {DEV_API_KEY_ENV} / {DEV_WEBHOOK_SECRET_ENV} "
                              f"cannot be used: {error}") from None
        if key_file is not None:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(json.dumps({"api_key": api_key, "webhook_secret": record.webhook_secret}),
                                encoding="utf-8")
            key_file.chmod(0o600)
        return api_key, record

    def _start_pollers(self, functions: Mapping[str, LocalFunction], created: Any) -> None:
        import boto3

        sqs = boto3.client("sqs", region_name=self.options.region)
        for source in created.sqs_event_sources:
            poller = SqsPoller(
                name=source.function_id,
                invoke=functions[source.function_id].invoke,
                sqs_client=sqs,
                queue_url=source.queue_url,
                queue_arn=created.arns[source.queue_id],
                region=self.options.region,
                batch_size=source.batch_size,
                maximum_batching_window_s=source.maximum_batching_window_s,
                report_batch_item_failures=source.report_batch_item_failures,
                workers=self.options.workers,
            )
            poller.start()
            self._pollers.append(poller)

    # ----------------------------------------------------------------------------------- run and stop

    def wait(self) -> None:
        """Block until :meth:`request_stop` (a signal handler calls it)."""
        while not self._stopped.wait(0.5):
            pass

    def request_stop(self) -> None:
        self._stopped.set()

    def abandon(self) -> None:
        """Stop waiting for in-flight invocations (a second Ctrl-C)."""
        self._abandon.set()

    def stop(self) -> None:
        """Stop polling, let in-flight work finish (up to the grace period), stop the servers."""
        self._stopped.set()
        with self._stop_lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        for poller in self._pollers:
            poller.stop()
        deadline = time.monotonic() + self.options.shutdown_grace_s
        while (any(not poller.join(0) for poller in self._pollers)
               and time.monotonic() < deadline and not self._abandon.is_set()):
            time.sleep(0.1)
        for poller in self._pollers:
            if not poller.join(0):
                log.warning("%s is still running a batch; abandoning it (its messages reappear after the "
                            "queue's visibility timeout)", poller.name)
        self._pollers.clear()
        if self._http is not None and self._http_thread is not None:
            # No new requests while the state is saved.
            self._http.shutdown()
            self._http_thread = None
        if self._state is not None and self._moto is not None:
            try:
                saved = self._state.save()
                log.info("saved %(items)d items, %(objects)d objects and %(messages)d messages to %(dir)s",
                         {**saved, "dir": self.options.data_dir})
            except Exception:  # noqa: BLE001 - stopping must go on; the previous save stays in place
                log.exception("saving the state to %s failed", self.options.data_dir)
            self._state = None
        if self._http is not None:
            if self._http_thread is not None:
                self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()

