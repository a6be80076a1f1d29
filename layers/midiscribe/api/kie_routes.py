"""kie.ai's routes: generate MIDI (per-instrument notes) for an earlier task, and read its record.

Errors under these paths use kie.ai's envelope ``{"code", "msg"}`` (``midiscribe.api.errors``).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from . import openapi_docs as docs
from . import responses
from .context import caller, logger, request_body, use_cases
from .errors import json_response
from .fields import NOT_BLANK
from .requests import MidiGenerateBody

router = APIGatewayRouter()


@router.post(
    "/api/v1/midi/generate",
    summary="kie.ai: generate MIDI (per-instrument notes) for an earlier task",
    tags=["kie.ai"],
    responses={
        **docs.ok(responses.KieGenerateResponse, "MIDI generation task created"),
        **docs.errors(400, 401, 404, 415, 422, 429, 500, kie=True),
    },
    openapi_extensions=docs.json_request_body(MidiGenerateBody),
)
def midi_generate():
    owner = caller(router)
    request = MidiGenerateBody.parse(request_body(router)).to_request()
    queued = use_cases(router).submissions.submit_midi_generate(owner, request)
    logger.info("task queued", extra={"task_id": queued.task.task_id, "kind": queued.task.kind.value})
    return json_response(200, responses.kie_generated(queued))


@router.get(
    "/api/v1/midi/record-info",
    summary="kie.ai: a MIDI generation task's status and notes",
    tags=["kie.ai"],
    responses={
        **docs.ok(responses.KieRecordResponse, "The record"),
        **docs.errors(400, 401, 404, 429, 500, kie=True),
    },
)
def midi_record_info(
    taskId: Annotated[str, Query(pattern=NOT_BLANK, description="taskId from /api/v1/midi/generate")],
):
    owner = caller(router)
    return json_response(200, responses.kie_record(use_cases(router).lookup.generation_record(owner, taskId)))
