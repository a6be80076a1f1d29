"""What a webhook says, for each kind of task.

- ``audio_to_midi``: seed 002's body (MusicGPT's fields, in its order) followed by ours: ``status``,
  ``error``, ``error_code`` (byId's machine code of the reason), ``audio_duration_s``, ``note_count``,
  ``notes_json_path``, ``quantized_midi_file_path`` and ``musicxml_file_path`` ('' unless asked for),
  ``instrument``, ``model`` and ``model_name`` (which transcriber and model ran), ``type`` and ``timestamp``.
  A multi-stem task's ``instrument`` is null and ``stems`` (after it) names each stem and its instrument.
- ``file_convert``: the same envelope with ``conversion_type: "File Conversion"`` and ``output_path``.
- ``midi_generate``: kie.ai's callback: ``{code, msg, task_id, data: {taskId, state, instruments}}``.

A failed task is delivered too, with ``success: false`` (or kie's ``code: 500``) and the reason.
kie's callback carries the notes themselves, so it has no links.

Links are made by the caller (see ``Link``): signed links to the API's ``GET /v1/files/…``
(``midiscribe.webhooks.file_links``), valid for ``signed_link_lifetime_s``, or, where the API's
public URL is not configured, presigned S3 URLs valid for ``link_lifetime_s``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from midiscribe.domain import outputs
from midiscribe.domain.messages import TASK_COMPLETED
from midiscribe.domain.tasks import COMPLETED_MESSAGES, FAILED_MESSAGES, Task, TaskKind, TaskStatus
from midiscribe.domain.timestamps import iso_now

from .schedule import RetrySchedule

# SigV4 presigned URLs are valid for at most 7 days.
MAX_PRESIGN_S = 7 * 24 * 3600
# Time for a receiver to fetch the files after the last attempt reached it.
LINK_MARGIN_S = 24 * 3600
# Signed API links are not bound by SigV4's limit; a receiver gets at least this long whatever the schedule.
MIN_SIGNED_LINK_S = 7 * 24 * 3600

CONVERSION_TYPES: dict[TaskKind, str] = {
    TaskKind.AUDIO_TO_MIDI: "Audio to MIDI",
    TaskKind.FILE_CONVERT: "File Conversion",
}

# (task, output name) -> the URL a payload carries for that output.
Link = Callable[[Task, str], str]
# A midi_generate task's instruments in kie.ai's shape ([{name, notes: [{pitch, start, end, velocity}]}]),
# read from its stored result: the same list GET /api/v1/midi/record-info shows.
InstrumentsLoader = Callable[[Task], list[dict[str, Any]]]


def link_lifetime_s(schedule: RetrySchedule) -> int:
    """How long presigned links in a webhook live: the whole retry schedule plus a day, at most 7 days."""
    return int(min(MAX_PRESIGN_S, schedule.longest_span_s() + LINK_MARGIN_S))


def signed_link_lifetime_s(schedule: RetrySchedule) -> int:
    """How long signed API links in a webhook live: the whole retry schedule plus a day, at least 7 days."""
    return int(max(MIN_SIGNED_LINK_S, schedule.longest_span_s() + LINK_MARGIN_S))


def build_payload(
    task: Task,
    event: str,
    *,
    link: Link,
    instruments: InstrumentsLoader | None = None,
) -> dict[str, Any]:
    if task.kind == TaskKind.MIDI_GENERATE:
        return _kie_callback(task, instruments)
    succeeded = event == TASK_COMPLETED
    payload: dict[str, Any] = {
        "success": succeeded,
        "conversion_type": CONVERSION_TYPES[task.kind],
        "task_id": task.task_id,
        "conversion_id": task.conversion_id,
    }
    if task.kind == TaskKind.FILE_CONVERT:
        payload["output_path"] = _link(task, outputs.CONVERTED, link) if succeeded else ""
    else:
        payload["midi_file_path"] = _link(task, outputs.MIDI, link) if succeeded else ""
        payload["sonify_file_path"] = _link(task, outputs.SONIFIED_WAV, link) if succeeded else ""
        payload["notes_file_path"] = _link(task, outputs.NOTES_CSV, link) if succeeded else ""
    payload["message"] = (COMPLETED_MESSAGES if succeeded else FAILED_MESSAGES)[task.kind]
    payload["status"] = task.status.value
    payload["error"] = (task.error or "The task failed.") if not succeeded else None
    payload["error_code"] = (task.error_code or None) if not succeeded else None
    payload["audio_duration_s"] = task.audio_duration_s
    if task.kind == TaskKind.AUDIO_TO_MIDI:
        payload["note_count"] = task.note_count
        payload["notes_json_path"] = _link(task, outputs.NOTES_JSON, link) if succeeded else ""
        payload["quantized_midi_file_path"] = _link(task, outputs.QUANTIZED_MIDI, link) if succeeded else ""
        payload["musicxml_file_path"] = _link(task, outputs.MUSICXML, link) if succeeded else ""
        stems = task.source.stems
        payload["instrument"] = None if stems else task.options.get("instrument", "auto")
        if stems:
            payload["stems"] = [{"name": stem.name, "instrument": stem.family} for stem in stems]
        payload["model"] = task.model or None
        payload["model_name"] = task.model_name or None
    payload["type"] = event
    payload["timestamp"] = _event_time(task)
    return payload


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent: compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _link(task: Task, name: str, link: Link) -> str:
    """The link to the output stored under ``name`` ('' when the task did not produce it)."""
    return link(task, name) if task.outputs.get(name) else ""


def _event_time(task: Task) -> str:
    """When the task finished (its last update), as ISO-8601 UTC."""
    return task.updated_at or iso_now()


def _kie_callback(task: Task, instruments: InstrumentsLoader | None) -> dict[str, Any]:
    """kie.ai's MIDI callback: the instruments and their notes, or code 500 with the reason."""
    if task.status == TaskStatus.COMPLETED:
        if instruments is None:
            raise ValueError("a midi_generate webhook needs the task's notes: pass an instruments loader")
        data = {"taskId": task.task_id, "state": "complete", "instruments": instruments(task)}
        return {"code": 200, "msg": "success", "task_id": task.task_id, "data": data}
    return {
        "code": 500,
        "msg": task.error or "MIDI generation failed",
        "task_id": task.task_id,
        "data": {"taskId": task.task_id, "state": "failed", "instruments": []},
    }
