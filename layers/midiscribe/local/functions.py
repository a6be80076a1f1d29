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

from .resources import TemplateError, load_template

__all__ = [
    "FunctionSpec", "LambdaContext", "LocalFunction", "TemplateError", "function_specs", "import_module_file",
    "load_template",
]

ACCOUNT_ID = "123456789012"
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128


def logical_id_of(reference: Any) -> str | None:
    """The resource a ``!Ref X`` / ``!GetAtt X.Arn`` / ``!Sub ${X.Arn}`` points at, if any."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            target = reference["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
        if "Fn::Sub" in reference:
            text = reference["Fn::Sub"]
            text = text[0] if isinstance(text, list) else text
            found = re.search(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}", str(text))
            return found.group(1) if found else None
    return None


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
    """A function's real handler, imported on first use and invoked like Lambda invokes it."""

    def __init__(self, spec: FunctionSpec, region: str, handler: Callable[[dict, Any], Any] | None = None):
        self.spec = spec
        self.region = region
        self._handler = handler
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def handler(self) -> Callable[[dict, Any], Any]:
        with self._lock:
            if self._handler is None:
                self._handler = _import_handler(self.spec)
            return self._handler

    def invoke(self, event: dict) -> Any:
        context = LambdaContext(self.spec.logical_id, self.spec.memory_mb, self.spec.timeout_s, self.region)
        return self.handler()(event, context)


def import_module_file(path: Path) -> ModuleType:
    """A function's ``app.py`` imported by file path, once per process.

    Every function's module is called ``app`` in Lambda, so each gets a name derived from its folder
    here; the local stack and the tests share these modules.
    """
    module_name = f"_midiscribe_function_{path.parent.name}_{path.stem}"
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


def _import_handler(spec: FunctionSpec) -> Callable[[dict, Any], Any]:
    if spec.problem:
        raise TemplateError(f"{spec.logical_id}: {spec.problem}")
    if not spec.module_file.is_file():
        raise TemplateError(f"{spec.logical_id}'s handler file {spec.module_file} does not exist yet")
    module = import_module_file(spec.module_file)
    handler = getattr(module, spec.handler_name, None)
    if not callable(handler):
        raise TemplateError(f"{spec.module_file} has no function {spec.handler_name}()")
    return handler
