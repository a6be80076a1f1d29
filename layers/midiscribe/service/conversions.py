"""What the API routes do: queue tasks, look them up for their owner, hand out upload forms.

:class:`ConversionService` is built per request from :class:`~midiscribe.service.config.Settings`
with the AWS adapters; tests may pass their own. It raises :mod:`midiscribe.service.errors` only,
which ``api/routes.py`` renders.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from midiscribe.aws.keys import ApiKeyRepository
from midiscribe.aws.queues import MessageQueue, transcribe_message
from midiscribe.aws.storage import Storage
from midiscribe.aws.tasks import TaskRepository
from midiscribe.webhooks import urlguard

from . import file_links, kie
from .config import Settings
from .errors import (
    BadRequestError,
    ForbiddenError,
    InternalError,
    NotFoundError,
    PayloadTooLargeError,
    TooManyRequestsError,
    UnprocessableError,
)
from .requests import (
    UPLOADS_PREFIX,
    AudioInput,
    AudioToMidiRequest,
    FileConvertRequest,
    MidiGenerateRequest,
    UploadRequest,
)
from .tasks import Task, TaskKind, TaskSource, TaskStatus, new_id

log = logging.getLogger(__name__)

MB = 1024 * 1024
QUEUED_MESSAGES = {
    TaskKind.AUDIO_TO_MIDI: "MIDI conversion task queued successfully",
    TaskKind.FILE_CONVERT: "File conversion task queued successfully",
    TaskKind.MIDI_GENERATE: "MIDI generation task queued successfully",
}
# A conservative guess for the first answer's eta: queue pick-up plus decoding, and the engine at
# 20x real time (it measures faster; the guess should not promise too much).
_ETA_BASE_S = 10
_ETA_REALTIME_FACTOR = 20.0
# A followed file link redirects to S3 at once, so its presigned URL need not live long.
FILE_REDIRECT_EXPIRY_S = 300
# Compressed audio at 128 kbit/s: the fewest bytes per second a typical upload has, so the longest duration.
_BYTES_PER_SECOND_GUESS = 16_000
_THROTTLING_CODES = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
}


@dataclass(frozen=True)
class QueuedTask:
    task: Task
    eta_seconds: int
    message: str


def _probe_duration_s(data: bytes) -> float | None:
    """The duration from the file's header when libsndfile can read it; None otherwise (cheap, no decode)."""
    try:
        import soundfile

        info = soundfile.info(io.BytesIO(data))
        return float(info.frames) / float(info.samplerate) if info.samplerate else None
    except Exception:  # any format libsndfile cannot read: the worker decides, not the API
        return None


def estimate_eta_s(duration_s: float | None, size_bytes: int | None) -> int:
    if duration_s is None and size_bytes is not None:
        duration_s = size_bytes / _BYTES_PER_SECOND_GUESS
    if duration_s is None:
        duration_s = 180.0
    return int(_ETA_BASE_S + duration_s / _ETA_REALTIME_FACTOR + 0.999)


def translate_aws_error(error: Exception) -> Exception:
    """Throttling becomes 429 (the client should slow down); anything else a 500 without internals."""
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _THROTTLING_CODES:
        return TooManyRequestsError("Too many requests right now: wait a few seconds and try again.")
    return InternalError("The service could not complete the request; try again later.")


def _plausible_id(value: str) -> bool:
    return 0 < len(value) <= 128 and value.isprintable()


