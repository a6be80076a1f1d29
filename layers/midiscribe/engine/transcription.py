"""What a transcription produces: note events plus what is needed to write them out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO

from .model import MODEL_NAME
from .options import TranscriptionOptions

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
    # The recording's offset from A4 = 440 Hz in cents (-50..50), which notes are rounded in;
    # None when not estimated (basic_pitch_compat).
    tuning_cents: float | None = None

    def write_midi(self, destination: Destination) -> None:
        from .outputs import write_midi

        write_midi(self, destination)

    def write_csv(self, destination: Destination) -> None:
        from .outputs import write_csv

        write_csv(self, destination)

    def write_json(self, destination: Destination) -> None:
        from .outputs import write_json

        write_json(self, destination)

    def write_wav(self, destination: Destination) -> None:
        from .sonify import write_wav

        write_wav(self, destination)
