"""Transcription options: basic-pitch 0.4.0's parameters and defaults, validated with pydantic.

The same model serves the CLI flags, the HTTP API fields and the task record, so the names are
basic-pitch's own (``onset_threshold``…) and an out-of-range value is refused with a message
that names the field and the allowed range.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidOptionsError

# MIDI 21..108 is the piano range the model's 88 note bins cover.
LOWEST_MIDI = 21
HIGHEST_MIDI = 108


class TranscriptionOptions(BaseModel):
    """What to transcribe and how. Defaults are basic-pitch 0.4.0's ``predict`` defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["general", "piano"] = Field(
        "general",
        description="general: basic-pitch, any pitched instrument, with pitch bends. piano: transkun 2.0, solo "
        "piano only, with the model's velocities and the sustain and soft pedals (the note thresholds and "
        "pitch-bend options below apply to the general model only).",
    )
    onset_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Minimum onset posterior to start a note.")
    frame_threshold: float = Field(0.3, ge=0.0, le=1.0, description="Minimum note posterior to keep a note sounding.")
    minimum_note_length_ms: float = Field(
        127.70, ge=0.0, le=10_000.0, description="Notes shorter than this (milliseconds) are dropped."
    )
    minimum_frequency: float | None = Field(
        None, gt=0.0, le=20_000.0, description="Drop notes below this frequency (Hz). None keeps all."
    )
    maximum_frequency: float | None = Field(
        None, gt=0.0, le=20_000.0, description="Drop notes above this frequency (Hz). None keeps all."
    )
    melodia_trick: bool = Field(True, description="Add notes traced from strong frames without an onset.")
    multiple_pitch_bends: bool = Field(
        False, description="Allow overlapping notes to bend independently (spread over MIDI channels)."
    )
    include_pitch_bends: bool = Field(True, description="Estimate pitch bends from the pitch contour.")
    # A MIDI tempo is microseconds per beat in 24 bits, so nothing slower than 60e6 / 0xFFFFFF BPM fits.
    midi_tempo: float = Field(120.0, ge=3.58, le=1000.0, description="Tempo written to the MIDI file (BPM).")

    @model_validator(mode="after")
    def _frequency_range_is_ordered(self) -> TranscriptionOptions:
        if (
            self.minimum_frequency is not None
            and self.maximum_frequency is not None
            and self.minimum_frequency >= self.maximum_frequency
        ):
            raise ValueError(
                f"minimum_frequency ({self.minimum_frequency} Hz) must be below "
                f"maximum_frequency ({self.maximum_frequency} Hz)"
            )
        return self

    @classmethod
    def parse(cls, values: dict | None = None, **overrides) -> TranscriptionOptions:
        """Build options from user input, raising :class:`InvalidOptionsError` with a readable message."""
        data = {**(values or {}), **overrides}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidOptionsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the field: pydantic's own text is too noisy for users."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ())) or "options"
        if error.get("type") == "extra_forbidden":
            problems.append(f"{field}: unknown option (known: {', '.join(TranscriptionOptions.model_fields)})")
        else:
            problems.append(f"{field}: {error.get('msg')} (got {error.get('input')!r})")
    return "Invalid transcription options: " + "; ".join(problems)
