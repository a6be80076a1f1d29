"""What a client asks for, once the API has read and checked the request: the use cases' inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conversions import ConvertSpec
from .tasks import safe_name, shown_name


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class AudioInput:
    """Exactly one of: an uploaded file, a public URL, or a key in this deployment's bucket."""

    file: UploadedFile | None = None
    url: str = ""
    key: str = ""
    path: str = ""  # the audio_path as the client wrote it, which errors about ``key`` quote

    @property
    def filename(self) -> str:
        """The uploaded file's name for its S3 key and the results' names (ASCII: 練習.wav is audio.wav)."""
        if self.file is not None:
            return safe_name(self.file.filename, default="audio")
        return ""

    @property
    def shown_name(self) -> str:
        """The uploaded file's own name, which the task is listed and spoken of by (練習.wav)."""
        return shown_name(self.file.filename) if self.file is not None else ""


@dataclass(frozen=True)
class StemInput:
    """One named stem of a request: its audio and the instrument family asked for ("" = by its name)."""

    name: str
    audio: AudioInput
    instrument: str = ""


@dataclass(frozen=True)
class AudioToMidiRequest:
    audio: AudioInput  # empty (AudioInput()) when the request gives stems instead
    options: dict[str, Any]  # only the transcription options the client set, already validated
    sonify_midi: bool = True
    save_note_events: bool = True
    webhook_url: str = ""
    stems: tuple[StemInput, ...] = ()


@dataclass(frozen=True)
class FileConvertRequest:
    audio: AudioInput
    convert: ConvertSpec
    webhook_url: str = ""


@dataclass(frozen=True)
class MidiGenerateRequest:
    source_task_id: str
    callback_url: str


@dataclass(frozen=True)
class UploadRequest:
    filename: str  # ASCII, for the key (``safe_name``)
    content_type: str
    shown_name: str = ""  # the name as the client gave it (``shown_name``): what tasks on the upload are listed by
