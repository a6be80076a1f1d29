"""The OpenAPI document: generated from the routes, checked in at the repository root, served publicly."""

from __future__ import annotations

import json
import subprocess
import sys

from apigw_events import REPOSITORY_ROOT, call, rest_event

from midiscribe.api.openapi import document, main
from midiscribe.engine.options import GENERAL_MODEL_OPTIONS, MODELS_KEYWORD, TranscriptionOptions


def test_checked_in_openapi_json_is_current() -> None:
    assert (REPOSITORY_ROOT / "openapi.json").read_text(encoding="utf-8") == document(), (
        "openapi.json is stale: run `make openapi` (python -m midiscribe.api.openapi --write openapi.json)"
    )


def test_check_flag_reports_a_stale_copy(tmp_path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    assert main(["--check", str(stale)]) == 1
    assert main(["--write", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0


def test_module_runs_as_documented(tmp_path) -> None:
    target = tmp_path / "spec.json"
    subprocess.run([sys.executable, "-m", "midiscribe.api.openapi", "--write", str(target)], check=True,
                   cwd=tmp_path, capture_output=True)
    assert json.loads(target.read_text())["openapi"].startswith("3.1")


def test_document_describes_every_route_and_error_envelope() -> None:
    spec = json.loads(document())
    paths = spec["paths"]
    for path, method in [("/v1/audio_to_midi", "post"), ("/v1/byId", "get"), ("/v1/file_convert", "post"),
                         ("/v1/uploads", "post"), ("/api/v1/midi/generate", "post"),
                         ("/api/v1/midi/record-info", "get"), ("/health", "get")]:
        assert method in paths[path], path
    submit = paths["/v1/audio_to_midi"]["post"]
    assert set(submit["requestBody"]["content"]) == {
        "multipart/form-data", "application/x-www-form-urlencoded", "application/json"}
    form = submit["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert form["audio_file"]["format"] == "binary" and "onset_threshold" in form
    assert {"400", "401", "404", "413", "415", "429", "500"} <= set(submit["responses"])
    assert "422" not in paths["/v1/byId"]["get"]["responses"]  # invalid parameters are 400 here
    assert paths["/health"]["get"]["security"] == []
    assert spec["security"] == [{"ApiKeyAuth": []}]
    assert spec["components"]["securitySchemes"]["ApiKeyAuth"] == {"type": "apiKey", "in": "header",
                                                                   "name": "Authorization"}


def test_options_of_the_general_model_only_are_marked_in_every_request_shape() -> None:
    """x-models names the transcribers an option applies to: the explorer disables the rest's options."""
    submit = json.loads(document())["paths"]["/v1/audio_to_midi"]["post"]["requestBody"]["content"]
    schemas = json.loads(document())["components"]["schemas"]
    for content_type, content in submit.items():
        schema = content["schema"]
        properties = (schemas[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema)["properties"]
        marked = {name for name, field in properties.items() if field.get(MODELS_KEYWORD) == ["general"]}
        assert marked == set(GENERAL_MODEL_OPTIONS), content_type
        assert MODELS_KEYWORD not in properties["quantize"] and MODELS_KEYWORD not in properties["model"]
    assert set(GENERAL_MODEL_OPTIONS) < set(TranscriptionOptions.model_fields)


def test_openapi_and_swagger_are_served_without_a_key() -> None:
    status, body = call(rest_event("GET", "/openapi.json", key_id=None))
    assert status == 200 and body == json.loads(document())
    status, html = call(rest_event("GET", "/swagger", key_id=None))
    assert status == 200 and "swagger" in html.lower()
    status, spec = call(rest_event("GET", "/swagger", query={"format": "json"}, key_id=None))
    assert status == 200 and spec["paths"].keys() == json.loads(document())["paths"].keys()
