"""template.yaml against the code: lint, paths, environment, dependencies, queues and permissions.

The template is the deployment's single description; these tests fail when it and the repository
drift apart (a renamed handler, a setting the code reads but no function is given, a worker import
missing from the image, a queue that times out before its consumer does, a policy grown too wide).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import json
import re
import sys
from functools import cache
from pathlib import Path

import pytest

from midiscribe.local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
PACKAGE_ROOT = ROOT / "layers"
CONFIG_PY = PACKAGE_ROOT / "midiscribe" / "service" / "config.py"
EVENTS = ROOT / "events"
AUDIO_DISTRIBUTIONS = {"numpy", "onnxruntime", "soundfile", "soxr", "av", "mido"}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE_PATH)


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def functions(template: dict) -> dict[str, dict]:
    return resources_of(template, "AWS::Serverless::Function")


# ---------------------------------------------------------------------------------------- lint
def test_cfn_lint_finds_no_errors_or_warnings():
    from cfnlint.api import lint_file

    problems = [match for match in lint_file(TEMPLATE_PATH) if not match.rule.id.startswith("I")]
    assert problems == [], "\n".join(f"{m.rule.id} line {m.linenumber}: {m.message}" for m in problems)


# ---------------------------------------------------------------------------------------- paths
def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def test_globals_hold_nothing_that_breaks_image_functions(template):
    function_globals = template["Globals"]["Function"]
    for key in ("Runtime", "Handler", "CodeUri", "Layers"):
        assert key not in function_globals, f"Globals.Function.{key} would apply to the image function too"


@pytest.mark.parametrize("function_id", ["SubmitFunction", "AuthorizerFunction", "NotifyFunction"])
def test_zip_function_handler_code_and_layer_exist(template, function_id):
    properties = functions(template)[function_id]["Properties"]
    assert properties["Runtime"] == "python3.12"
    assert properties["Layers"] == [{"Ref": "SharedLayer"}]
    code_dir = ROOT / properties["CodeUri"]
    assert code_dir.is_dir(), f"{function_id}: CodeUri {properties['CodeUri']} does not exist"
    assert (code_dir / "requirements.txt").is_file(), f"{function_id}: sam build expects {code_dir}/requirements.txt"
    module, _, handler = properties["Handler"].rpartition(".")
    module_file = code_dir / f"{module.replace('.', '/')}.py"
    assert module_file.is_file(), f"{function_id}: handler file {module_file.relative_to(ROOT)} is missing"
    assert _defines(module_file, handler), f"{module_file.relative_to(ROOT)} defines no {handler}"


def test_layer_content_is_the_package_and_its_requirements(template):
    layer = template["Resources"]["SharedLayer"]
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "midiscribe" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()
    assert layer["Metadata"]["BuildMethod"] == "python3.12"


def _dockerfile(template) -> tuple[Path, Path, str]:
    metadata = template["Resources"]["TranscribeFunction"]["Metadata"]
    context = ROOT / metadata["DockerContext"]
    dockerfile = context / metadata["Dockerfile"]
    return context, dockerfile, dockerfile.read_text(encoding="utf-8")


def test_image_function_builds_from_existing_paths(template):
    properties = functions(template)["TranscribeFunction"]["Properties"]
    assert properties["PackageType"] == "Image"
    assert "Runtime" not in properties and "Handler" not in properties and "CodeUri" not in properties
    context, dockerfile, text = _dockerfile(template)
    assert dockerfile.is_file()
    assert re.search(r"^FROM public\.ecr\.aws/lambda/python:3\.12\b", text, re.MULTILINE)
    copies = re.findall(r"^COPY\s+(\S+)\s+\S+", text, re.MULTILINE)
    assert copies, "the Dockerfile copies nothing"
    for source in copies:
        assert (context / source).exists(), f"Dockerfile copies {source}, which is not in the build context"
    # What the image copies must not be excluded by .dockerignore (an allow-list).
    ignore = (context / ".dockerignore").read_text(encoding="utf-8").split()
    for source in copies:
        assert any(line.startswith("!") and source.startswith(line[1:].rstrip("/")) for line in ignore), source
    command = re.search(r'^CMD\s*\[\s*"([^"]+)"\s*\]', text, re.MULTILINE).group(1)
    module, _, handler = command.rpartition(".")
    handler_file = dockerfile.parent / f"{module}.py"
    assert handler_file.is_file(), f"the image's CMD names {command}, but {handler_file} is missing"
    assert _defines(handler_file, handler)


def test_image_fetches_and_checks_the_model_at_build_time(template):
    _, _, text = _dockerfile(template)
    assert "fetch_model" in text and "verify_model" in text
    model_path = re.search(r"^ENV MIDISCRIBE_MODEL_PATH=(\S+)", text, re.MULTILINE).group(1)
    assert model_path in text.split("ENV MIDISCRIBE_MODEL_PATH=", 1)[1].split("\n", 1)[1], (
        "the model must be fetched to the path MIDISCRIBE_MODEL_PATH points at"
    )
    model_source = (PACKAGE_ROOT / "midiscribe" / "engine" / "model.py").read_text(encoding="utf-8")
    assert '"MIDISCRIBE_MODEL_PATH"' in model_source


# ---------------------------------------------------------------------------------------- environment
def _template_variables(template: dict) -> set[str]:
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in functions(template).values():
        names |= set((resource["Properties"].get("Environment") or {}).get("Variables") or {})
    return names


def test_every_setting_config_reads_is_given_by_the_template_and_back(template):
    read_by_config = set(re.findall(r'"(MIDISCRIBE_[A-Z0-9_]+)"', CONFIG_PY.read_text(encoding="utf-8")))
    in_template = {name for name in _template_variables(template) if name.startswith("MIDISCRIBE_")}
    assert read_by_config, "config.py names no MIDISCRIBE_* variables?"
    assert in_template - read_by_config == set(), "the template sets variables nothing reads"
    assert read_by_config - in_template == set(), "config.py reads variables no function is given"


def test_powertools_is_configured_for_every_function(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "midiscribe"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "midiscribe"
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


def test_worker_max_receive_setting_matches_the_queue(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    redrive = template["Resources"]["TranscribeQueue"]["Properties"]["RedrivePolicy"]
    assert int(variables["MIDISCRIBE_TRANSCRIBE_MAX_RECEIVE"]) == int(redrive["maxReceiveCount"])


# ---------------------------------------------------------------------------------------- dependencies
def _module_file(name: str) -> Path | None:
    path = PACKAGE_ROOT.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try:`` whose handlers catch ImportError (or broader): the code copes without it."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                caught = handler.type
                names = {getattr(caught, "id", None)} if not isinstance(caught, ast.Tuple) else {
                    getattr(element, "id", None) for element in caught.elts}
                if caught is None or names & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}:
                    return True
        child, parent = parent, parents.get(parent)
    return False


def _imports(path: Path, module_name: str, *, at_import_time: bool) -> set[str]:
    """Modules ``path`` imports: at import time only (module level), or anywhere unless guarded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        enclosing = parents.get(node)
        inside_function = False
        while enclosing is not None:
            if isinstance(enclosing, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inside_function = True
                break
            enclosing = parents.get(enclosing)
        if at_import_time and inside_function:
            continue
        if _guarded(node, parents):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        if node.level:
            base = module_name.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        found.add(target)
        found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def third_party_imports(entry: Path, *, at_import_time: bool, extra_modules: tuple[str, ...] = ()) -> set[str]:
    """Top-level third-party modules reachable from ``entry`` through midiscribe modules."""
    seen: set[str] = set()
    third_party: set[str] = set()
    pending = [(entry, "app")] + [(_module_file(m), m) for m in extra_modules if _module_file(m)]
    while pending:
        path, name = pending.pop()
        for imported in _imports(path, name, at_import_time=at_import_time):
            top = imported.split(".")[0]
            if top == "midiscribe":
                parts = imported.split(".")
                for end in range(1, len(parts) + 1):
                    module = ".".join(parts[:end])
                    module_path = _module_file(module)
                    if module_path and module not in seen:
                        seen.add(module)
                        pending.append((module_path, module))
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> dict[str, set[str]]:
    """``name -> extras`` of a requirements file (comments and pins ignored)."""
    names: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.match(r"([A-Za-z0-9_.-]+)(?:\[([^\]]+)\])?", line)
        names[_normalise(found.group(1))] = {e.strip() for e in (found.group(2) or "").split(",") if e.strip()}
    return names


def installed_closure(requirements: dict[str, set[str]]) -> set[str]:
    """The requirements plus everything they pull in (from the installed packages' metadata)."""
    from packaging.requirements import Requirement

    closure: set[str] = set()
    pending = [(name, extras) for name, extras in requirements.items()]
    while pending:
        name, extras = pending.pop()
        if name in closure and not extras:
            continue
        closure.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            child = _normalise(requirement.name)
            if child not in closure:
                pending.append((child, set(requirement.extras)))
    return closure


def distributions_for(modules: set[str]) -> dict[str, set[str]]:
    mapping = importlib.metadata.packages_distributions()
    return {module: {_normalise(d) for d in mapping.get(module, [])} for module in modules}


def _uncovered(modules: set[str], requirements_file: Path) -> dict[str, set[str]]:
    provided = installed_closure(requirement_names(requirements_file))
    return {
        module: dists
        for module, dists in distributions_for(modules).items()
        if not dists or not (dists & provided)
    }


IMPORT_WITH_ONLY_ALLOWED_PACKAGES = """
import importlib.abc, importlib.machinery, json, os, sys
allowed = set(json.loads(os.environ["ALLOWED_MODULES"]))

class OnlyTheLayer(importlib.abc.MetaPathFinder):
    # Installed packages outside the layer's requirements cannot be imported (the stdlib can).

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in allowed:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and "site-packages" in str(spec.origin or spec.submodule_search_locations):
            raise ImportError(f"{name} is imported but not provided by layers/requirements.in")
        return None

sys.meta_path.insert(0, OnlyTheLayer())
sys.path.insert(0, os.environ["FUNCTION_DIR"])
import app
assert callable(app.lambda_handler)
"""


@pytest.mark.parametrize("function", ["submit", "authorizer", "notify"])
def test_zip_function_imports_with_only_the_shared_layer(function):
    """Import the handler in a fresh interpreter where only the layer's packages can be imported."""
    import subprocess

    provided = installed_closure(requirement_names(ROOT / "layers" / "requirements.in"))
    allowed = sorted(
        module for module, dists in importlib.metadata.packages_distributions().items()
        if {_normalise(d) for d in dists} & provided
    )
    function_dir = ROOT / "functions" / function
    assert (function_dir / "app.py").is_file(), f"functions/{function}/app.py is missing"
    environment = {
        "PATH": "/usr/bin:/bin", "ALLOWED_MODULES": json.dumps(allowed), "FUNCTION_DIR": str(function_dir),
        "PYTHONPATH": str(PACKAGE_ROOT), "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true", "POWERTOOLS_SERVICE_NAME": "midiscribe",
        "POWERTOOLS_TRACE_DISABLED": "true", "MIDISCRIBE_KEYS_TABLE": "keys", "MIDISCRIBE_TASKS_TABLE": "tasks",
        "MIDISCRIBE_BUCKET": "bucket",
    }
    result = subprocess.run([sys.executable, "-c", IMPORT_WITH_ONLY_ALLOWED_PACKAGES], env=environment,
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    # The traceback's midiscribe frames show which import chain pulls the package in.
    chain = [line.strip() for line in result.stderr.splitlines() if "File " in line and "midiscribe" in line]
    assert result.returncode == 0, (
        f"functions/{function}/app.py cannot start with only the shared layer's packages: "
        f"{(result.stderr.strip().splitlines() or [''])[-1]}\nimport chain:\n" + "\n".join(chain)
    )


def test_shared_layer_has_no_audio_engine_libraries():
    provided = installed_closure(requirement_names(ROOT / "layers" / "requirements.in"))
    assert provided & AUDIO_DISTRIBUTIONS == set(), "the zip functions must stay small: no audio libraries"


SET_UP_ONLY_ENGINE_MODULES = {"model_graph"}


def worker_engine_modules() -> tuple[str, ...]:
    """Every top-level engine module the worker may run: all of them but the set-up-only ones."""
    return tuple(
        f"midiscribe.engine.{path.stem}" for path in (PACKAGE_ROOT / "midiscribe" / "engine").glob("*.py")
        if path.stem not in SET_UP_ONLY_ENGINE_MODULES
    )


def test_set_up_only_engine_modules_are_not_reached_by_the_worker_and_are_built_in_its_image():
    engine_modules = worker_engine_modules()
    reached = set(_imports(ROOT / "functions" / "transcribe" / "app.py", "app", at_import_time=False))
    for module in engine_modules:
        reached |= set(_imports(_module_file(module), module, at_import_time=False))
    assert not {f"midiscribe.engine.{name}" for name in SET_UP_ONLY_ENGINE_MODULES} & reached
    dockerfile = (ROOT / "functions" / "transcribe" / "Dockerfile").read_text()
    assert "from midiscribe.engine.model_graph import ensure_built" in dockerfile


def test_transcribe_image_holds_what_the_worker_imports():
    entry = ROOT / "functions" / "transcribe" / "app.py"
    assert entry.is_file(), "functions/transcribe/app.py is missing"
    # The worker runs the whole engine, whichever way the handler reaches it, but for what only set-up runs:
    # the AVX-512 graph's build (onnx, installed in the image's build step only), which nothing there imports.
    modules = third_party_imports(entry, at_import_time=False, extra_modules=worker_engine_modules())
    assert {"numpy", "onnxruntime"} <= modules
    assert _uncovered(modules, ROOT / "functions" / "transcribe" / "requirements.in") == {}
    image = requirement_names(ROOT / "functions" / "transcribe" / "requirements.in")
    assert AUDIO_DISTRIBUTIONS <= set(image), "the image needs every engine library"


# ---------------------------------------------------------------------------------------- queues
def _sqs_sources(template):
    for function_id, resource in functions(template).items():
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "SQS":
                yield function_id, resource["Properties"], event["Properties"]


def test_each_queue_outlasts_its_consumer_and_has_a_dead_letter_queue(template):
    sources = list(_sqs_sources(template))
    consumed = {queue["Queue"]["Fn::GetAtt"][0] for _, _, queue in sources}
    assert consumed == {"TranscribeQueue", "NotifyQueue", "TranscribeDLQ"}
    for function_id, function_properties, event in sources:
        queue_id = event["Queue"]["Fn::GetAtt"][0]
        queue = template["Resources"][queue_id]["Properties"]
        timeout = int(function_properties["Timeout"])
        assert int(queue["VisibilityTimeout"]) >= 6 * timeout, f"{queue_id} visibility < 6 x {function_id} timeout"
        assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        if queue_id.endswith("DLQ"):
            continue  # the last stop: drained to fail its tasks, with no dead-letter queue of its own
        redrive = queue["RedrivePolicy"]
        dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert template["Resources"][dlq_id]["Type"] == "AWS::SQS::Queue"
        assert 1 <= int(redrive["maxReceiveCount"]) <= 10
        # A dead letter must outlive the message it was: retention of the DLQ >= the queue's.
        assert int(template["Resources"][dlq_id]["Properties"]["MessageRetentionPeriod"]) >= int(
            queue["MessageRetentionPeriod"])


def test_notify_function_outlasts_a_full_batch_of_slow_webhooks(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    notify = functions(template)["NotifyFunction"]["Properties"]
    batch_size = int(notify["Events"]["NotifyMessages"]["Properties"]["BatchSize"])
    assert int(notify["Timeout"]) > batch_size * float(variables["MIDISCRIBE_WEBHOOK_TIMEOUT_S"])


def test_webhook_links_point_at_this_stacks_api_stage(template):
    """Payload links are GET /v1/files/… on the API itself, which must be the ApiUrl output's base."""
    notify = functions(template)["NotifyFunction"]["Properties"]
    public_url = notify["Environment"]["Variables"]["MIDISCRIBE_PUBLIC_API_URL"]
    assert public_url == template["Outputs"]["ApiUrl"]["Value"]
    assert public_url == {"Fn::Sub": "https://${MidiscribeApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"}
    assert template["Resources"]["MidiscribeApi"]["Properties"]["StageName"] == {"Ref": "Stage"}


def test_dead_letter_queues_and_worker_errors_raise_alarms(template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    watched = set()
    for alarm in alarms:
        for dimension in alarm["Properties"]["Dimensions"]:
            value = dimension["Value"]
            watched.add(value.get("Fn::GetAtt", [value.get("Ref")])[0])
    assert {"TranscribeDLQ", "NotifyDLQ", "TranscribeFunction"} <= watched


# ---------------------------------------------------------------------------------------- permissions
def _resource_reference(resource) -> tuple[str, str]:
    """``!GetAtt X.Arn`` -> (X, ""); ``!Sub "${X.Arn}/uploads/*"`` -> (X, "/uploads/*")."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0], ""
    if isinstance(resource, dict) and "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        found = re.fullmatch(r"\$\{(\w+)\.Arn\}(.*)", resource["Fn::Sub"])
        if found:
            return found.group(1), found.group(2)
    raise AssertionError(f"policy resource {resource!r} is not an ARN of a resource in this template")


def granted(template: dict, function_id: str) -> set[tuple[str, str, str]]:
    grants = set()
    for policy in functions(template)[function_id]["Properties"].get("Policies", []):
        assert set(policy) == {"Statement"}, f"{function_id}: use explicit statements, not {sorted(policy)}"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                assert "*" not in action, f"{function_id}: wildcard action {action}"
                for target in targets:
                    assert target != "*", f"{function_id}: {action} on every resource"
                    grants.add((action, *_resource_reference(target)))
    return grants


TASKS = "TasksTable"
KEYS = "ApiKeysTable"
IDEMPOTENCY = "IdempotencyTable"
BUCKET = "DataBucket"
LEAST_PRIVILEGE = {
    "AuthorizerFunction": {("dynamodb:GetItem", KEYS, "")},
    "SubmitFunction": {
        ("dynamodb:GetItem", TASKS, ""),
        ("dynamodb:PutItem", TASKS, ""),
        ("dynamodb:UpdateItem", TASKS, ""),
        ("dynamodb:Query", TASKS, "/index/by_owner"),
        ("dynamodb:Query", TASKS, "/index/by_conversion"),
        # Powertools' idempotency records: write, read back, complete, and delete after a failure.
        ("dynamodb:GetItem", IDEMPOTENCY, ""),
        ("dynamodb:PutItem", IDEMPOTENCY, ""),
        ("dynamodb:UpdateItem", IDEMPOTENCY, ""),
        ("dynamodb:DeleteItem", IDEMPOTENCY, ""),
        # A signed file link is checked with the task owner's webhook secret.
        ("dynamodb:Query", KEYS, "/index/by_key_id"),
        ("s3:PutObject", BUCKET, "/uploads/*"),
        ("s3:GetObject", BUCKET, "/*"),
        ("s3:ListBucket", BUCKET, ""),
        ("sqs:SendMessage", "TranscribeQueue", ""),
        ("sqs:SendMessage", "NotifyQueue", ""),
    },
    "TranscribeFunction": {
        ("dynamodb:GetItem", TASKS, ""),
        ("dynamodb:PutItem", TASKS, ""),
        ("dynamodb:UpdateItem", TASKS, ""),
        ("s3:GetObject", BUCKET, "/*"),
        ("s3:ListBucket", BUCKET, ""),
        ("s3:PutObject", BUCKET, "/results/*"),
        ("s3:AbortMultipartUpload", BUCKET, "/results/*"),
        ("sqs:SendMessage", "NotifyQueue", ""),
    },
    "NotifyFunction": {
        ("dynamodb:GetItem", TASKS, ""),
        ("dynamodb:UpdateItem", TASKS, ""),
        ("dynamodb:Query", KEYS, "/index/by_key_id"),
        ("s3:GetObject", BUCKET, "/results/*"),
        ("sqs:SendMessage", "NotifyQueue", ""),
        ("sqs:SendMessage", "NotifyDLQ", ""),
    },
}


@pytest.mark.parametrize("function_id", sorted(LEAST_PRIVILEGE))
def test_each_function_may_touch_only_what_it_needs(template, function_id):
    assert granted(template, function_id) == LEAST_PRIVILEGE[function_id]


def test_only_the_authorizer_notifier_and_file_links_can_read_api_keys(template):
    for function_id in functions(template):
        touches_keys = any(target == KEYS for _, target, _ in granted(template, function_id))
        assert touches_keys == (function_id in {"AuthorizerFunction", "NotifyFunction", "SubmitFunction"}), function_id
    # The API reads a key by its id only (for a file link's secret), never looks keys up by hash.
    assert {(action, path) for action, target, path in granted(template, "SubmitFunction") if target == KEYS} == {
        ("dynamodb:Query", "/index/by_key_id")
    }


# ---------------------------------------------------------------------------------------- API
def test_api_is_authorized_by_default_with_public_health_and_docs(template):
    api = template["Resources"]["MidiscribeApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "ApiKeyAuthorizer"
    authorizer = api["Auth"]["Authorizers"]["ApiKeyAuthorizer"]
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    assert {"multipart~1form-data", "audio~1*", "application~1octet-stream"} <= set(api["BinaryMediaTypes"])
    assert "AccessLogSetting" in api and api["MethodSettings"][0]["ThrottlingRateLimit"]
    public = {(method, path) for method, path, authorized in api_events(template) if not authorized}
    assert {(method, path) for method, path in public if method != "ANY"} == {
        ("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/swagger"), ("GET", "/v1/files/{task_id}/{name}"),
        ("GET", "/"), ("GET", "/explorer"), ("GET", "/explorer/{asset}")}
    usage_plan = resources_of(template, "AWS::ApiGateway::UsagePlan")
    assert len(usage_plan) == 1


def api_events(template: dict) -> list[tuple[str, str, bool]]:
    """SubmitFunction's Api events as (method, path, authorized)."""
    events = functions(template)["SubmitFunction"]["Properties"]["Events"]
    return [(e["Properties"]["Method"].upper(), e["Properties"]["Path"],
             e["Properties"].get("Auth", {}).get("Authorizer") != "NONE") for e in events.values() if e["Type"] == "Api"]


def test_the_template_declares_exactly_the_apis_routes_and_an_any_method_on_each(template):
    """No greedy {proxy+}: API Gateway answers unknown paths itself (404 with or without a key), and a
    route the code serves but the template forgot would not be reachable. Every other method of a
    path reaches the function unauthenticated, which answers 405 with Allow (HEAD where GET is)."""
    from midiscribe.api.app import openapi_json

    served = {(method.upper(), path) for path, item in json.loads(openapi_json())["paths"].items()
              for method in item if method.upper() != "HEAD"}
    # Not in the document: the document itself, and the pages for people rather than programs.
    served |= {("GET", "/openapi.json"), ("GET", "/swagger"), ("GET", "/"), ("GET", "/explorer"),
               ("GET", "/explorer/{asset}")}
    events = api_events(template)
    declared = {(method, path) for method, path, _ in events if method not in ("ANY", "HEAD")}
    assert declared == served, f"in the code only: {served - declared}; in the template only: {declared - served}"
    # HEAD is GET without the body; where GET needs a key, HEAD goes through the authorizer too (through the
    # unauthenticated ANY, a good key was never checked and the answer was 401).
    keyed_gets = {path for method, path, authorized in events if method == "GET" and authorized}
    assert {path for method, path, authorized in events if method == "HEAD" and authorized} == keyed_gets
    assert all(authorized for method, path, authorized in events if method == "HEAD")
    assert {path for method, path, authorized in events if method == "ANY" and not authorized} == {
        path for _, path in served}
    assert all(method != "ANY" for method, path, authorized in events if authorized)
    assert not any("+}" in path for _, path, _ in events)


def test_bucket_is_private_encrypted_tls_only_and_expires_outputs(template):
    bucket = template["Resources"]["DataBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = {rule.get("Prefix"): rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    for prefix in ("uploads/", "results/"):
        assert rules[prefix]["ExpirationInDays"] == {"Ref": "RetentionDays"}
    assert template["Parameters"]["RetentionDays"]["Default"] == 14
    policy = template["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"]["Bool"]["aws:SecureTransport"] == "false"


def test_outputs_give_a_deployer_what_they_need(template):
    assert {"ApiUrl", "BucketName", "TasksTableName", "KeysTableName", "UsagePlanId", "TranscribeQueueUrl",
            "NotifyQueueUrl"} <= set(template["Outputs"])


# ---------------------------------------------------------------------------------------- events
@cache
def _events() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(EVENTS.glob("*.json"))}


def test_there_is_a_sample_event_for_each_function_and_trigger():
    names = set(_events())
    assert {"api_health", "api_openapi", "api_swagger", "api_audio_to_midi_multipart", "api_audio_to_midi_url_form",
            "api_audio_to_midi_path_json", "api_audio_to_midi_curl", "api_by_id", "authorizer_request",
            "sqs_transcribe", "sqs_s3_inbox", "sqs_s3_test_event", "sqs_notify"} <= names


@pytest.mark.parametrize("name", [n for n in _events() if n.startswith("api_")])
def test_api_events_are_rest_proxy_events_for_routes_the_template_serves(template, name):
    event = _events()[name]
    assert set(event) >= {"resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
                          "pathParameters", "requestContext", "body", "isBase64Encoded"}
    authorized = {(method, path): authorized for method, path, authorized in api_events(template)}
    public = not authorized[(event["httpMethod"], event["resource"])]
    assert ("authorizer" in event["requestContext"]) != public
    if not public:
        assert event["requestContext"]["authorizer"]["principalId"] == event["requestContext"]["authorizer"]["key_id"]
    if event["isBase64Encoded"]:
        body = base64.b64decode(event["body"], validate=True)
        assert int(event["headers"]["Content-Length"]) == len(body)


def test_multipart_sample_carries_a_real_wav_file():
    event = _events()["api_audio_to_midi_multipart"]
    body = base64.b64decode(event["body"])
    assert b'name="audio_file"; filename="audio.wav"' in body and b"RIFF" in body and b"WAVE" in body
    assert event["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")


@pytest.mark.parametrize("name", [n for n in _events() if n.startswith("sqs_")])
def test_sqs_events_match_their_queues(template, name):
    queue_for = {"sqs_transcribe": "TranscribeQueue", "sqs_s3_inbox": "TranscribeQueue",
                 "sqs_s3_test_event": "TranscribeQueue", "sqs_notify": "NotifyQueue"}
    for record in _events()[name]["Records"]:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].endswith(f"-{queue_for[name]}")
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        json.loads(record["body"])


# ---------------------------------------------------------------------------------------- samconfig
def test_samconfig_deploys_this_template_with_its_own_parameters(template):
    import shlex
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config["default"]["deploy"]["parameters"]
    assert config["default"]["global"]["parameters"]["stack_name"] == "midiscribe"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True and deploy["resolve_image_repos"] is True
    assert deploy["confirm_changeset"] is True
    for section in ("deploy", "local_invoke"):
        overrides = config["default"][section]["parameters"]["parameter_overrides"]
        for pair in shlex.split(overrides):
            name, _, value = pair.partition("=")
            assert name in template["Parameters"], f"samconfig {section} overrides unknown parameter {name}"
            allowed = template["Parameters"][name].get("AllowedValues")
            assert allowed is None or value in [str(option) for option in allowed], pair


# Variables deployed code may read that the template deliberately leaves unset, and why.
# Overrides whose default is right where the code runs: the piano model sits beside the basic-pitch
# model (the image sets MIDISCRIBE_MODEL_PATH), so its folder needs no variable of its own; the piano model runs
# its float32 network by default (off), and a deployment that wants the 8-bit one where its CPU has VNNI sets auto.
DELIBERATELY_UNSET: set[str] = {"MIDISCRIBE_PIANO_MODEL_DIR", "MIDISCRIBE_PIANO_INT8"}


def test_transcribe_dead_letters_are_drained_by_the_worker(template):
    """A task whose every attempt crashed (timeout, out of memory) must end FAILED, not stay PROCESSING."""
    worker = functions(template)["TranscribeFunction"]["Properties"]
    sources = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]: event["Properties"]
        for event in worker["Events"].values()
        if event["Type"] == "SQS"
    }
    assert set(sources) == {"TranscribeQueue", "TranscribeDLQ"}
    assert sources["TranscribeDLQ"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["Environment"]["Variables"]["MIDISCRIBE_TRANSCRIBE_DLQ_ARN"] == {
        "Fn::GetAtt": ["TranscribeDLQ", "Arn"]
    }


def test_every_setting_deployed_code_reads_is_set_where_it_runs(template):
    """Handlers and the service layers, not the local stack, CLI or client (they never run in Lambda)."""
    deployed = [*(ROOT / "functions").glob("*/app.py")]
    for part in ("domain", "service", "aws", "api", "net", "webhooks", "engine"):
        deployed += (PACKAGE_ROOT / "midiscribe" / part).rglob("*.py")
    read = set()
    for path in deployed:
        read |= set(re.findall(r'"(MIDISCRIBE_[A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    _, _, dockerfile = _dockerfile(template)
    set_by_image = set(re.findall(r"^ENV (MIDISCRIBE_[A-Z0-9_]+)=", dockerfile, re.MULTILINE))
    assert read - _template_variables(template) - set_by_image - DELIBERATELY_UNSET == set()


# ---------------------------------------------------------------------------------------- the SAM transform
@pytest.fixture(scope="module")
def transformed(template, monkeypatch_module) -> dict:
    """What `sam deploy` hands CloudFormation: the template after `sam package` and the SAM transform."""
    import copy

    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    packaged = copy.deepcopy(template)
    for name, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        # `sam package` replaces local paths with uploaded artifacts.
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://artifacts/{name}.zip"
        if properties.get("PackageType") == "Image":
            properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/midiscribe:transcribe"

    class ManagedPolicies:
        def load(self) -> dict[str, str]:
            names = {"AWSLambdaBasicExecutionRole": "service-role/", "AWSXrayWriteOnlyAccess": "",
                     "AWSLambdaSQSQueueExecutionRole": "service-role/"}
            return {name: f"arn:aws:iam::aws:policy/{path}{name}" for name, path in names.items()}

    try:
        return transform(packaged, {}, ManagedPolicies())
    except InvalidDocumentException as exc:
        pytest.fail("SAM cannot transform template.yaml: " + "; ".join(cause.message for cause in exc.causes))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_sam_transform_output_passes_cfn_lint(transformed):
    from cfnlint.api import lint

    problems = [m for m in lint(json.dumps(transformed)) if not m.rule.id.startswith("I")]
    assert problems == [], "\n".join(f"{m.rule.id}: {m.message}" for m in problems)


def test_transformed_api_authorizes_everything_but_the_public_routes(transformed):
    api = transformed["Resources"]["MidiscribeApi"]["Properties"]
    paths = api["Body"]["paths"]
    for path in ("/health", "/openapi.json", "/swagger", "/v1/files/{task_id}/{name}"):
        assert paths[path]["get"].get("security") == [], f"{path} must be public"
    assert "/{proxy+}" not in paths
    for path, method in (("/v1/audio_to_midi", "post"), ("/v1/byId", "get"), ("/api/v1/midi/generate", "post")):
        security = paths[path][method]["security"]
        assert {"ApiKeyAuthorizer": []} in security and {"api_key": []} in security, path
        assert paths[path]["x-amazon-apigateway-any-method"].get("security") == [], path
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    authorizer = api["Body"]["components"]["securitySchemes"]["ApiKeyAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert set(api["Body"]["x-amazon-apigateway-binary-media-types"]) >= {"multipart/form-data", "audio/*"}
    plan_stage = transformed["Resources"]["ApiUsagePlan"]["Properties"]["ApiStages"][0]["Stage"]
    assert plan_stage == {"Ref": "MidiscribeApiStage"}


def test_the_worker_and_the_command_run_numpys_blas_on_one_thread(template):
    """The engine splits its own products over the CPUs; an OpenBLAS pool beside its threads contends."""
    worker = functions(template)["TranscribeFunction"]["Properties"]
    assert worker["Environment"]["Variables"]["OPENBLAS_NUM_THREADS"] == "1"
    command = (PACKAGE_ROOT / "midiscribe" / "cli" / "__init__.py").read_text(encoding="utf-8")
    assert 'os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")' in command


def test_the_workers_scratch_space_is_one_parameter_that_submit_checks_against(template):
    """Submit refuses inputs that would not fit in the worker's /tmp, so both must read the same size."""
    from midiscribe.api.limits import MAX_STEMS
    from midiscribe.service.config import Settings

    worker = functions(template)["TranscribeFunction"]["Properties"]
    assert worker["EphemeralStorage"] == {"Size": {"Ref": "WorkerScratchMB"}}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MIDISCRIBE_WORKER_SCRATCH_MB"] == {"Ref": "WorkerScratchMB"}
    parameter = template["Parameters"]["WorkerScratchMB"]
    assert parameter["Default"] == Settings().worker_scratch_mb
    assert (parameter["MinValue"], parameter["MaxValue"]) == (512, 10240)  # Lambda's own bounds
    # With the default limits (the most stems a request takes, each of MaxUploadMB, an hour of audio) the inputs fit.
    settings = Settings(max_upload_mb=template["Parameters"]["MaxUploadMB"]["Default"],
                        max_duration_s=template["Parameters"]["MaxDurationSeconds"]["Default"])
    assert MAX_STEMS * settings.max_upload_bytes <= settings.input_budget_bytes()
