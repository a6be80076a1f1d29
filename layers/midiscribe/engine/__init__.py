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
from .transcription import NoteEvent, PedalEvent, Transcription


def __getattr__(name: str):
    # transcribe needs numpy/onnxruntime, which the API functions' layer does not carry; they import
    # only the options and errors from here, so the pipeline is loaded on first use.
    if name == "transcribe":
        from .pipeline import transcribe

        return transcribe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "PedalEvent",
    "Transcription",
    "TranscriptionOptions",
    "transcribe",
]
