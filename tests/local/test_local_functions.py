"""How the local stack finds and runs each function of the template, zip and image alike."""

from __future__ import annotations

import pytest

from midiscribe.local.functions import LocalFunction, function_specs
from midiscribe.local.stack import find_repository_root
from midiscribe.local.template import TemplateError, load_template


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_zip_and_image_handlers_are_found_and_kept_apart(tmp_path):
    write(tmp_path / "functions/api/app.py", "def lambda_handler(event, context):\n    return ('api', event)\n")
    write(tmp_path / "functions/worker/app.py",
          "def lambda_handler(event, context):\n    return ('worker', context.function_name,"
          " context.get_remaining_time_in_millis() > 0)\n")
    write(tmp_path / "functions/worker/Dockerfile", 'FROM scratch\nCOPY app.py ./\nCMD ["app.lambda_handler"]\n')
    template = {"Globals": {"Function": {"Timeout": 7}}, "Resources": {
        "Api": {"Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "functions/api/", "Handler": "app.lambda_handler"}},
        "Worker": {"Type": "AWS::Serverless::Function", "Properties": {"PackageType": "Image", "Timeout": 900},
                   "Metadata": {"Dockerfile": "functions/worker/Dockerfile", "DockerContext": "."}},
    }}
    specs = function_specs(template, tmp_path)
    assert specs["Api"].timeout_s == 7 and specs["Worker"].timeout_s == 900
    assert specs["Worker"].module_file == tmp_path / "functions/worker/app.py"
    # Both modules are called app; each function still gets its own.
    assert LocalFunction(specs["Api"], "us-east-1").invoke({"n": 1}) == ("api", {"n": 1})
    assert LocalFunction(specs["Worker"], "us-east-1").invoke({}) == ("worker", "Worker", True)


def test_a_missing_handler_is_reported_when_it_is_needed(tmp_path):
    template = {"Resources": {"Worker": {"Type": "AWS::Serverless::Function", "Properties": {"PackageType": "Image"},
                                         "Metadata": {"Dockerfile": "functions/worker/Dockerfile"}}}}
    spec = function_specs(template, tmp_path)["Worker"]
    assert spec.problem and "CMD" in spec.problem
    with pytest.raises(TemplateError, match="Worker"):
        LocalFunction(spec, "us-east-1").invoke({})


def test_every_function_of_the_real_template_resolves_to_a_handler_file():
    root = find_repository_root()
    specs = function_specs(load_template(root / "template.yaml"), root)
    assert {"SubmitFunction", "AuthorizerFunction", "TranscribeFunction", "NotifyFunction"} <= set(specs)
    for spec in specs.values():
        assert spec.problem is None, spec.problem
        assert spec.module_file.is_file(), spec.module_file


def test_concurrent_calls_each_get_an_environment_and_free_ones_are_reused(tmp_path):
    import threading

    write(tmp_path / "functions/batch/app.py",
          "import threading, time\n"
          "state = {'busy': False}  # module-level, as a batch processor is\n"
          "def lambda_handler(event, context):\n"
          "    assert not state['busy'], 'two invocations shared one environment'\n"
          "    state['busy'] = True\n"
          "    time.sleep(event['sleep'])\n"
          "    state['busy'] = False\n"
          "    return id(state)\n")
    template = {"Resources": {"Batch": {"Type": "AWS::Serverless::Function",
                                        "Properties": {"CodeUri": "functions/batch/", "Handler": "app.lambda_handler"}}}}
    function = LocalFunction(function_specs(template, tmp_path)["Batch"], "us-east-1")
    function.load()
    seen: list[int] = []
    callers = [threading.Thread(target=lambda: seen.append(function.invoke({"sleep": 0.3}))) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(seen) == 3 and len(set(seen)) == 3  # three at once: three environments
    assert function.invoke({"sleep": 0}) in seen  # later calls reuse a warm one
