"""The task: one queued piece of work, its status and its state machine.

A task moves ``IN_QUEUE → PROCESSING → COMPLETED | FAILED`` and never backwards. ``PROCESSING →
PROCESSING`` is allowed because a worker that crashed mid-task leaves the task ``PROCESSING`` and
the redelivered message must be able to claim it again; ``IN_QUEUE → FAILED`` covers a task that
could not even be queued. The repository turns :func:`allowed_sources` into conditional writes, so
the rule holds even when two workers race.

:class:`Task` is the storage-neutral record: :meth:`Task.to_item` / :meth:`Task.from_item` give the
plain dict the repository stores (the webhook code adds its own ``webhook_*`` attributes to the
same item; they are read here so ``byId`` can show them, and never written back).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from .conversions import ConvertSpec
from .timestamps import iso, utc_now


class TaskStatus(StrEnum):
    IN_QUEUE = "IN_QUEUE"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED)


class TaskKind(StrEnum):
    AUDIO_TO_MIDI = "audio_to_midi"
    FILE_CONVERT = "file_convert"
    MIDI_GENERATE = "midi_generate"

    @property
    def conversion_type(self) -> str:
        """The name MusicGPT's ``byId?conversionType=`` uses for this kind."""
        return self.value.upper()


ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.IN_QUEUE: frozenset({TaskStatus.PROCESSING, TaskStatus.FAILED}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.PROCESSING, TaskStatus.COMPLETED, TaskStatus.FAILED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
}


class InvalidTransitionError(Exception):
    """A status change the state machine does not allow (for example COMPLETED → PROCESSING)."""

    def __init__(self, task_id: str, current: TaskStatus | None, target: TaskStatus):
        shown = current.value if current else "missing"
        super().__init__(f"task {task_id}: cannot go from {shown} to {target.value}")
        self.task_id = task_id
        self.current = current
        self.target = target


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def allowed_sources(target: TaskStatus) -> tuple[TaskStatus, ...]:
    """The statuses a task may be in for it to move to ``target`` (what a conditional write checks)."""
    return tuple(status for status, targets in ALLOWED_TRANSITIONS.items() if target in targets)


# What byId shows as status_msg when nothing more specific was recorded.
DEFAULT_STATUS_MESSAGES: dict[TaskStatus, str] = {
    TaskStatus.IN_QUEUE: "Task is queued",
    TaskStatus.PROCESSING: "Task is being processed",
    TaskStatus.COMPLETED: "Task completed",
    TaskStatus.FAILED: "Task failed",
}

COMPLETED_MESSAGES: dict[TaskKind, str] = {
    TaskKind.AUDIO_TO_MIDI: "Audio to Midi Completed",
    TaskKind.FILE_CONVERT: "File Conversion Completed",
    TaskKind.MIDI_GENERATE: "MIDI Generation Completed",
}

FAILED_MESSAGES: dict[TaskKind, str] = {
    TaskKind.AUDIO_TO_MIDI: "Audio to Midi Failed",
    TaskKind.FILE_CONVERT: "File Conversion Failed",
    TaskKind.MIDI_GENERATE: "MIDI Generation Failed",
}

INBOX_OWNER = "inbox"


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class TaskSource:
    """Where a task's input comes from: an object in our bucket, a public URL, an earlier task, or
    several named stems (``kind="stems"``), each with its own source."""

    kind: str  # "s3" | "url" | "task" | "stems"
    key: str = ""
    url: str = ""
    task_id: str = ""
    filename: str = ""
    stems: tuple[TaskStem, ...] = ()

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {name: value for name, value in self.__dict__.items() if value and name != "stems"}
        if self.stems:
            item["stems"] = [stem.to_item() for stem in self.stems]
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TaskSource:
        return cls(
            kind=str(item.get("kind", "")),
            key=str(item.get("key", "")),
            url=str(item.get("url", "")),
            task_id=str(item.get("task_id", "")),
            filename=str(item.get("filename", "")),
            stems=tuple(TaskStem.from_item(stem) for stem in item.get("stems") or []),
        )

    @property
    def stem(self) -> str:
        """The name results are written under: the input file's name without its extension."""
        name = self.filename or self.key.rsplit("/", 1)[-1] or unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])
        stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
        return safe_name(stem, default="audio")


