"""What the OpenAPI document says beyond what Powertools derives from the routes themselves.

Request bodies are documented from the request models (``midiscribe.api.requests``) for each
content type the body parser reads; responses from the response models (``midiscribe.api.responses``)
and the error map (``midiscribe.api.errors``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import Parameter
from pydantic import BaseModel

from . import idempotency
from .errors import DESCRIPTIONS, KIE_PREFIX
from .fields import NOT_BLANK
from .responses import ErrorResponse, KieErrorResponse

PUBLIC = {"security": []}  # operation-level override of the global API key requirement


# Every POST takes it (``midiscribe.api.idempotency``), and may answer these because of it.
IDEMPOTENCY_KEY = Parameter.model_validate({
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Send the same key again (with the same request) to get the first answer again instead of a second "
        "task; the key is yours alone and kept for a day."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_CHARS,
               "pattern": "^[!-~]+$"},
})
IDEMPOTENCY_ANSWERS = {
    409: "The first request with this Idempotency-Key is still being processed: retry in a moment",
    422: "This Idempotency-Key was used before with a different request",
}


class ApiResolver(APIGatewayRestResolver):
    """The Powertools resolver, with its generic 422 "Validation Error" answer taken out of the document
    (and no body documented for redirects), and the Idempotency-Key header on every POST.

    Invalid parameters are answered 400 with our error envelope (``midiscribe.api.errors``), so
    documenting Powertools' 422 shape would describe an answer the API never gives.
    """

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        for path, path_item in (schema.paths or {}).items():
            envelope = "KieErrorResponse" if path.startswith(KIE_PREFIX) else "ErrorResponse"
            for method in ("get", "put", "post", "delete", "patch"):
                operation = getattr(path_item, method, None)
                responses = getattr(operation, "responses", None) or {}
                for status, response in responses.items():
                    # Powertools gives every response a JSON content; a redirect has no body.
                    if 300 <= int(status) < 400:
                        if isinstance(response, dict):
                            response.pop("content", None)
                        else:
                            response.content = None
                generic = responses.get(422)
                if generic is not None and "HTTPValidationError" in str(generic):
                    del responses[422]
                    if not (operation.parameters or operation.requestBody):
                        continue
                    responses.setdefault(
                        400,
                        {
                            "description": DESCRIPTIONS[400],
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{envelope}"}}},
                        },
                    )
            post = getattr(path_item, "post", None)
            if post is not None:  # after Powertools' generic 422 is gone, so that ours takes its place
                _document_idempotency(post, envelope)
        return schema


def _document_idempotency(operation: Any, envelope: str) -> None:
    operation.parameters = [*(operation.parameters or []), IDEMPOTENCY_KEY]
    responses = operation.responses if operation.responses is not None else {}
    for status, description in IDEMPOTENCY_ANSWERS.items():
        responses.setdefault(status, {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{envelope}"}}},
        })
    operation.responses = responses


def ok(model: type[BaseModel], description: str, status: int = 200) -> dict[int, Any]:
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


def errors(*statuses: int, kie: bool = False, descriptions: dict[int, str] | None = None) -> dict[int, Any]:
    model = KieErrorResponse if kie else ErrorResponse
    said = {**DESCRIPTIONS, **(descriptions or {})}
    return {status: {"description": said[status], "content": {"application/json": {"model": model}}} for status in statuses}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its definitions inlined (request bodies are documented in place)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.split("/")[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


def _audio_source(name: str) -> dict[str, Any]:
    """The rule a body meets when ``name`` is its audio source.

    A file part counts as given whenever it is sent (and must not be empty); blank text counts as not given.
    """
    if name == "audio_file":
        return {"required": [name]}
    return {"required": [name], "properties": {name: {"type": "string", "pattern": NOT_BLANK}}}


def _without_null(body: dict[str, Any]) -> dict[str, Any]:
    """A form's fields are text (or files): JSON's null cannot be sent, and the word 'null' is not a null."""
    for name, field in (body.get("properties") or {}).items():
        choices = field.get("anyOf")
        if isinstance(choices, list) and {"type": "null"} in choices:
            kept = [choice for choice in choices if choice != {"type": "null"}]
            rest = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
            body["properties"][name] = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
    return body


def _stems_given(body: dict[str, Any]) -> dict[str, Any] | None:
    """The rule a body meets when it gives stems instead of one source: a ``stems`` list, or (multipart)
    at least one part whose name matches a stem part's pattern. None when the body takes no stems."""
    if "stems" not in (body.get("properties") or {}):
        return None
    # Given is a list, or (in a form) its JSON text; null and blank text count as not given.
    listed = {"anyOf": [{"type": "array"}, {"type": "string", "pattern": NOT_BLANK}]}
    ways: list[dict[str, Any]] = [{"required": ["stems"], "properties": {"stems": listed}}]
    for pattern, part in (body.get("patternProperties") or {}).items():
        if part.get("format") == "binary":
            # "Some property name matches": no property name may fail to match, negated.
            ways.append({"not": {"propertyNames": {"not": {"pattern": pattern}}}})
    return ways[0] if len(ways) == 1 else {"anyOf": ways}


def _lists_as_json_text(body: dict[str, Any]) -> dict[str, Any]:
    """A form field is text: a list (``stems``) is sent as its JSON text, documented by ``contentSchema``."""
    for name, field in (body.get("properties") or {}).items():
        if field.get("type") == "array":
            rest = {key: value for key, value in field.items() if key in ("title", "description")}
            schema = {key: value for key, value in field.items() if key not in ("title", "description")}
            body["properties"][name] = {**rest, "type": "string", "contentMediaType": "application/json",
                                        "contentSchema": schema}
    return body


def request_body(form_model: type[BaseModel] | None, json_model: type[BaseModel], *, audio: bool = False) -> dict[str, Any]:
    """Request bodies in the content types the parser reads; ``audio``: exactly one audio source (or stems,
    when the model has them)."""

    def schema(model: type[BaseModel], sources: tuple[str, ...]) -> dict[str, Any]:
        body = inline_schema(model)
        if audio:
            # oneOf: a body naming two sources is refused (AMBIGUOUS_AUDIO_SOURCE) as much as one naming none.
            body["oneOf"] = [_audio_source(source) for source in sources]
            stems = _stems_given(body)
            if stems is not None:
                body["oneOf"].append(stems)
        return body

    content: dict[str, Any] = {}
    if form_model is not None:
        content["multipart/form-data"] = {
            "schema": _lists_as_json_text(_without_null(schema(form_model, ("audio_file", "audio_url", "audio_path"))))
        }
    content["application/x-www-form-urlencoded"] = {
        "schema": _lists_as_json_text(_without_null(schema(json_model, ("audio_url", "audio_path"))))
    }
    content["application/json"] = {"schema": schema(json_model, ("audio_url", "audio_path"))}
    return {"requestBody": {"required": True, "content": content}}


def json_request_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline_schema(model)}}}}
