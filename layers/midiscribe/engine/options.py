"""Transcription options: basic-pitch 0.4.0's parameters, our own, validated with pydantic.

The same model serves the CLI flags, the HTTP API fields and the task record, so the names are
basic-pitch's own (``onset_threshold``…) and an out-of-range value is refused with a message
that names the field and the allowed range. Note-creation thresholds left unset (None) come from
the ``instrument``'s profile (engine/profiles.py), or are basic-pitch's with ``basic_pitch_compat``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InvalidOptionsError
from .instruments import Family

# MIDI 21..108 is the piano range the model's 88 note bins cover.
LOWEST_MIDI = 21
HIGHEST_MIDI = 108
# Quantisation grids: the note value each one snaps to, in quarter notes.
QUANTIZE_GRIDS = {"1/4": 1.0, "1/8": 0.5, "1/16": 0.25, "1/8t": 1 / 3, "1/16t": 1 / 6}
Quantize = Literal[("off", *QUANTIZE_GRIDS)]  # type: ignore[valid-type]

# The metres a user may give (time_signature): beats in a bar and whether each beat divides in three.
METRES = {"2/4": (2, False), "3/4": (3, False), "4/4": (4, False), "6/8": (2, True), "9/8": (3, True), "12/8": (4, True)}
TimeSignature = Literal[tuple(METRES)]  # type: ignore[valid-type]

# basic-pitch 0.4.0's predict() defaults: what basic_pitch_compat uses for options left unset.
BASIC_PITCH_ONSET_THRESHOLD = 0.5
BASIC_PITCH_FRAME_THRESHOLD = 0.3
BASIC_PITCH_MINIMUM_NOTE_LENGTH_MS = 127.70
BASIC_PITCH_MELODIA_TRICK = True
# Families the instrument hint takes: each pitched family has note-creation settings for the general
# model; piano also chooses the piano model (unless ``model`` says otherwise), drums the drum transcriber.
INSTRUMENTS = tuple(family.value for family in Family)
# A score notates pitches on staves; drum hits are General MIDI keys, so drums alone make no score.
NO_DRUM_SCORE = ("score writes pitched notes on staves, and a drum transcription has none (its notes are General "
                 "MIDI drum keys): leave score off and use the MIDI file, or add a pitched recording as a stem")
# The general model's note-creation and pitch-bend options: the piano model and the drum transcriber read
# none of them. The JSON schema (and so the OpenAPI document) marks each with "x-models", the transcribers
# it applies to, so that a client such as the explorer can say so without restating the list.
GENERAL_MODEL_OPTIONS = ("basic_pitch_compat", "onset_threshold", "frame_threshold", "minimum_note_length_ms",
                         "minimum_frequency", "maximum_frequency", "melodia_trick", "multiple_pitch_bends",
                         "include_pitch_bends")
MODELS_KEYWORD = "x-models"


def not_used_note(names: list[str], transcriber: str) -> str:
    """What to tell a user who set the general model's options (``names``, as they wrote them) on a task the piano
    model or the drum transcriber runs: accepted, since a client may send the same fields to every model, but
    not silently."""
    listed = " and ".join(", ".join(names).rsplit(", ", 1))
    runner = "the piano model" if transcriber == "piano" else "the drum transcriber"
    return (f"{listed} {'is' if len(names) == 1 else 'are'} the general model's; {runner} does not use "
            f"{'it' if len(names) == 1 else 'them'}.")


# Drums sampled below this rate have nothing above 16 kHz, where the drum transcriber's hi-hats and cymbals reach: at
# 22.05 kHz (nothing above 11 kHz) the hi-hat and the ride fall apart (bench/drums.py --degrade 22k).
LOW_DRUM_RATE_HZ = 32_000


def low_rate_drums_note(sample_rate: int) -> str | None:
    """What to tell a user whose drums are sampled at ``sample_rate`` Hz (None: nothing)."""
    if sample_rate <= 0 or sample_rate >= LOW_DRUM_RATE_HZ:
        return None
    return (f"The drums are sampled at {sample_rate} Hz, so nothing above {sample_rate / 2000:g} kHz is there, where "
            "hi-hats and cymbals sound most: many of them will be missed (on midiscribe's drum dev set at 22.05 kHz "
            "the hi-hat scores 0.74 and the ride 0.42, against 0.97 and 0.96 at 44.1 kHz). Send drums sampled at "
            "44.1 kHz or more.")


def mark_general_model_options(schema: dict) -> None:
    """JSON-schema hook: the general model's own options say so (``x-models``), for clients such as the explorer."""
    for name in GENERAL_MODEL_OPTIONS:
        if name in schema.get("properties", {}):
            schema["properties"][name][MODELS_KEYWORD] = ["general"]


