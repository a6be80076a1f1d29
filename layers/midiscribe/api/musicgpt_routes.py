"""MusicGPT's routes: queue audio_to_midi and file_convert, read a conversion with byId, upload forms."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from midiscribe.domain.errors import InvalidRequestError
from midiscribe.domain.tasks import TaskKind

from . import openapi_docs as docs
from . import responses
from .context import MUSICGPT_PREFIX, caller, logger, request_body, use_cases
from .errors import json_response
from .limits import some_names
from .requests import AudioToMidiForm, AudioToMidiJson, FileConvertForm, FileConvertJson, UploadBody

router = APIGatewayRouter()
# What a submission can be refused with.
SUBMIT_ERRORS = docs.errors(400, 401, 404, 413, 415, 429, 500)


def at_musicgpts_path(register, path: str, spec: dict):
    """``register`` (``router.post``, ``router.get``) for ``path`` under MusicGPT's own prefix. A request body
    is documented by a reference to ``path``'s (a JSON pointer into the document) rather than a second copy."""
    extensions = {}
    if "openapi_extensions" in spec:
        pointer = path.replace("~", "~0").replace("/", "~1")
        extensions["openapi_extensions"] = {"requestBody": {"$ref": f"#/paths/{pointer}/post/requestBody"}}
    return register(MUSICGPT_PREFIX + path, summary=f"{path} at MusicGPT's path", tags=["MusicGPT's paths"],
                    description=f"The same operation as {path} (the same fields and answers), at the path MusicGPT "
                                "serves it on.", responses=spec["responses"], **extensions)


AUDIO_TO_MIDI = dict(
    summary="Convert audio to MIDI (asynchronous)",
    description=(
        "Queue a transcription of audio_file (multipart), audio_url or audio_path. Booleans may be sent as "
        "true/false, 'True'/'False' or 1/0; transcription options by their names. Poll /v1/byId or give "
        "webhook_url."
    ),
    tags=["conversions"],
    responses={**docs.ok(responses.QueuedResponse, "MIDI conversion task queued"), **SUBMIT_ERRORS},
    openapi_extensions=docs.request_body(AudioToMidiForm, AudioToMidiJson, audio=True),
)
FILE_CONVERT = dict(
    summary="Convert an audio file's format, sample rate or bit depth (asynchronous)",
    tags=["conversions"],
    responses={**docs.ok(responses.QueuedResponse, "File conversion task queued"), **SUBMIT_ERRORS},
    openapi_extensions=docs.request_body(FileConvertForm, FileConvertJson, audio=True),
)
BY_ID = dict(
    summary="A conversion's status and presigned result links",
    tags=["conversions"],
    responses={**docs.ok(responses.ConversionResponse, "The conversion"), **docs.errors(400, 401, 404, 429, 500)},
)


# MusicGPT's path is registered second (decorators apply bottom up), so the document lists it after ours.
@at_musicgpts_path(router.post, "/v1/audio_to_midi", AUDIO_TO_MIDI)
@router.post("/v1/audio_to_midi", **AUDIO_TO_MIDI)
def audio_to_midi():
    owner, cases = caller(router), use_cases(router)
    request = AudioToMidiForm.parse(request_body(router)).to_request(bucket=cases.settings.bucket)
    return _queued(cases.submissions.submit_audio_to_midi(owner, request))


@at_musicgpts_path(router.post, "/v1/file_convert", FILE_CONVERT)
@router.post("/v1/file_convert", **FILE_CONVERT)
def file_convert():
    owner, cases = caller(router), use_cases(router)
    request = FileConvertForm.parse(request_body(router)).to_request(bucket=cases.settings.bucket)
    return _queued(cases.submissions.submit_file_convert(owner, request))


def _queued(queued):
    logger.info("task queued", extra={"task_id": queued.task.task_id, "kind": queued.task.kind.value})
    return json_response(200, responses.queued(queued))


def conversion_kind(conversion_type: str) -> TaskKind | None:
    """``byId?conversionType=``, in any case: the task kind it names (None when not given)."""
    if not conversion_type:
        return None
    for kind in TaskKind:
        if kind.conversion_type == conversion_type.strip().upper():
            return kind
    known = ", ".join(kind.conversion_type for kind in TaskKind)
    raise InvalidRequestError(f"conversionType {conversion_type!r} is not known: use one of {known}.", "INVALID_PARAMETER")


@at_musicgpts_path(router.get, "/v1/byId", BY_ID)
@router.get("/v1/byId", **BY_ID)
def by_id(
    conversionType: Annotated[
        str | None,
        Query(
            description="AUDIO_TO_MIDI, FILE_CONVERT or MIDI_GENERATE (any case)",
            # Documented as the canonical spellings; the API also takes them in any case, trimmed.
            json_schema_extra={"enum": list(responses.CONVERSION_TYPES)},
        ),
    ] = None,
    task_id: Annotated[str | None, Query(description="The task_id returned on submission")] = None,
    conversion_id: Annotated[str | None, Query(description="Or the conversion_id returned on submission")] = None,
):
    owner = caller(router)
    lookup = use_cases(router).lookup
    task = lookup.find_task(
        owner, task_id=task_id or "", conversion_id=conversion_id or "", kind=conversion_kind(conversionType or "")
    )
    return json_response(200, responses.conversion(task, lookup.links(task)))


@router.get(
    "/v1/tasks",
    summary="The API key's tasks, newest first, a page at a time",
    description="Each task as /v1/byId describes it. Follow next_cursor (as cursor) until it is null.",
    tags=["conversions"],
    responses={**docs.ok(responses.TaskListResponse, "A page of tasks"), **docs.errors(400, 401, 429, 500)},
)
def list_tasks(
    limit: Annotated[int, Query(ge=1, le=100, description="How many tasks per page")] = 20,
    cursor: Annotated[
        str | None,
        Query(max_length=1024, pattern=r"^[A-Za-z0-9_-]+$",
              description="next_cursor of the previous page, unchanged; leave out for the first page"),
    ] = None,
):
    owner = caller(router)
    # A filter this route does not have (?status=FAILED) would otherwise be ignored, and every task listed as if
    # it had been applied.
    unknown = sorted(set(router.current_event.query_string_parameters or {}) - {"limit", "cursor"})
    if unknown:
        raise InvalidRequestError(
            f"/v1/tasks takes limit and cursor only, not {some_names(unknown)}: it lists every task of this key, "
            f"newest first (each with its status); filter them on your side.", "INVALID_PARAMETER")
    lookup = use_cases(router).lookup
    return json_response(200, responses.task_list(lookup.page(owner, limit=limit, cursor=cursor or ""), lookup.links))


@router.post(
    "/v1/uploads",
    summary="A presigned S3 POST for files larger than the API accepts",
    description="Upload the file with the returned form, then submit audio_path to /v1/audio_to_midi.",
    tags=["uploads"],
    responses={**docs.ok(responses.UploadResponse, "Upload form"), **docs.errors(400, 401, 415, 429, 500)},
    openapi_extensions=docs.request_body(None, UploadBody),
)
def create_upload():
    owner = caller(router)
    request = UploadBody.parse(request_body(router)).to_request()
    return json_response(200, responses.upload(use_cases(router).uploads.create(owner, request)))