@dataclass(frozen=True)
class TaskStem:
    """One named stem of a multi-stem task: its audio (an ``s3`` or ``url`` source) and its instrument
    family, chosen at submission (the one asked for, else the one its name points at)."""

    name: str
    source: TaskSource
    family: str

    def to_item(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "source": self.source.to_item()}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TaskStem:
        return cls(name=str(item.get("name", "")), family=str(item.get("family", "")),
                   source=TaskSource.from_item(item.get("source") or {}))


# Latin letters that are not a base letter with an accent, so NFKD leaves them whole: written as in ASCII.
_LATIN_LETTERS = str.maketrans({"ß": "ss", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o",
                                "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th", "ı": "i"})


# How much of an uploaded file's own name a task keeps to be known by.
SHOWN_NAME_CHARS = 200


def shown_name(name: str) -> str:
    """A file's own name as people know it (``source_name``, messages): its last path part, in any script,
    without control or format characters (no line breaks, no right-to-left override), at most
    SHOWN_NAME_CHARS characters. Keys, URLs and result files use :func:`safe_name` instead."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in base if unicodedata.category(char)[0] != "C").strip()[:SHOWN_NAME_CHARS]


def safe_name(name: str, *, default: str) -> str:
    """A file name reduced to characters that are safe in S3 keys, URLs and Content-Disposition: ASCII
    letters, digits, ``._-``. Accented Latin letters lose their accents (``Für Elise`` -> ``Fur_Elise``), and
    ß, æ, ø, œ, ł and the like are spelt in ASCII (``Straße`` -> ``Strasse``);
    other characters become ``_``. A name written wholly in another script keeps its extension after
    ``default`` (``練習.wav`` -> ``audio.wav``, where it was ``wav``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    decomposed = unicodedata.normalize("NFKD", base.translate(_LATIN_LETTERS))
    cleaned = "".join(char if char.isascii() and (char.isalnum() or char in "._-")
                      else "" if unicodedata.combining(char) else "_" for char in decomposed)
    stem, dot, extension = cleaned.rpartition(".")
    if dot and base.rpartition(".")[0].strip(".") and not stem.strip("._"):
        cleaned = f"{default}.{extension}"
    cleaned = cleaned.strip("._")[:100]
    return cleaned or default


# Media types an uploaded recording is stored (and later served back) under: sound in any container.
# Anything else (text/html, image/svg+xml…) would let a link to the upload open as a page in the
# browser, on the bucket's domain.
_AUDIO_MEDIA_TYPES = ("audio/", "video/", "application/ogg", "application/octet-stream")


# One type/subtype, nothing else: browsers read "audio/x, text/html" as text/html (the last type in a list wins).
_ONE_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


def stored_media_type(media_type: str | None) -> str:
    """The media type to store an upload under: the client's type/subtype (without parameters) if it is one audio
    type, else a neutral one."""
    base = (media_type or "").split(";", 1)[0].strip().lower()
    audio = any(base.startswith(prefix) if prefix.endswith("/") else base == prefix for prefix in _AUDIO_MEDIA_TYPES)
    return base if audio and _ONE_MEDIA_TYPE.fullmatch(base) else "application/octet-stream"


@dataclass
class Task:
    task_id: str
    conversion_id: str
    kind: TaskKind
    owner_id: str
    source: TaskSource
    status: TaskStatus = TaskStatus.IN_QUEUE
    options: dict[str, Any] = field(default_factory=dict)
    sonify_midi: bool = True
    save_note_events: bool = True
    convert: ConvertSpec | None = None
    webhook_url: str = ""
    created_at: str = ""
    updated_at: str = ""
    expires_at: int = 0
    status_msg: str = ""
    error: str = ""
    error_code: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    audio_duration_s: float | None = None
    note_count: int | None = None
    # Which transcriber ran ("general", "piano", "drums"; stems join theirs: "drums+general") and the
    # exact model(s) ("transkun-2.0.1"), recorded when the task completes.
    model: str = ""
    model_name: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    attempts: int = 0
    progress: float | None = None  # 0..1 while PROCESSING, written by the worker as the engine reports
    notify_queued: bool = False
    # Written by the webhook code on the same item; read-only here.
    webhook_status: str = ""
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def new(
        cls,
        *,
        kind: TaskKind,
        owner_id: str,
        source: TaskSource,
        retention_days: float,
        task_id: str | None = None,
        now: datetime | None = None,
        **fields: Any,
    ) -> Task:
        """A fresh IN_QUEUE task whose item expires (DynamoDB TTL) with the retention period."""
        moment = now or utc_now()
        stamp = iso(moment)
        return cls(
            task_id=task_id or new_id(),
            conversion_id=new_id(),
            kind=kind,
            owner_id=owner_id,
            source=source,
            created_at=stamp,
            updated_at=stamp,
            expires_at=int(moment.timestamp() + retention_days * 86400),
            status_msg=DEFAULT_STATUS_MESSAGES[TaskStatus.IN_QUEUE],
            **fields,
        )

    @property
    def transcription_requested(self) -> bool:
        return self.kind in (TaskKind.AUDIO_TO_MIDI, TaskKind.MIDI_GENERATE)

    def to_item(self) -> dict[str, Any]:
        """The attributes stored for this task (empty values left out; webhook attributes excluded)."""
        item: dict[str, Any] = {
            "task_id": self.task_id,
            "conversion_id": self.conversion_id,
            "kind": self.kind.value,
            "owner_id": self.owner_id,
            "status": self.status.value,
            "source": self.source.to_item(),
            "options": dict(self.options),
            "sonify_midi": self.sonify_midi,
            "save_note_events": self.save_note_events,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
            "status_msg": self.status_msg,
            "attempts": self.attempts,
        }
        optional = {
            "convert": self.convert.to_item() if self.convert else None,
            "webhook_url": self.webhook_url or None,
            "error": self.error or None,
            "error_code": self.error_code or None,
            "outputs": dict(self.outputs) or None,
            "audio_duration_s": self.audio_duration_s,
            "note_count": self.note_count,
            "model": self.model or None,
            "model_name": self.model_name or None,
            "timings": dict(self.timings) or None,
        }
        item.update({name: value for name, value in optional.items() if value is not None})
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Task:
        duration = item.get("audio_duration_s")
        notes = item.get("note_count")
        return cls(
            task_id=str(item["task_id"]),
            conversion_id=str(item.get("conversion_id", "")),
            kind=TaskKind(item.get("kind", TaskKind.AUDIO_TO_MIDI.value)),
            owner_id=str(item.get("owner_id", "")),
            source=TaskSource.from_item(item.get("source") or {}),
            status=TaskStatus(item.get("status", TaskStatus.IN_QUEUE.value)),
            options=dict(item.get("options") or {}),
            sonify_midi=bool(item.get("sonify_midi", True)),
            save_note_events=bool(item.get("save_note_events", True)),
            convert=ConvertSpec.from_item(item["convert"]) if item.get("convert") else None,
            webhook_url=str(item.get("webhook_url", "")),
            created_at=str(item.get("created_at", "")),
            updated_at=str(item.get("updated_at", "")),
            expires_at=int(item.get("expires_at", 0)),
            status_msg=str(item.get("status_msg", "")),
            error=str(item.get("error", "")),
            error_code=str(item.get("error_code", "")),
            outputs={str(k): str(v) for k, v in (item.get("outputs") or {}).items()},
            audio_duration_s=float(duration) if duration is not None else None,
            note_count=int(notes) if notes is not None else None,
            model=str(item.get("model", "")),
            model_name=str(item.get("model_name", "")),
            timings={str(k): float(v) for k, v in (item.get("timings") or {}).items()},
            attempts=int(item.get("attempts", 0)),
            progress=float(item["progress"]) if item.get("progress") is not None else None,
            notify_queued=bool(item.get("notify_queued_at")),
            webhook_status=str(item.get("webhook_status", "")),
            webhook_attempts=[dict(attempt) for attempt in item.get("webhook_attempts") or []],
        )
