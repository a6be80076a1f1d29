"""The HTTP API: one Powertools resolver ``app`` with every route, its OpenAPI description and swagger.

Routes read the request, call :class:`~midiscribe.service.conversions.ConversionService` and shape
the answer. Errors are rendered in one place (the exception handlers at the bottom): MusicGPT's
envelope ``{"success": false, "error", "code"}``, or kie.ai's ``{"code", "msg"}`` under ``/api/v1/``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

import midiscribe
from midiscribe.service.config import Settings
from midiscribe.service.conversions import ConversionService, QueuedTask
from midiscribe.service.errors import ApiError, UnauthorizedError
from midiscribe.service.file_links import LINKABLE_OUTPUTS
from midiscribe.service.requests import (
    RequestBody,
    parse_audio_to_midi,
    parse_body,
    parse_file_convert,
    parse_midi_generate,
    parse_upload,
)

from . import models
from .explorer_routes import router as explorer_router
from .webhook_routes import router as webhook_router

logger = Logger(service="midiscribe")

API_TITLE = "midiscribe"
API_DESCRIPTION = (
    "Self-hostable audio-to-MIDI API. Submit audio (upload, URL or S3 path), poll /v1/byId or receive a "
    "signed webhook, download the MIDI, sonified WAV and note events. Authenticate with the "
    "Authorization header: the raw API key or 'Bearer <key>'."
)
SECURITY_SCHEME = "ApiKeyAuth"
PUBLIC = {"security": []}  # operation-level override of the global API key requirement
KIE_PREFIX = "/api/v1/"
# The body may be a little larger than the file it carries (multipart headers, other fields).
_BODY_OVERHEAD_BYTES = 64 * 1024


class ApiResolver(APIGatewayRestResolver):
    """The Powertools resolver, with its generic 422 "Validation Error" answer taken out of the document
    (and no body documented for redirects).

    Invalid parameters are answered 400 with our error envelope (see ``handle_validation_error``), so
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
                            "description": "Invalid request parameters",
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{envelope}"}}},
                        },
                    )
        return schema


app = ApiResolver(enable_validation=True)
app.configure_openapi(
    title=API_TITLE,
    version=midiscribe.__version__,
    description=API_DESCRIPTION,
    security_schemes={SECURITY_SCHEME: APIKey(name="Authorization", in_=APIKeyIn.header)},
    security=[{SECURITY_SCHEME: []}],
)
app.enable_swagger(path="/swagger")
app.include_router(webhook_router)
app.include_router(explorer_router)


def _error_responses(*statuses: int, kie: bool = False) -> dict[int, Any]:
    model = models.KieErrorResponse if kie else models.ErrorResponse
    descriptions = {
        400: "Invalid request parameters",
        401: "No API key, or an unknown or disabled one",
        403: "The link's signature does not match, or the link has expired",
        404: "Unknown task, or an S3 object that does not exist",
        413: "The file is larger than this deployment accepts",
        415: "Unsupported request content type",
        422: "The request cannot be processed (for example the earlier task failed)",
        429: "Too many requests: slow down",
        500: "Internal error (details are in the service's logs)",
    }
    return {
        status: {"description": descriptions[status], "content": {"application/json": {"model": model}}}
        for status in statuses
    }


def _ok(model: type, description: str) -> dict[int, Any]:
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


def _audio_source(name: str) -> dict[str, Any]:
    """The rule a body meets when ``name`` is its audio source.

    A file part counts as given whenever it is sent (and must not be empty); blank text counts as not given.
    """
    if name == "audio_file":
        return {"required": [name]}
    return {"required": [name], "properties": {name: {"type": "string", "pattern": models.NOT_BLANK}}}


