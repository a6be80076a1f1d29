"""Errors the engine raises. Each carries a machine code and a message a user can act on.

The worker ends a task ``FAILED`` with the message and code; the CLI prints the message. They carry
no HTTP status: what an API answers is the API's business. ``retryable`` is False for all of them:
bad input does not get better by retrying.

Decoder failures are described here, in our words: what is wrong with the file and what to do about
it. A decoding library's own text ("SF_INFO struct incomplete", "Errno …") means nothing to a user
and says which library runs inside; it goes to ``detail``, for logs only.
"""

from __future__ import annotations

import copy


class EngineError(Exception):
    """Base class: something about the input or set-up prevents a transcription."""

    code = "ENGINE_ERROR"
    retryable = False

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail  # what the decoding library said, for logs; never shown to users

    def prefixed(self, prefix: str) -> EngineError:
        """The same error (its type and every attribute: detail, a too-long audio's duration…) with
        ``prefix`` before its message, e.g. the stem it happened in."""
        named = copy.copy(self)
        named.message = prefix + self.message
        named.args = (named.message,)
        return named


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

    @classmethod
    def unknown_format(cls, name: str, formats: str, detail: str = "") -> NotAudioError:
        return cls(f"{name} is not an audio format we can read. Send an audio file ({formats}).", detail)


class CorruptAudioError(AudioDecodeError):
    """The file looks like audio but is truncated or damaged."""

    code = "CORRUPT_AUDIO"

    @classmethod
    def unreadable(cls, name: str, detail: str = "") -> CorruptAudioError:
        """It starts like audio, but no decoder can read it."""
        return cls(
            f"{name} looks like audio but could not be decoded; it is probably truncated or damaged. "
            "Re-export or re-upload the complete file.",
            detail,
        )

    @classmethod
    def damaged_part_way(cls, name: str, detail: str = "") -> CorruptAudioError:
        """Decoding started, then stopped at bytes that are not audio."""
        return cls(
            f"{name} is damaged or truncated part-way through. Re-export or re-upload the complete file.", detail
        )


class UnsupportedAudioError(AudioDecodeError):
    """Audio whose sample rate or channel count is outside what the engine reads."""

    code = "UNSUPPORTED_AUDIO"


class NoAudioError(AudioDecodeError):
    """The file decodes, but holds no samples (zero length) or no audio stream."""

    code = "ZERO_LENGTH_AUDIO"

    @classmethod
    def zero_length(cls, name: str) -> NoAudioError:
        return cls(f"{name} holds no audio samples (zero length). Send a recording with sound in it.")


class AudioTooLongError(AudioDecodeError):
    """The audio is longer than the configured maximum duration."""

    code = "AUDIO_TOO_LONG"
    duration_s: float | None = None  # how long the audio is at least, when known

    @classmethod
    def over(cls, name: str, duration_s: float, limit_s: float, *, at_least: bool = False) -> AudioTooLongError:
        prefix = "at least " if at_least else ""
        error = cls(
            f"{name} is {prefix}{_duration_text(duration_s)} long; the maximum is {_duration_text(limit_s)}. "
            "Trim it or split it into shorter parts."
        )
        error.duration_s = duration_s
        return error


def _duration_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} minutes"
