"""kie.ai's MIDI generation data: per-instrument notes, stored as a task's ``midi_data`` document.

The notes come from the engine's notes JSON, whose instruments already carry kie.ai's fields; the
model writes everything it hears onto one instrument. The worker builds the document, the webhook
and ``record-info`` read it back (the API renders the record itself).
"""

from __future__ import annotations

import json
from typing import Any


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