def _request_body(
    form_model: type | None, json_model: type, *, audio: bool = False, rules: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Request bodies in the three content types the parser reads; ``audio``: exactly one audio source;
    ``rules``: schemas every body must also match (rules that tie fields together)."""

    def schema(model: type, sources: tuple[str, ...]) -> dict[str, Any]:
        body = models.inline_schema(model)
        if audio:
            # oneOf: a body naming two sources is refused (AMBIGUOUS_AUDIO_SOURCE) as much as one naming none.
            body["oneOf"] = [_audio_source(source) for source in sources]
        if rules:
            body["allOf"] = rules
        return body

    content: dict[str, Any] = {}
    if form_model is not None:
        content["multipart/form-data"] = {
            "schema": _without_null(schema(form_model, ("audio_file", "audio_url", "audio_path")))
        }
    content["application/x-www-form-urlencoded"] = {
        "schema": _without_null(schema(json_model, ("audio_url", "audio_path")))
    }
    content["application/json"] = {"schema": schema(json_model, ("audio_url", "audio_path"))}
    return {"requestBody": {"required": True, "content": content}}


def _without_null(body: dict[str, Any]) -> dict[str, Any]:
    """A form's fields are text (or files): JSON's null cannot be sent, and the word 'null' is not a null."""
    for name, field in (body.get("properties") or {}).items():
        choices = field.get("anyOf")
        if isinstance(choices, list) and {"type": "null"} in choices:
            kept = [choice for choice in choices if choice != {"type": "null"}]
            rest = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
            body["properties"][name] = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
    return body


def _service() -> ConversionService:
    # Built per request: clients are created lazily, after whatever endpoint the environment names.
    return ConversionService(Settings.from_env())


def _caller() -> str:
    """The API key id the authorizer put in the request context."""
    context = app.current_event.request_context.authorizer
    key_id = str(context.get("key_id") or context.get("principalId") or "") if context else ""
    if not key_id:
        raise UnauthorizedError(
            "No API key: send it in the Authorization header (the raw key or 'Bearer <key>').", "UNAUTHORIZED"
        )
    logger.append_keys(key_id=key_id)
    return key_id


def _raw_body() -> bytes:
    event = app.current_event
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _request_body_fields(service: ConversionService) -> RequestBody:
    content_type = app.current_event.headers.get("content-type") or app.current_event.headers.get("Content-Type")
    return parse_body(
        _raw_body(), content_type, max_bytes=service.max_upload_bytes + _BODY_OVERHEAD_BYTES
    )


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _queued(queued: QueuedTask) -> Response:
    logger.info("task queued", extra={"task_id": queued.task.task_id, "kind": queued.task.kind.value})
    return _json(
        200,
        {
            "success": True,
            "task_id": queued.task.task_id,
            "conversion_id": queued.task.conversion_id,
            "status": queued.task.status.value,
            "message": queued.message,
            "eta_seconds": queued.eta_seconds,
        },
    )


# ---- public


@app.get(
    "/health",
    summary="Liveness check (no authentication, touches nothing external)",
    tags=["service"],
    responses=_ok(models.HealthResponse, "The API is up"),
    openapi_extensions=PUBLIC,
)
def health():
    return _json(200, {"status": "ok", "version": midiscribe.__version__})


@app.get(
    "/v1/files/<task_id>/<name>",
    summary="Follow a signed result link (as webhooks carry them): redirects to the file",
    description=(
        "The links in a webhook's payload point here. They are signed with the task owner's webhook secret "
        "and stay valid for the whole retry schedule (at least 7 days); each use redirects (302) to a "
        "short-lived presigned S3 URL. No API key is needed: the signature is the authorization."
    ),
    tags=["conversions"],
    responses={
        302: {
            "description": "Redirect to a presigned S3 URL of the file, valid for a few minutes",
            "headers": {"Location": {"description": "The presigned S3 URL", "schema": {"type": "string"}}},
        },
        **_error_responses(400, 403, 404, 429, 500),
    },
    openapi_extensions=PUBLIC,
)
def follow_file_link(
    task_id: Annotated[str, Path(description="The task whose file the link names")],
    name: Annotated[str, Path(description=f"The file: one of {', '.join(LINKABLE_OUTPUTS)}")],
    expires: Annotated[int, Query(ge=0, description="Until when the link is valid, in epoch seconds")],
    signature: Annotated[str, Query(min_length=1, description="The link's signature (URL-safe base64)")],
):
    location = _service().file_location(task_id, name, expires=str(expires), signature=signature)
    # Each use gets its own short-lived URL, so the redirect must not be cached.
    return Response(status_code=302, headers={"Location": location, "Cache-Control": "no-store"}, body="")


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


def openapi_json() -> str:
    """The OpenAPI document, exactly as /swagger serves it."""
    return app.get_openapi_json_schema()


# ---- MusicGPT-compatible


@app.post(
    "/v1/audio_to_midi",
    summary="Convert audio to MIDI (asynchronous)",
    description=(
        "Queue a transcription of audio_file (multipart), audio_url or audio_path. Booleans may be sent as "
        "true/false, 'True'/'False' or 1/0; transcription options by their names. Poll /v1/byId or give "
        "webhook_url."
    ),
    tags=["conversions"],
    responses={
        **_ok(models.QueuedResponse, "MIDI conversion task queued"),
        **_error_responses(400, 401, 404, 413, 415, 429, 500),
    },
    openapi_extensions=_request_body(models.AudioToMidiForm, models.AudioToMidiJson, audio=True),
)
def audio_to_midi():
    owner = _caller()
    service = _service()
    request = parse_audio_to_midi(
        _request_body_fields(service),
        bucket=service.settings.bucket,
        check_url=service.check_url,
        max_upload_bytes=service.max_upload_bytes,
    )
    return _queued(service.submit_audio_to_midi(owner, request))


@app.post(
    "/v1/file_convert",
    summary="Convert an audio file's format, sample rate or bit depth (asynchronous)",
    tags=["conversions"],
    responses={
        **_ok(models.QueuedResponse, "File conversion task queued"),
        **_error_responses(400, 401, 404, 413, 415, 429, 500),
    },
    openapi_extensions=_request_body(
        models.FileConvertForm, models.FileConvertJson, audio=True, rules=models.FILE_CONVERT_RULES
    ),
)
def file_convert():
    owner = _caller()
    service = _service()
    request = parse_file_convert(
        _request_body_fields(service),
        bucket=service.settings.bucket,
        check_url=service.check_url,
        max_upload_bytes=service.max_upload_bytes,
    )
    return _queued(service.submit_file_convert(owner, request))


@app.get(
    "/v1/byId",
    summary="A conversion's status and presigned result links",
    tags=["conversions"],
    responses={**_ok(models.ConversionResponse, "The conversion"), **_error_responses(400, 401, 404, 429, 500)},
)
def by_id(
    conversionType: Annotated[
        str | None,
        Query(
            description="AUDIO_TO_MIDI, FILE_CONVERT or MIDI_GENERATE (any case)",
            # Documented as the canonical spellings; the API also takes them in any case, trimmed.
            json_schema_extra={"enum": list(models.CONVERSION_TYPES)},
        ),
    ] = None,
    task_id: Annotated[str | None, Query(description="The task_id returned on submission")] = None,
    conversion_id: Annotated[str | None, Query(description="Or the conversion_id returned on submission")] = None,
):
    owner = _caller()
    service = _service()
    task = service.find_task(
        owner, task_id=task_id or "", conversion_id=conversion_id or "", conversion_type=conversionType or ""
    )
    return _json(200, {"success": True, "conversion": service.describe(task)})


@app.get(
    "/v1/tasks",
    summary="The API key's tasks, newest first, a page at a time",
    description="Each task as /v1/byId describes it. Follow next_cursor (as cursor) until it is null.",
    tags=["conversions"],
    responses={**_ok(models.TaskListResponse, "A page of tasks"), **_error_responses(400, 401, 429, 500)},
)
def list_tasks(
    limit: Annotated[int, Query(ge=1, le=100, description="How many tasks per page")] = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1024,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="next_cursor of the previous page, unchanged; leave out for the first page",
        ),
    ] = None,
):
    owner = _caller()
    return _json(200, _service().list_tasks(owner, limit=limit, cursor=cursor or ""))


@app.post(
    "/v1/uploads",
    summary="A presigned S3 POST for files larger than the API accepts",
    description="Upload the file with the returned form, then submit audio_path to /v1/audio_to_midi.",
    tags=["uploads"],
    responses={**_ok(models.UploadResponse, "Upload form"), **_error_responses(400, 401, 415, 429, 500)},
    openapi_extensions=_request_body(None, models.UploadRequestBody),
)
def create_upload():
    owner = _caller()
    service = _service()
    request = parse_upload(_request_body_fields(service))
    return _json(200, service.create_upload(owner, request))


# ---- kie.ai-compatible


@app.post(
    "/api/v1/midi/generate",
    summary="kie.ai: generate MIDI (per-instrument notes) for an earlier task",
    tags=["kie.ai"],
    responses={
        **_ok(models.KieGenerateResponse, "MIDI generation task created"),
        **_error_responses(400, 401, 404, 415, 422, 429, 500, kie=True),
    },
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": models.inline_schema(models.MidiGenerateRequest)}},
        }
    },
)
def midi_generate():
    owner = _caller()
    service = _service()
    request = parse_midi_generate(_request_body_fields(service), check_url=service.check_url)
    queued = service.submit_midi_generate(owner, request)
    logger.info("task queued", extra={"task_id": queued.task.task_id, "kind": queued.task.kind.value})
    return _json(200, {"code": 200, "msg": "success", "data": {"taskId": queued.task.task_id}})


@app.get(
    "/api/v1/midi/record-info",
    summary="kie.ai: a MIDI generation task's status and notes",
    tags=["kie.ai"],
    responses={
        **_ok(models.KieRecordResponse, "The record"),
        **_error_responses(400, 401, 404, 429, 500, kie=True),
    },
)
def midi_record_info(
    taskId: Annotated[str, Query(pattern=models.NOT_BLANK, description="taskId from /api/v1/midi/generate")],
):
    owner = _caller()
    return _json(200, {"code": 200, "msg": "success", "data": _service().record_info(owner, taskId)})


# ---- errors, rendered in one place


def _error(status: int, code: str, message: str) -> Response:
    path = app.current_event.path or ""
    if path.startswith(KIE_PREFIX):
        return _json(status, {"code": status, "msg": message})
    return _json(status, {"success": False, "error": message, "code": code})


@app.exception_handler(ApiError)
def handle_api_error(error: ApiError) -> Response:
    if error.http_status >= 500:
        logger.error("request failed", extra={"code": error.code, "error": error.message})
    else:
        logger.info("request refused", extra={"status": error.http_status, "code": error.code})
    return _error(error.http_status, error.code, error.message)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response:
    problems = []
    for detail in error.errors():
        location = [str(part) for part in detail.get("loc", ()) if part not in ("query", "body", "header", "path")]
        problems.append(f"{'.'.join(location) or 'request'}: {detail.get('msg', 'invalid')}")
    return _error(400, "INVALID_PARAMETER", "Invalid request: " + "; ".join(problems) + ".")


@app.exception_handler(Exception)
def handle_unexpected_error(error: Exception) -> Response:
    logger.exception("unexpected error")
    request_id = app.current_event.request_context.request_id or ""
    suffix = f" (request id {request_id})" if request_id else ""
    return _error(500, "INTERNAL_ERROR", f"Internal error; try again later{suffix}.")


@app.not_found
def handle_not_found(_: Exception) -> Response:
    event = app.current_event
    return _error(
        404, "ROUTE_NOT_FOUND", f"No route {event.http_method} {event.path}: see /swagger for the API's routes."
    )


__all__ = ["app", "logger", "openapi_json"]