class ConversionService:
    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage | None = None,
        tasks: TaskRepository | None = None,
        transcribe_queue: MessageQueue | None = None,
        resolver: Callable[[str, int], Any] | None = None,
        keys: ApiKeyRepository | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.storage = storage or Storage(settings.bucket)
        self.tasks = tasks or TaskRepository(settings.tasks_table)
        self.transcribe_queue = transcribe_queue or MessageQueue(settings.transcribe_queue_url)
        self._resolver = resolver
        self._keys = keys
        self._clock = clock

    @property
    def keys(self) -> ApiKeyRepository:
        # Only the file-link route reads keys: other requests never build the repository.
        if self._keys is None:
            self._keys = ApiKeyRepository(self.settings.keys_table)
        return self._keys

    @property
    def max_upload_bytes(self) -> int:
        return int(self.settings.max_upload_mb * MB)

    def check_url(self, url: str) -> object:
        """The outbound-URL rule every user-supplied URL passes (raises urlguard.UnsafeUrlError)."""
        return urlguard.check_url(
            url,
            allow_private=self.settings.allow_private_urls,
            allow_http=self.settings.allow_http_urls,
            resolver=self._resolver,
        )

    # ---- queueing

    def submit_audio_to_midi(self, owner_id: str, request: AudioToMidiRequest) -> QueuedTask:
        return self._queue(
            owner_id,
            TaskKind.AUDIO_TO_MIDI,
            request.audio,
            options=request.options,
            sonify_midi=request.sonify_midi,
            save_note_events=request.save_note_events,
            webhook_url=request.webhook_url,
        )

    def submit_file_convert(self, owner_id: str, request: FileConvertRequest) -> QueuedTask:
        return self._queue(
            owner_id,
            TaskKind.FILE_CONVERT,
            request.audio,
            convert=request.convert,
            sonify_midi=False,
            save_note_events=False,
            webhook_url=request.webhook_url,
        )

    def submit_midi_generate(self, owner_id: str, request: MidiGenerateRequest) -> QueuedTask:
        source = self.find_task(owner_id, task_id=request.source_task_id)
        if source.kind is TaskKind.FILE_CONVERT:
            raise BadRequestError(
                f"Task {source.task_id} is a file conversion: give the taskId of an audio_to_midi task.",
                "INVALID_SOURCE_TASK",
            )
        if source.status is TaskStatus.FAILED:
            raise UnprocessableError(
                f"Task {source.task_id} failed ({source.error or 'no reason recorded'}); "
                "there is no audio to generate MIDI from. Submit the audio again with POST /v1/audio_to_midi.",
                "SOURCE_TASK_FAILED",
            )
        task = Task.new(
            kind=TaskKind.MIDI_GENERATE,
            owner_id=owner_id,
            source=TaskSource(kind="task", task_id=source.task_id, filename=source.source.stem),
            retention_days=self.settings.retention_days,
            options=dict(source.options),
            sonify_midi=False,
            save_note_events=False,
            webhook_url=request.callback_url,
        )
        return self._store_and_send(task, eta_seconds=estimate_eta_s(source.audio_duration_s, None))

    def _queue(self, owner_id: str, kind: TaskKind, audio: AudioInput, **fields: Any) -> QueuedTask:
        task_id = new_id()
        duration_s: float | None = None
        size: int | None = None
        if audio.file is not None:
            key = f"{UPLOADS_PREFIX}{task_id}/{audio.filename}"
            duration_s = _probe_duration_s(audio.file.data)
            size = len(audio.file.data)
            try:
                self.storage.put_bytes(key, audio.file.data, audio.file.content_type or "application/octet-stream")
            except (ClientError, BotoCoreError) as error:
                log.exception("storing the upload for task %s failed", task_id)
                raise translate_aws_error(error) from None
            source = TaskSource(kind="s3", key=key, filename=audio.filename)
        elif audio.url:
            source = TaskSource(kind="url", url=audio.url)
        else:
            info = self.storage.head(audio.key)
            if info is None:
                raise NotFoundError(
                    f"No object s3://{self.storage.bucket}/{audio.key}: check the audio_path, or upload the file "
                    "first with POST /v1/uploads.",
                    "AUDIO_NOT_FOUND",
                )
            if info.size > self.max_upload_bytes:
                raise PayloadTooLargeError(
                    f"s3://{self.storage.bucket}/{audio.key} is {info.size} bytes, more than this deployment's "
                    f"limit of {self.max_upload_bytes} bytes.",
                    "FILE_TOO_LARGE",
                )
            size = info.size
            source = TaskSource(kind="s3", key=audio.key)
        task = Task.new(
            kind=kind,
            owner_id=owner_id,
            source=source,
            retention_days=self.settings.retention_days,
            task_id=task_id,
            **fields,
        )
        return self._store_and_send(task, eta_seconds=estimate_eta_s(duration_s, size))

    def _store_and_send(self, task: Task, *, eta_seconds: int) -> QueuedTask:
        # The item first: a worker that receives the message must find the task.
        try:
            self.tasks.create(task)
        except (ClientError, BotoCoreError) as error:
            log.exception("writing task %s failed", task.task_id)
            raise translate_aws_error(error) from None
        try:
            self.transcribe_queue.send(transcribe_message(task.task_id))
        except Exception as error:
            log.exception("queueing task %s failed; marking it FAILED", task.task_id)
            try:
                self.tasks.fail(
                    task.task_id,
                    error="The task could not be queued for processing; submit it again.",
                    error_code="QUEUE_UNAVAILABLE",
                    status_msg="Task could not be queued",
                )
            except Exception:
                log.exception("marking task %s FAILED after the queue error failed too", task.task_id)
            raise translate_aws_error(error) from None
        return QueuedTask(task=task, eta_seconds=eta_seconds, message=QUEUED_MESSAGES[task.kind])

    # ---- reading

    def find_task(
        self,
        owner_id: str,
        *,
        task_id: str = "",
        conversion_id: str = "",
        conversion_type: str = "",
    ) -> Task:
        """The caller's task by task_id or conversion_id; another key's task is reported as missing."""
        if not task_id and not conversion_id:
            raise BadRequestError("Give task_id or conversion_id.", "MISSING_PARAMETER")
        wanted_kind = self._kind_for(conversion_type)
        shown = f"task_id {task_id[:80]!r}" if task_id else f"conversion_id {conversion_id[:80]!r}"
        kind_text = f" {wanted_kind.conversion_type}" if wanted_kind else ""
        missing = NotFoundError(
            f"No{kind_text} conversion with {shown} for this API key: check the id returned when you submitted it.",
            "TASK_NOT_FOUND",
        )
        if not _plausible_id(task_id or conversion_id):
            raise missing  # DynamoDB would refuse such a key; no task can have it
        try:
            task = self.tasks.get(task_id) if task_id else self.tasks.get_by_conversion_id(conversion_id)
        except (ClientError, BotoCoreError) as error:
            log.exception("reading a task failed")
            raise translate_aws_error(error) from None
        if task is not None and conversion_id and task.conversion_id != conversion_id:
            task = None
        if task is None or task.owner_id != owner_id or (wanted_kind and task.kind is not wanted_kind):
            raise missing
        return task

    @staticmethod
    def _kind_for(conversion_type: str) -> TaskKind | None:
        if not conversion_type:
            return None
        for kind in TaskKind:
            if kind.conversion_type == conversion_type.strip().upper():
                return kind
        known = ", ".join(kind.conversion_type for kind in TaskKind)
        raise BadRequestError(
            f"conversionType {conversion_type!r} is not known: use one of {known}.", "INVALID_PARAMETER"
        )

    def link(self, key: str | None, *, download_name: str | None = None) -> str:
        if not key:
            return ""
        return self.storage.presign_get(key, expires_s=self.settings.presign_expiry_s, download_name=download_name)

    def describe(self, task: Task) -> dict[str, Any]:
        """The byId ``conversion`` object: status, and presigned links to whatever exists."""
        outputs = task.outputs
        return {
            "task_id": task.task_id,
            "conversion_id": task.conversion_id,
            "conversionType": task.kind.conversion_type,
            "status": task.status.value,
            "status_msg": task.status_msg,
            "createdAt": task.created_at,
            "updatedAt": task.updated_at,
            "midi_file_path": self.link(outputs.get("midi")),
            "sonify_file_path": self.link(outputs.get("wav")),
            "notes_file_path": self.link(outputs.get("csv")),
            "notes_json_path": self.link(outputs.get("json")),
            "output_path": self.link(outputs.get("converted")),
            "input_file_path": self.link(task.source.key if task.source.kind == "s3" else None),
            "source_name": task.source.filename or task.source.key.rsplit("/", 1)[-1] or task.source.url,
            "progress": 1.0 if task.status is TaskStatus.COMPLETED else task.progress,
            "audio_duration_s": task.audio_duration_s,
            "note_count": task.note_count,
            "error": task.error or None,
            "error_code": task.error_code or None,
            "webhook_status": task.webhook_status or None,
            "webhook_attempts": task.webhook_attempts,
        }

    def list_tasks(self, owner_id: str, *, limit: int, cursor: str = "") -> dict[str, Any]:
        """``GET /v1/tasks``: a page of the caller's tasks, newest first, described as byId describes one,
        and ``next_cursor`` for the page after it (None on the last page)."""
        after = self._decode_cursor(cursor) if cursor else None
        try:
            tasks, following = self.tasks.page_by_owner(owner_id, limit=limit, after=after)
        except (ClientError, BotoCoreError) as error:
            log.exception("listing the tasks of %s failed", owner_id)
            raise translate_aws_error(error) from None
        return {
            "success": True,
            "tasks": [self.describe(task) for task in tasks],
            "next_cursor": self._encode_cursor(following) if following else None,
        }

    @staticmethod
    def _encode_cursor(position: tuple[str, str]) -> str:
        created_at, task_id = position
        text = json.dumps([created_at, task_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")

    @staticmethod
    def _decode_cursor(cursor: str) -> tuple[str, str]:
        invalid = BadRequestError(
            "cursor is not one this API gave out: pass next_cursor from the previous page unchanged, or leave "
            "cursor out for the first page.",
            "INVALID_CURSOR",
        )
        try:
            position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError):
            raise invalid from None
        if not (
            isinstance(position, list)
            and len(position) == 2
            and all(isinstance(part, str) and _plausible_id(part) for part in position)
        ):
            raise invalid
        return position[0], position[1]

    def storage_origins(self) -> list[str]:
        """The origins (scheme://host[:port]) that presigned links and upload forms send a browser to.

        Presigning is computed locally (no request); without credentials there is nothing to presign,
        and so no origin to name.
        """
        probe = "uploads/origin-probe"
        try:
            urls = [
                self.storage.presign_get(probe, expires_s=60),
                self.storage.presign_post(probe, max_bytes=1, expires_s=60, content_type="audio/wav")["url"],
            ]
        except (ClientError, BotoCoreError):
            log.warning("presigning failed: the bucket's origin is unknown", exc_info=True)
            return []
        origins = {"{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url)) for url in urls}
        return sorted(origins)

    def file_location(self, task_id: str, name: str, *, expires: str | None, signature: str | None) -> str:
        """Where a signed file link (``GET /v1/files/{task_id}/{name}``) leads: a fresh presigned S3 URL.

        Unknown tasks and files are 404; a link whose signature does not match the task owner's
        secret, or that has expired, is 403.
        """
        missing_task = NotFoundError(
            f"No task {task_id[:80]!r}: the link names a task that does not exist (or has expired).", "TASK_NOT_FOUND"
        )
        if not _plausible_id(task_id):
            raise missing_task
        try:
            link = file_links.FileLink(task_id=task_id, name=name, expires=file_links.parse_expires(expires))
        except file_links.FileLinkError as error:
            raise ForbiddenError(error.message, error.code) from None
        try:
            task = self.tasks.get(task_id)
            key = self.keys.get(task.owner_id) if task is not None and task.owner_id else None
        except (ClientError, BotoCoreError) as error:
            log.exception("reading a task or its key for a file link failed")
            raise translate_aws_error(error) from None
        if task is None:
            raise missing_task
        if key is None or not key.webhook_secret:
            raise ForbiddenError(
                "The API key that created this task no longer exists, so its links cannot be checked: "
                "results are no longer available through links.",
                "INVALID_SIGNATURE",
            )
        try:
            file_links.verify(key.webhook_secret, link, signature, now=self._clock())
        except file_links.FileLinkError as error:
            raise ForbiddenError(error.message, error.code) from None
        object_key = task.outputs.get(name) if name in file_links.LINKABLE_OUTPUTS else None
        if not object_key:
            raise NotFoundError(
                f"Task {task_id} has no {name[:40]!r} file: it produced "
                f"{', '.join(n for n in file_links.LINKABLE_OUTPUTS if task.outputs.get(n)) or 'no files'}.",
                "FILE_NOT_FOUND",
            )
        try:
            return self.storage.presign_get(object_key, expires_s=FILE_REDIRECT_EXPIRY_S)
        except (ClientError, BotoCoreError) as error:
            log.exception("presigning %s failed", object_key)
            raise translate_aws_error(error) from None

    def record_info(self, owner_id: str, task_id: str) -> dict[str, Any]:
        """kie.ai's record for a midi_generate task (notes read back from its stored result)."""
        task = self.find_task(owner_id, task_id=task_id)
        if task.kind is not TaskKind.MIDI_GENERATE:
            raise NotFoundError(
                f"Task {task_id} is not a MIDI generation task: give the taskId returned by POST /api/v1/midi/generate.",
                "TASK_NOT_FOUND",
            )
        instruments: list[dict[str, Any]] = []
        key = task.outputs.get("midi_data")
        if task.status is TaskStatus.COMPLETED and key:
            try:
                instruments = kie.read_midi_data(self.storage.get_bytes(key))
            except Exception:
                log.exception("reading the midi data of task %s failed", task_id)
                raise InternalError("The MIDI data of this task could not be read; try again later.") from None
        return kie.record(task, instruments)

    # ---- uploads

    def create_upload(self, owner_id: str, request: UploadRequest) -> dict[str, Any]:
        upload_id = new_id()
        key = f"{UPLOADS_PREFIX}{upload_id}/{request.filename}"
        expires_s = 3600
        try:
            form = self.storage.presign_post(
                key, max_bytes=self.max_upload_bytes, expires_s=expires_s, content_type=request.content_type
            )
        except (ClientError, BotoCoreError) as error:
            log.exception("presigning an upload for %s failed", owner_id)
            raise translate_aws_error(error) from None
        return {
            "success": True,
            "upload_id": upload_id,
            "key": key,
            "audio_path": self.storage.uri(key),
            "upload_url": form["url"],
            "fields": {str(k): str(v) for k, v in form["fields"].items()},
            "max_bytes": self.max_upload_bytes,
            "expires_in": expires_s,
            "message": "POST the file to upload_url as multipart/form-data with these fields and then a 'file' "
            "field; then submit audio_path to /v1/audio_to_midi.",
        }
