"""kie.ai's MIDI generation data: per-instrument notes, stored as a task's ``midi_data`` document.

The notes come from the engine's notes JSON: one instrument per track (a stem, or the one instrument
of a single recording), named by its General MIDI program or "Drums". kie.ai's notes carry only
``pitch``, ``start``, ``end`` (seconds) and ``velocity`` as a number from 0 to 1 (1 = loudest), where
the notes JSON has MIDI's 1..127. The worker builds the document, the webhook and ``record-info`` read
it back (the API renders the record itself).
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
                "velocity": kie_velocity(note["velocity"]),
            }
            for note in instrument.get("notes") or []
        ]
        notes.sort(key=lambda note: (note["start"], note["pitch"]))
        shaped.append({"name": str(instrument.get("name", "")), "notes": notes})
    return shaped


def kie_velocity(midi_velocity: float) -> float:
    """MIDI's 1..127 as kie.ai's 0..1 (documents written before the change hold MIDI values)."""
    value = float(midi_velocity)
    return round(min(max(value / 127 if value > 1 else value, 0.0), 1.0), 4)


def midi_data_document(instruments: list[dict[str, Any]]) -> bytes:
    return json.dumps({"instruments": instruments}, separators=(",", ":")).encode("utf-8")


def read_midi_data(document: bytes) -> list[dict[str, Any]]:
    value = json.loads(document)
    instruments = value.get("instruments") if isinstance(value, dict) else None
    if not isinstance(instruments, list):
        raise ValueError("midi data document has no instruments list")
    for instrument in instruments:
        for note in instrument.get("notes") or []:
            note["velocity"] = kie_velocity(note["velocity"])
    return instruments
