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


# The stored document's version. Version 1 (no ``format_version``) held MIDI's 1..127 velocities; version 2
# holds kie.ai's 0..1. Which scale a document holds is read from its version, never guessed from a value: MIDI
# velocity 1, the quietest note, would look like kie.ai's 1, the loudest.
MIDI_DATA_VERSION = 2


def kie_velocity(midi_velocity: float) -> float:
    """MIDI's 1..127 as kie.ai's 0..1."""
    return round(min(max(float(midi_velocity) / 127, 0.0), 1.0), 4)


def midi_data_document(instruments: list[dict[str, Any]]) -> bytes:
    """The stored document of kie.ai's ``instruments`` (velocities already 0..1)."""
    document = {"format_version": MIDI_DATA_VERSION, "instruments": instruments}
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def read_midi_data(document: bytes) -> list[dict[str, Any]]:
    """kie.ai's ``instruments`` from a stored document, its velocities 0..1 whichever version wrote it."""
    value = json.loads(document)
    instruments = value.get("instruments") if isinstance(value, dict) else None
    if not isinstance(instruments, list):
        raise ValueError("midi data document has no instruments list")
    if value.get("format_version", 1) < MIDI_DATA_VERSION:
        for instrument in instruments:
            for note in instrument.get("notes") or []:
                note["velocity"] = kie_velocity(note["velocity"])
    return instruments
