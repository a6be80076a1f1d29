"""The transcription engine: audio in, notes and files out. Pure: no AWS, no HTTP.

    from midiscribe.engine import transcribe
    result = transcribe("song.m4a")
    result.write_midi("song.mid")
"""

from .errors import (
    AudioDecodeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyInputError,
    EngineError,
    InvalidOptionsError,
    ModelNotFoundError,
    NoAudioError,
    NotAudioError,
)
from .options import TranscriptionOptions
from .pipeline import transcribe
from .transcription import NoteEvent, Transcription

__all__ = [
    "AudioDecodeError",
    "AudioTooLongError",
    "CorruptAudioError",
    "EmptyInputError",
    "EngineError",
    "InvalidOptionsError",
    "ModelNotFoundError",
    "NoAudioError",
    "NotAudioError",
    "NoteEvent",
    "Transcription",
    "TranscriptionOptions",
    "transcribe",
]
