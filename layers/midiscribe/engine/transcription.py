"""What a transcription produces: note events plus what is needed to write them out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from .model import MODEL_NAME
from .options import TranscriptionOptions

if TYPE_CHECKING:
    from .rhythm import Rhythm

Destination = str | os.PathLike[str] | BinaryIO  # a path or a writable binary file object


@dataclass(frozen=True, slots=True)
class NoteEvent:
    """One note, as basic-pitch's ``note_events`` describe it.

    ``pitch_bends`` has one value per model frame (86.13 frames/s) from the note's start, in
    thirds of a semitone relative to ``pitch`` (the contour's resolution); empty when bends are off.
    """

    start_s: float
    end_s: float
    pitch: int
    amplitude: float
    pitch_bends: tuple[int, ...] = ()

    @property
    def velocity(self) -> int:
        """MIDI velocity 1..127 from the note's mean posterior (0 would mean note-off in MIDI)."""
        return max(1, min(127, round(127 * self.amplitude)))


@dataclass
class Transcription:
    """The result of :func:`midiscribe.engine.transcribe`."""

    notes: list[NoteEvent]
    duration_s: float
    options: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    model_name: str = MODEL_NAME
    timings: dict[str, float] = field(default_factory=dict)
    rhythm: Rhythm | None = None  # beats, bars, metre and key; None when not tracked

    def write_midi(self, destination: Destination) -> None:
        from .outputs import write_midi

        write_midi(self, destination)

    def quantized(self, grid: str | None = None) -> Transcription:
        """A copy whose notes are snapped to ``grid`` ("1/16"…; default: the quantize option) of the MIDI
        file's beats. The copy keeps the tempo map, so its MIDI file lines up with the original's."""
        from .quantize import quantize_notes
        from .tempo_map import tempo_map_for

        grid = grid or self.options.quantize
        if grid == "off":
            raise ValueError("quantized() needs a grid: pass one or set the quantize option")
        return replace(self, notes=quantize_notes(self.notes, tempo_map_for(self), grid))

    def write_quantized_midi(self, destination: Destination) -> None:
        """The MIDI file with notes on the quantize option's grid (``<stem>.quantized.mid``)."""
        self.quantized().write_midi(destination)

    def write_musicxml(self, destination: Destination) -> None:
        """A quantised score as MusicXML (``<stem>.musicxml``); needs music21, in the worker image only."""
        from .score import write_musicxml

        write_musicxml(self, destination)

    def write_csv(self, destination: Destination) -> None:
        from .outputs import write_csv

        write_csv(self, destination)

    def write_json(self, destination: Destination) -> None:
        from .outputs import write_json

        write_json(self, destination)

    def write_wav(self, destination: Destination) -> None:
        from .sonify import write_wav

        write_wav(self, destination)
