"""What a transcription produces: note events, grouped into instrument tracks, plus what is needed to
write them out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from .instruments import DRUMS_NAME, FAMILY_PROGRAM, Family, program_name
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
    ``model_velocity`` is set by models that predict velocity (the piano model); otherwise the
    velocity is derived from ``amplitude``.
    """

    start_s: float
    end_s: float
    pitch: int
    amplitude: float
    pitch_bends: tuple[int, ...] = ()
    model_velocity: int | None = None

    @property
    def velocity(self) -> int:
        """MIDI velocity 1..127: the model's, else from the note's mean posterior (0 would mean note-off)."""
        if self.model_velocity is not None:
            return max(1, min(127, int(self.model_velocity)))
        return max(1, min(127, round(127 * self.amplitude)))


@dataclass(frozen=True)
class Track:
    """One instrument's notes: a stem of a multi-track transcription, or all of a single-track one.

    ``name`` is what the user called the stem ("drums", "lead vox"); ``family`` and ``program`` say
    what instrument it is (General MIDI program 0..127, meaningless for drums, which play on channel 10).
    """

    name: str
    family: Family
    program: int
    is_drum: bool
    notes: tuple[NoteEvent, ...]
    model_name: str = MODEL_NAME
    pedals: tuple[PedalEvent, ...] = ()
    tuning_cents: float | None = None  # the recording's offset from A4 = 440 Hz (None: not estimated or unknown)

    @classmethod
    def for_family(cls, name: str | None, family: Family, notes, model_name: str = MODEL_NAME,
                   pedals=(), tuning_cents: float | None = None) -> Track:
        """A track of ``family``'s program; ``name`` None names it after its instrument."""
        program, is_drum = FAMILY_PROGRAM[family], family is Family.DRUMS
        if name is None:
            name = DRUMS_NAME if is_drum else program_name(program)
        return cls(name, family, program, is_drum, tuple(notes), model_name, tuple(pedals), tuning_cents)

    @property
    def instrument_name(self) -> str:
        """The General MIDI program's name ("Electric Bass (finger)"), or "Drums"."""
        return DRUMS_NAME if self.is_drum else program_name(self.program)


@dataclass(frozen=True, slots=True)
class PedalEvent:
    """A pedal held down from ``start_s`` to ``end_s``: MIDI controller 64 (sustain) or 67 (soft)."""

    controller: int
    start_s: float
    end_s: float


@dataclass
class Transcription:
    """The result of :func:`midiscribe.engine.transcribe` and :func:`midiscribe.engine.transcribe_stems`.

    ``notes`` holds every note, whatever its track. ``tracks`` is set when the notes come from named
    stems or a known instrument; when it is empty the notes form one track of ``family``.
    """

    notes: list[NoteEvent]
    duration_s: float
    options: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    model_name: str = MODEL_NAME
    timings: dict[str, float] = field(default_factory=dict)
    pedals: list[PedalEvent] = field(default_factory=list)
    # The recording's offset from A4 = 440 Hz in cents (-50..50), which notes are rounded in;
    # None when not estimated (basic_pitch_compat).
    tuning_cents: float | None = None
    tracks: tuple[Track, ...] = ()
    family: Family = Family.AUTO
    rhythm: Rhythm | None = None  # beats, bars, metre and key; None when not tracked
    # What the user should know about the input that made the notes worse, and what to send instead.
    notices: tuple[str, ...] = ()

    @classmethod
    def from_tracks(cls, tracks: list[Track] | tuple[Track, ...], duration_s: float,
                    options: TranscriptionOptions, timings: dict[str, float] | None = None,
                    notices: tuple[str, ...] = ()) -> Transcription:
        """A transcription of several tracks; ``notes`` is all of them in time order."""
        notes = sorted((note for track in tracks for note in track.notes), key=lambda n: (n.start_s, n.pitch, n.end_s))
        model_names = sorted({track.model_name for track in tracks})
        return cls(notes=notes, duration_s=duration_s, options=options, model_name="+".join(model_names) or MODEL_NAME,
                   timings=dict(timings or {}), tracks=tuple(tracks), notices=tuple(notices))

    def instrument_tracks(self) -> tuple[Track, ...]:
        """The tracks to write: the stems' own, or the notes (and pedals) as one track named after its instrument."""
        return self.tracks or (
            Track.for_family(None, self.family, self.notes, self.model_name, self.pedals, self.tuning_cents),
        )

    @property
    def is_multitrack(self) -> bool:
        """More than one track: the CSV then says which instrument each note belongs to."""
        return len(self.tracks) > 1

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
        tempo_map = tempo_map_for(self)
        if not self.tracks:
            return replace(self, notes=quantize_notes(self.notes, tempo_map, grid))
        tracks = tuple(replace(track, notes=tuple(quantize_notes(list(track.notes), tempo_map, grid)))
                       for track in self.tracks)
        notes = sorted((note for track in tracks for note in track.notes), key=lambda n: (n.start_s, n.pitch, n.end_s))
        return replace(self, notes=notes, tracks=tracks)

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
