"""The template's Lambda functions, loaded in this process as Lambda would load them.

The local stack runs the real handlers: each function's ``app.py`` is imported by file path under
a unique module name (every function's module is called ``app``), and invoked with an event and
a context object carrying what Lambda's context carries. What the template says about a function
(its code location, handler, timeout, memory, its API and SQS events, the API's authorizer) is
read from ``template.yaml`` here, so the local stack follows the template rather than a copy of it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .template import ACCOUNT_ID, TemplateError

DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128


def _globals_function(template: dict) -> dict:
    return (template.get("Globals") or {}).get("Function") or {}


def _plain_int(value: Any, default: int) -> int:
    """A template number, or the default when the value is an intrinsic (e.g. ``!Ref Param``)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float | str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` as far as running it locally is concerned."""

    logical_id: str
    code_dir: Path
    module_file: Path
    handler_name: str
    timeout_s: int
    memory_mb: int
    events: Mapping[str, dict] = field(default_factory=dict)
    # Why the handler cannot be found (e.g. a Dockerfile not written yet); reported when it is needed.
    problem: str | None = None

    @property
    def serves_api(self) -> bool:
        return any(event.get("Type") == "Api" for event in self.events.values())


def _image_handler(properties: dict, metadata: dict, root: Path) -> tuple[Path, str]:
    """The handler of an image function: ImageConfig.Command, else the Dockerfile's CMD."""
    context_dir = root / str(metadata.get("DockerContext", "."))
    dockerfile = context_dir / str(metadata.get("Dockerfile", "Dockerfile"))
    command = ((properties.get("ImageConfig") or {}).get("Command") or [None])[0]
    if command is None and dockerfile.is_file():
        found = re.search(r'^\s*CMD\s*\[\s*"([^"]+)"', dockerfile.read_text(encoding="utf-8"), re.MULTILINE)
        command = found.group(1) if found else None
    if not command:
        raise TemplateError(
            f"cannot tell the handler of the image function from {dockerfile}: "
            'give it a CMD ["app.lambda_handler"] or ImageConfig.Command in template.yaml'
        )
    # The function's directory is the Dockerfile's own when the context is wider (e.g. the repo root).
    module, _, function = str(command).rpartition(".")
    candidates = [dockerfile.parent / f"{module.replace('.', '/')}.py", context_dir / f"{module.replace('.', '/')}.py"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate, function
    raise TemplateError(f"the image function's handler {command!r} is not in {dockerfile.parent} or {context_dir}")


def function_specs(template: dict, root: Path) -> dict[str, FunctionSpec]:
    """Every serverless function in the template, with where its handler lives."""
    defaults = _globals_function(template)
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        problem = None
        if properties.get("PackageType") == "Image":
            try:
                module_file, handler_name = _image_handler(properties, resource.get("Metadata") or {}, root)
            except TemplateError as error:
                module_file, handler_name, problem = root / logical_id, "lambda_handler", str(error)
        else:
            code_uri = properties.get("CodeUri", defaults.get("CodeUri"))
            handler = properties.get("Handler", defaults.get("Handler"))
            if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
                raise TemplateError(f"{logical_id} needs a local CodeUri and a Handler like app.lambda_handler")
            module, _, handler_name = handler.rpartition(".")
            module_file = root / code_uri / f"{module.replace('.', '/')}.py"
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=module_file.parent,
            module_file=module_file,
            handler_name=handler_name,
            timeout_s=_plain_int(properties.get("Timeout", defaults.get("Timeout")), DEFAULT_TIMEOUT_S),
            memory_mb=_plain_int(properties.get("MemorySize", defaults.get("MemorySize")), DEFAULT_MEMORY_MB),
            events=properties.get("Events") or {},
            problem=problem,
        )
    return specs


class LambdaContext:
    """What a handler may read from Lambda's context object; the deadline is the function's timeout."""

    def __init__(self, function_name: str, memory_mb: int = DEFAULT_MEMORY_MB, timeout_s: int = DEFAULT_TIMEOUT_S,
                 region: str = "us-east-1"):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """A function's real handler, imported as Lambda imports it, with one environment per concurrent call.

    Lambda runs one invocation at a time in each execution environment, and handlers rely on it: their
    module-level state (a batch processor, say) belongs to the invocation in progress. The local
    stack calls a function from several threads (pollers' workers, concurrent requests), so each
    concurrent call gets an environment of its own (a separate import of the handler's module),
    imported when all are busy and reused when free, as Lambda reuses warm environments.

    Libraries are imported once per process, though, and Powertools' REST resolver keeps the request it
    is serving in class attributes (``BaseRouter.current_event``) and its context on the one ``app``:
    two requests at once would read each other's. So a function behind the API runs one call at a time.
    """

    def __init__(self, spec: FunctionSpec, region: str, handler: Callable[[dict, Any], Any] | None = None):
        self.spec = spec
        self.region = region
        self._given = handler  # a stand-in a test passes: shared by every environment
        self._idle: list[Callable[[dict, Any], Any]] = []
        self._environments = 0
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock() if spec.serves_api else None

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def load(self) -> None:
        """Import the handler now: a broken one should stop start-up, not fail the first request."""
        self._release(self._acquire())

    def invoke(self, event: dict) -> Any:
        if self._one_at_a_time is None:
            return self._invoke(event)
        with self._one_at_a_time:
            return self._invoke(event)

    def _invoke(self, event: dict) -> Any:
        handler = self._acquire()
        try:
            context = LambdaContext(self.spec.logical_id, self.spec.memory_mb, self.spec.timeout_s, self.region)
            return handler(event, context)
        finally:
            self._release(handler)

    def _acquire(self) -> Callable[[dict, Any], Any]:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._environments += 1
            environment = self._environments
        return self._given or _import_handler(self.spec, environment)

    def _release(self, handler: Callable[[dict, Any], Any]) -> None:
        with self._lock:
            self._idle.append(handler)


def import_module_file(path: Path, environment: int = 1) -> ModuleType:
    """A function's ``app.py`` imported by file path, once per process and execution environment.

    Every function's module is called ``app`` in Lambda, so each gets a name derived from its folder
    here; the local stack's first environment and the tests share these modules.
    """
    module_name = f"_midiscribe_function_{path.parent.name}_{path.stem}"
    if environment > 1:
        module_name += f"_environment{environment}"
    module = sys.modules.get(module_name)
    if module is None:
        import_spec = importlib.util.spec_from_file_location(module_name, path)
        if import_spec is None or import_spec.loader is None:
            raise TemplateError(f"cannot import {path}")
        module = importlib.util.module_from_spec(import_spec)
        sys.modules[module_name] = module
        try:
            import_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
    return module


def _import_handler(spec: FunctionSpec, environment: int) -> Callable[[dict, Any], Any]:
    if spec.problem:
        raise TemplateError(f"{spec.logical_id}: {spec.problem}")
    if not spec.module_file.is_file():
        raise TemplateError(f"{spec.logical_id}'s handler file {spec.module_file} does not exist yet")
    module = import_module_file(spec.module_file, environment)
    handler = getattr(module, spec.handler_name, None)
    if not callable(handler):
        raise TemplateError(f"{spec.module_file} has no function {spec.handler_name}()")
    return handler
