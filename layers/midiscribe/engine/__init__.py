"""The transcription engine: audio in, notes and files out. Pure: no AWS, no HTTP.

    from midiscribe.engine import transcribe
    result = transcribe("song.m4a")
    result.write_midi("song.mid")

    from midiscribe.engine import transcribe_stems
    result = transcribe_stems([("drums", "drums.wav"), ("bass", "bass.flac"), ("lead", "solo.wav", "winds")])
    result.write_midi("song.mid")   # one track per stem, drums on channel 10
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
from .transcription import NoteEvent, PedalEvent, Track, Transcription

_LAZY = {"transcribe": ".pipeline", "transcribe_stems": ".stems", "transcribe_drums": ".drums",
         "transcribe_piano": ".piano.pipeline"}


def __getattr__(name: str):
    # The transcribers need numpy/onnxruntime, which the API functions' layer does not carry; they import
    # only the options and errors from here, so the transcribers are loaded on first use.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
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
    "Track",
    "Transcription",
    "TranscriptionOptions",
    "transcribe",
    "transcribe_drums",
    "transcribe_piano",
    "transcribe_stems",
]
