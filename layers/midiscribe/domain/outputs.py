"""The names a task's result files are recorded under in ``Task.outputs`` (name -> S3 key).

byId, webhooks, signed file links and the worker all speak of outputs by these names.
"""

from __future__ import annotations

MIDI = "midi"
SONIFIED_WAV = "wav"
NOTES_CSV = "csv"
NOTES_JSON = "json"
CONVERTED = "converted"  # file_convert: the converted audio
MIDI_DATA = "midi_data"  # midi_generate: kie.ai's per-instrument notes document

# What a signed link (GET /v1/files/{task_id}/{name}) may name.
LINKABLE = (MIDI, SONIFIED_WAV, NOTES_CSV, NOTES_JSON, CONVERTED)
