"""Errors the engine raises. Each carries a machine code and a message a user can act on.

The worker ends a task ``FAILED`` with the message and code; the CLI prints the message. They carry
no HTTP status: what an API answers is the API's business. ``retryable`` is False for all of them:
bad input does not get better by retrying.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class: something about the input or set-up prevents a transcription."""

    code = "ENGINE_ERROR"
    retryable = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ModelNotFoundError(EngineError):
    """The ONNX model is missing or is not the pinned file."""

    code = "MODEL_NOT_AVAILABLE"


class InvalidOptionsError(EngineError):
    """Transcription options out of range or of the wrong type."""

    code = "INVALID_OPTIONS"


class AudioDecodeError(EngineError):
    """The input could not be decoded as audio (base class of the specific cases below)."""

    code = "UNDECODABLE_AUDIO"


class EmptyInputError(AudioDecodeError):
    """The file has no bytes at all."""

    code = "EMPTY_FILE"


class NotAudioError(AudioDecodeError):
    """The bytes are not any audio format we can read (a text file, an image…)."""

    code = "NOT_AUDIO"


class CorruptAudioError(AudioDecodeError):
    """The file looks like audio but is truncated or damaged."""

    code = "CORRUPT_AUDIO"


class NoAudioError(AudioDecodeError):
    """The file decodes, but holds no samples (zero length) or no audio stream."""

    code = "ZERO_LENGTH_AUDIO"


class AudioTooLongError(AudioDecodeError):
    """The audio is longer than the configured maximum duration."""

    code = "AUDIO_TOO_LONG"
