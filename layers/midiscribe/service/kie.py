"""kie.ai's MIDI generation shapes: per-instrument notes, and the record ``record-info`` returns.

The notes come from the engine's notes JSON, whose instruments already carry kie.ai's fields; the
model writes everything it hears onto one instrument.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .tasks import Task, TaskStatus

# kie.ai's successFlag values.
PENDING = 0
SUCCESS = 1
GENERATION_FAILED = 3


def instruments_from_notes_document(document: bytes) -> list[dict[str, Any]]:
    """The engine's notes JSON (``instruments: [{name, notes: [{pitch, start, end, velocity, …}]}]``)
    → kie.ai's ``instruments``, keeping only the fields kie.ai defines."""
    value = json.loads(document)
    instruments = value.get("instruments") if isinstance(value, dict) else None
    if not isinstance(instruments, list):
        raise ValueError("the notes document has no instruments list")
    shaped = []
    for instrument in instruments:
        notes = [
            {
                "pitch": int(note["pitch"]),
                "start": float(note["start"]),
                "end": float(note["end"]),
                "velocity": int(note["velocity"]),
            }
            for note in instrument.get("notes") or []
        ]
        notes.sort(key=lambda note: (note["start"], note["pitch"]))
        shaped.append({"name": str(instrument.get("name", "")), "notes": notes})
    return shaped


def midi_data_document(instruments: list[dict[str, Any]]) -> bytes:
    return json.dumps({"instruments": instruments}, separators=(",", ":")).encode("utf-8")


def read_midi_data(document: bytes) -> list[dict[str, Any]]:
    value = json.loads(document)
    instruments = value.get("instruments") if isinstance(value, dict) else None
    if not isinstance(instruments, list):
        raise ValueError("midi data document has no instruments list")
    return instruments


def _epoch_ms(stamp: str) -> int | None:
    if not stamp:
        return None
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def record(task: Task, instruments: list[dict[str, Any]]) -> dict[str, Any]:
    """kie.ai's ``data`` object for a MIDI generation task."""
    if task.status is TaskStatus.COMPLETED:
        flag, state = SUCCESS, "complete"
    elif task.status is TaskStatus.FAILED:
        flag, state = GENERATION_FAILED, "failed"
    else:
        flag, state = PENDING, "pending"
    finished = task.status.is_final
    return {
        "taskId": task.task_id,
        "recordTaskId": -1,
        "audioId": task.source.task_id,
        "callbackUrl": task.webhook_url,
        "completeTime": _epoch_ms(task.updated_at) if finished else None,
        "midiData": {"state": state, "instruments": instruments},
        "successFlag": flag,
        "createTime": _epoch_ms(task.created_at),
        "errorCode": task.error_code or None,
        "errorMessage": task.error or None,
    }
