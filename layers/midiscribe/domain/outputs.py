"""The names a task's result files are recorded under in ``Task.outputs`` (name -> S3 key).

byId, webhooks, signed file links and the worker all speak of outputs by these names.
"""

from __future__ import annotations

MIDI = "midi"
SONIFIED_WAV = "wav"
NOTES_CSV = "csv"
NOTES_JSON = "json"
QUANTIZED_MIDI = "quantized_midi"  # the MIDI file with notes on the quantize option's grid
MUSICXML = "musicxml"  # the score, when score=true
CONVERTED = "converted"  # file_convert: the converted audio
MIDI_DATA = "midi_data"  # midi_generate: kie.ai's per-instrument notes document

# What a signed link (GET /v1/files/{task_id}/{name}) may name.
LINKABLE = (MIDI, SONIFIED_WAV, NOTES_CSV, NOTES_JSON, QUANTIZED_MIDI, MUSICXML, CONVERTED)
