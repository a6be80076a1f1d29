"""A small three-track transcription (drums, bass, keys) shared by the writer and kie.ai tests."""

from __future__ import annotations

from midiscribe.engine.instruments import Family
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.transcription import NoteEvent, Track, Transcription


def band() -> Transcription:
    drums = Track.for_family("drums", Family.DRUMS, [NoteEvent(0.5, 0.6, 36, 1.0), NoteEvent(1.0, 1.1, 38, 0.5),
                                                       NoteEvent(1.0, 1.1, 42, 0.25)], "drums-model")
    bass = Track.for_family("bass", Family.BASS, [NoteEvent(0.5, 0.9, 40, 0.8, (0, 1, 2)), NoteEvent(1.5, 2.0, 43, 0.6)])
    keys = Track.for_family("keys", Family.PIANO, [NoteEvent(0.75, 1.25, 64, 0.7), NoteEvent(0.75, 1.25, 67, 0.7)])
    return Transcription.from_tracks([drums, bass, keys], 2.5, TranscriptionOptions(midi_tempo=100.0))