@dataclass(frozen=True)
class Hints:
    """What the user knows of the rhythm (the options ``tempo_hint`` and ``time_signature``): about how
    fast the beat is (BPM), and the metre as (beats in a bar, whether each beat divides in three)."""

    tempo_bpm: float | None = None
    metre: tuple[int, bool] | None = None


class TranscriptionOptions(BaseModel):
    """What to transcribe and how. Unset thresholds follow ``instrument`` (basic-pitch's with compat)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              json_schema_extra=mark_general_model_options)

    model: Literal["general", "piano"] | None = Field(
        None,
        description="general: basic-pitch, any pitched instrument, with pitch bends. piano: transkun 2.0, solo "
        "piano only, with the model's velocities and the sustain and soft pedals (the note thresholds and "
        "pitch-bend options below apply to the general model only). Unset: piano for instrument=piano, "
        "general otherwise.",
    )
    instrument: Literal[INSTRUMENTS] = Field(
        "auto",
        description="What the recording (or stem) is played on, so that notes are made the way that family "
        "sounds and written on its General MIDI instrument; auto suits any pitched sound, drums transcribes "
        "a drum kit (General MIDI drum notes on channel 10).",
    )
    basic_pitch_compat: bool = Field(
        False, description="Reproduce basic-pitch 0.4.0's own notes exactly (no instrument, tuning or onset fixes)."
    )
    onset_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Minimum onset posterior to start a note (unset: the instrument's; 0.5 in compat)."
    )
    frame_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Minimum note posterior to keep a note sounding (unset: the instrument's; 0.3 in compat).",
    )
    minimum_note_length_ms: float | None = Field(
        None, ge=0.0, le=10_000.0,
        description="Notes shorter than this (milliseconds) are dropped (unset: the instrument's; 127.7 in compat).",
    )
    minimum_frequency: float | None = Field(
        None, gt=0.0, le=20_000.0, description="Drop notes below this frequency (Hz). None keeps all."
    )
    maximum_frequency: float | None = Field(
        None, gt=0.0, le=20_000.0, description="Drop notes above this frequency (Hz). None keeps all."
    )
    melodia_trick: bool | None = Field(
        None, description="Add notes traced from strong frames without an onset (unset: the instrument's; on in compat)."
    )
    multiple_pitch_bends: bool = Field(
        False, description="Allow overlapping notes to bend independently (spread over MIDI channels)."
    )
    include_pitch_bends: bool = Field(True, description="Estimate pitch bends from the pitch contour.")
    # A MIDI tempo is microseconds per beat in 24 bits, so nothing slower than 60e6 / 0xFFFFFF BPM fits.
    # Unset (None) is not 120: it means "follow the music", and only a tempo the user gave is forced.
    midi_tempo: float | None = Field(
        None, ge=3.58, le=1000.0,
        description="Force this constant tempo in the MIDI file, in quarter notes a minute (MIDI's own unit, in "
        "6/8 too, where a dotted quarter is 1.5 of them). Unset: the MIDI file's tempo map follows the detected "
        "beats and bars (120 BPM in 4/4 when no steady beat is found).",
    )
    # 20-400 BPM takes in every count of a beat: the tracked pulse (40-320 BPM) is read at half, double or a third.
    tempo_hint: float | None = Field(
        None, ge=20.0, le=400.0,
        description="About how fast the beat is (BPM), when you know: the beats, bars and tempo map are found at "
        "the metrical level nearest to it (double or half time, a waltz's bar or its beat). A guess a quarter "
        "off still finds its level; the exact tempo and its changes come from the music. Unset: the music "
        "alone chooses, and may pick the half or double of what you count.",
    )
    time_signature: TimeSignature | None = Field(
        None,
        description="The metre, when you know it: the bars, the MIDI file's time signature and the score follow it "
        "(in 6/8, 9/8 and 12/8 the beat is the dotted quarter), and where the downbeat falls still comes from the "
        "music. Unset: detected (2/4, 3/4, 4/4, 6/8, 9/8 or 12/8). With midi_tempo, the constant tempo's bars.",
    )
    quantize: Quantize = Field(
        "off", description="Also write <stem>.quantized.mid with note starts and ends snapped to this grid "
        "(1/16 = sixteenth notes, 1/8t = eighth-note triplets) of the MIDI file's beats; off: no such file.",
    )
    score: bool = Field(False, description="Also write <stem>.musicxml: a quantised score with bars, time and key "
                        "signature (sixteenth-note grid unless quantize says otherwise).")

    @field_validator("model", "instrument", "quantize", "time_signature", mode="before")
    @classmethod
    def _named_choice(cls, value: object) -> object:
        """A choice is a name, whatever its case and the spaces around it: "Drums", "1/8T" and "4/4 " are
        what they say (a stem's instrument was already read so, the request's was refused)."""
        return value.strip().lower() if isinstance(value, str) else value

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

    @model_validator(mode="after")
    def _compat_knows_no_instrument(self) -> TranscriptionOptions:
        if self.basic_pitch_compat and self.instrument != "auto":
            raise ValueError(
                f"basic_pitch_compat reproduces basic-pitch's own notes, which know no instrument; "
                f"drop basic_pitch_compat to use instrument={self.instrument}, or leave instrument at auto"
            )
        if self.basic_pitch_compat and self.model == "piano":
            raise ValueError("basic_pitch_compat reproduces basic-pitch's notes: it cannot run with model=piano")
        if self.instrument == "drums" and self.model == "piano":
            raise ValueError("instrument=drums runs the drum transcriber: leave model unset (or general)")
        if self.instrument == "drums" and self.score:
            raise ValueError(NO_DRUM_SCORE)
        return self

    @property
    def transcriber(self) -> Literal["general", "piano", "drums"]:
        """What runs: the drum transcriber for drums, else the model asked for (piano for instrument=piano)."""
        if self.instrument == "drums":
            return "drums"
        if self.model is not None:
            return self.model
        return "piano" if self.instrument == "piano" and not self.basic_pitch_compat else "general"

    def options_not_used(self) -> list[str]:
        """The general model's options this request set, where the piano model or the drum transcriber runs."""
        if self.transcriber == "general":
            return []
        return [name for name in GENERAL_MODEL_OPTIONS if name in self.model_fields_set]

    @property
    def rhythm_hints(self) -> Hints:
        """What the user said of the rhythm (``tempo_hint``, ``time_signature``), for the beat tracker."""
        return Hints(tempo_bpm=self.tempo_hint, metre=METRES[self.time_signature] if self.time_signature else None)

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
        elif error.get("type") == "value_error":  # a rule across fields: its message says it all
            problems.append(f"{field}: {error.get('msg').removeprefix('Value error, ')}")
        else:
            problems.append(f"{field}: {error.get('msg')} (got {error.get('input')!r})")
    return "Invalid transcription options: " + "; ".join(problems)
