"""Posteriorgram chunks in, note events out: the default tracker, or basic-pitch's own notes.

:func:`note_creator` picks by the options: ``basic_pitch_compat`` gives basic-pitch 0.4.0's notes
exactly (:mod:`.notes`); otherwise the instrument's profile (for auto, the one of two that suits
how the recording's notes start) drives :mod:`.tracking`. Both take
the model's output chunk by chunk while the recording streams, and make the notes at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .notes import NoteSettings, PosteriorStore, create_notes, frame_times, note_bends
from .options import TranscriptionOptions
from .profiles import AutoProfiles, note_profile
from .tracking import TrackingStore, chosen_profile, track_notes
from .transcription import NoteEvent


@dataclass
class CreatedNotes:
    notes: list[NoteEvent]  # sorted by start, then pitch, then end
    tuning_cents: float | None  # None: not estimated (basic-pitch compatibility, or too little pitched sound)


class NoteCreator(Protocol):
    def add(self, note: np.ndarray, onset: np.ndarray, contour: np.ndarray) -> None: ...

    def finish(self, frame_count: int) -> CreatedNotes: ...


def note_creator(options: TranscriptionOptions, expected_frames: int | None = None) -> NoteCreator:
    if options.basic_pitch_compat:
        return BasicPitchNotes(options, expected_frames)
    return TrackedNotes(options, expected_frames)


class BasicPitchNotes:
    """basic-pitch 0.4.0's note creation, exactly."""

    def __init__(self, options: TranscriptionOptions, expected_frames: int | None):
        self.settings = NoteSettings.from_options(options)
        self.store = PosteriorStore(self.settings, expected_frames)

    def add(self, note, onset, contour) -> None:
        self.store.add(note, onset, contour)

    def finish(self, frame_count: int) -> CreatedNotes:
        posteriors = self.store.finish(frame_count)
        raw_notes = create_notes(posteriors, self.settings)
        with_bends = self.settings.include_pitch_bends
        notes = _events(raw_notes, [note_bends(posteriors, raw) if with_bends else () for raw in raw_notes])
        return CreatedNotes(notes, None)


class TrackedNotes:
    """The default: the instrument profile's note tracking (auto's choice of two), in the recording's own tuning."""

    def __init__(self, options: TranscriptionOptions, expected_frames: int | None):
        self.profile = note_profile(options)
        self.with_bends = options.include_pitch_bends
        needed = self.profile.all if isinstance(self.profile, AutoProfiles) else self.profile
        self.store = TrackingStore(needed, expected_frames)

    def add(self, note, onset, contour) -> None:
        self.store.add(note, onset, contour)

    def finish(self, frame_count: int) -> CreatedNotes:
        posteriors = self.store.finish(frame_count)
        profile = self.profile
        if isinstance(profile, AutoProfiles):
            profile = chosen_profile(posteriors, profile)
        tracked = track_notes(posteriors, profile, with_bends=self.with_bends)
        return CreatedNotes(_events(tracked, [note.bends for note in tracked]), posteriors.tuning_cents)


def _events(raw_notes, bends: list[tuple[int, ...]]) -> list[NoteEvent]:
    """Frame-indexed notes (``start``, ``end``, ``pitch``, ``amplitude``) as time-sorted note events."""
    starts = frame_times(np.array([n.start for n in raw_notes], dtype=np.int64))
    ends = frame_times(np.array([n.end for n in raw_notes], dtype=np.int64))
    notes = [
        NoteEvent(start_s=float(start_s), end_s=float(end_s), pitch=raw.pitch, amplitude=raw.amplitude,
                  pitch_bends=note_bends)
        for raw, start_s, end_s, note_bends in zip(raw_notes, starts, ends, bends, strict=True)
    ]
    notes.sort(key=lambda n: (n.start_s, n.pitch, n.end_s))
    return notes
