"""The transcribe worker: one queue message → one task claimed, run, and recorded exactly once.

Messages are our ``{"task_id"}`` or S3 ``inbox/`` notifications (which create their task here).
Per task: claim it (``IN_QUEUE``, or a ``PROCESSING`` left behind by a crashed worker →
``PROCESSING``), fetch the input, run it, write ``results/{task_id}/…``, then ``COMPLETED``.
Finished tasks are left alone, so a redelivered message does no work twice.

Failures come in two kinds. Input that can never work (not audio, too long, a URL that answers
404, an object that no longer exists) ends the task ``FAILED`` with a message for the user and the
message is consumed. Anything else (throttling, timeouts, network) is raised so SQS retries; on
the queue's last receive the task is marked ``FAILED`` first, so nothing is left ``PROCESSING``
when the message moves to the dead-letter queue.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from midiscribe.aws.queues import MessageQueue, notify_message
from midiscribe.aws.storage import ObjectNotFoundError, ObjectTooLargeError, Storage
from midiscribe.aws.tasks import TaskExistsError, TaskRepository
from midiscribe.engine.errors import EngineError, ModelNotFoundError
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.webhooks import urlguard

from . import kie
from .config import Settings
from .convert import CONTENT_TYPES, convert_file
from .tasks import (
    COMPLETED_MESSAGES,
    FAILED_MESSAGES,
    INBOX_OWNER,
    InvalidTransitionError,
    Task,
    TaskKind,
    TaskSource,
    TaskStatus,
    safe_name,
)

MB = 1024 * 1024
INBOX_PREFIX = "inbox/"
RESULTS_PREFIX = "results/"
URL_DOWNLOAD_TIMEOUT_S = 30.0
PROGRESS_INTERVAL_S = 5.0
# Inbox task ids are derived from the object's identity, so a redelivered notification finds its task.
_INBOX_NAMESPACE = uuid.UUID("5b0d8a5e-4a53-4f0e-9d43-6f6d2b8e7c11")
OUTPUT_CONTENT_TYPES = {
    "midi": "audio/midi",
    "wav": "audio/wav",
    "csv": "text/csv",
    "json": "application/json",
    "midi_data": "application/json",
}


class TaskInputError(Exception):
    """The task's input can never be processed; the task fails with this message and is not retried."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class TransientError(Exception):
    """Worth retrying later (a timeout, a source task still running)."""


@dataclass
class WorkResult:
    outputs: dict[str, str]
    audio_duration_s: float | None = None
    note_count: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _default_transcribe(*args: Any, **kwargs: Any) -> Any:
    from midiscribe.engine import transcribe

    return transcribe(*args, **kwargs)


def result_key(task_id: str, stem: str, extension: str) -> str:
    return f"{RESULTS_PREFIX}{task_id}/{stem}.{extension}"


def inbox_task_id(bucket: str, key: str, identity: str) -> str:
    return str(uuid.uuid5(_INBOX_NAMESPACE, f"s3://{bucket}/{key}#{identity}"))


def _describe_transient(error: BaseException) -> str:
    """A reason a user can read, without internals: the error's type and, for AWS errors, its code."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
    return f"{type(error).__name__}{f' ({code})' if code else ''}"


@contextmanager
def _named_as_uploaded(path: Path, source: TaskSource) -> Iterator[None]:
    """Engine messages name the file they read; users should see their file's name, not our temp path."""
    try:
        yield
    except EngineError as error:
        shown = source.filename or source.key.rsplit("/", 1)[-1] or urlsplit(source.url).path.rsplit("/", 1)[-1]
        error.message = error.message.replace(str(path), shown or "the input")
        error.args = (error.message,)
        raise


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        storage: Storage | None = None,
        tasks: TaskRepository | None = None,
        notify_queue: MessageQueue | None = None,
        transcribe: Callable[..., Any] | None = None,
        download: Callable[..., int] | None = None,
        logger: Any = None,
        metrics: Any = None,
    ):
        self.settings = settings
        self.storage = storage or Storage(settings.bucket)
        self.tasks = tasks or TaskRepository(settings.tasks_table)
        self._notify_queue = notify_queue
        self._transcribe = transcribe or _default_transcribe
        self._download = download or urlguard.download
        self.metrics = metrics
        if logger is None:
            from aws_lambda_powertools import Logger

            logger = Logger(service="midiscribe")
        self.log = logger

    @property
    def notify_queue(self) -> MessageQueue:
        if self._notify_queue is None:
            self._notify_queue = MessageQueue(self.settings.notify_queue_url)
        return self._notify_queue

    # ---- messages

    def handle_message(self, body: str, *, receive_count: int = 1) -> list[str]:
        """Process one SQS message body; returns the task ids it concerned. Raises to have it retried."""
        message = self._parse(body)
        if message is None:
            return []
        if message.get("Event") == "s3:TestEvent":
            self.log.info("s3 test event skipped")
            return []
        if "Records" in message:
            task_ids = list(self.tasks_from_s3_event(message))
            for task_id in task_ids:
                self.process_task(task_id, receive_count=receive_count)
            return task_ids
        task_id = message.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            self.log.error("message without task_id dropped", extra={"body": body[:200]})
            return []
        self.process_task(task_id, receive_count=receive_count)
        return [task_id]

    def handle_dead_letter(self, body: str) -> list[str]:
        """A message SQS gave up on: make sure its task ends FAILED (and its webhook goes out)."""
        message = self._parse(body)
        if message is None:
            return []
        task_ids = (
            list(self.tasks_from_s3_event(message, create=False))
            if "Records" in message
            else [message["task_id"]]
            if isinstance(message.get("task_id"), str)
            else []
        )
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task is None:
                continue
            if not task.status.is_final:
                self._fail(
                    task,
                    f"Processing stopped without finishing on each of {self.settings.transcribe_max_receive} "
                    "attempts (the worker timed out or ran out of memory). Try a shorter recording, or "
                    "raise the worker's Timeout/MemorySize, then submit it again.",
                    "RETRIES_EXHAUSTED",
                )
            else:
                self._notify_once(task)
        return task_ids

    def _parse(self, body: str) -> dict[str, Any] | None:
        try:
            message = json.loads(body)
        except (TypeError, ValueError):
            self.log.error("unreadable message dropped", extra={"body": str(body)[:200]})
            return None
        if not isinstance(message, dict):
            self.log.error("message that is not an object dropped", extra={"body": str(body)[:200]})
            return None
        return message

    def tasks_from_s3_event(self, event: dict[str, Any], *, create: bool = True) -> Iterator[str]:
        """The inbox tasks of an S3 notification, created (default options, owner "inbox") if new."""
        for record in event.get("Records") or []:
            if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
                "ObjectCreated"
            ):
                continue
            s3 = record.get("s3") or {}
            bucket = str((s3.get("bucket") or {}).get("name", ""))
            obj = s3.get("object") or {}
            # Keys arrive URL-encoded ("my song.wav" as "my+song.wav").
            key = unquote_plus(str(obj.get("key", "")))
            if bucket != self.storage.bucket or not key.startswith(INBOX_PREFIX) or key.endswith("/"):
                self.log.info("s3 record outside the inbox skipped", extra={"bucket": bucket, "key": key})
                continue
            task_id = inbox_task_id(bucket, key, str(obj.get("sequencer") or obj.get("eTag") or ""))
            if create:
                task = Task.new(
                    kind=TaskKind.AUDIO_TO_MIDI,
                    owner_id=INBOX_OWNER,
                    source=TaskSource(kind="s3", key=key, filename=key.rsplit("/", 1)[-1]),
                    retention_days=self.settings.retention_days,
                    task_id=task_id,
                )
                try:
                    self.tasks.create(task)
                    self.log.info("inbox task created", extra={"task_id": task_id, "key": key})
                except TaskExistsError:
                    pass
            yield task_id

    # ---- one task

    def process_task(self, task_id: str, *, receive_count: int = 1) -> TaskStatus | None:
        self.log.append_keys(task_id=task_id)
        try:
            return self._process(task_id, receive_count)
        except Exception as error:
            if receive_count >= self.settings.transcribe_max_receive:
                self._give_up(task_id, error, receive_count)
                self.log.exception("task failed on its last attempt", extra={"receive_count": receive_count})
            else:
                self.log.exception("task failed; SQS will retry it", extra={"receive_count": receive_count})
            raise
        finally:
            self.log.remove_keys(["task_id"])

    def _give_up(self, task_id: str, error: Exception, receive_count: int) -> None:
        """The queue's last try failed too: record why before the message goes to the dead-letter queue."""
        try:
            task = self.tasks.get(task_id)
            if task is not None and not task.status.is_final:
                self._fail(
                    task,
                    f"The task failed {receive_count} times with a temporary error ({_describe_transient(error)}) "
                    "and was given up; submit it again.",
                    "RETRIES_EXHAUSTED",
                )
        except Exception:  # the store itself may be what is failing; the DLQ record remains
            self.log.exception("recording the failure failed")

    def _process(self, task_id: str, receive_count: int) -> TaskStatus | None:
        task = self.tasks.get(task_id)
        if task is None:
            self.log.warning("message for an unknown task dropped")
            return None
        if task.status.is_final:
            self.log.info("task already finished; nothing to do", extra={"status": task.status.value})
            self._notify_once(task)
            return task.status
        try:
            task = self.tasks.claim(task_id)
        except InvalidTransitionError as refused:
            self.log.info("task not claimable", extra={"status": str(refused.current)})
            current = self.tasks.get(task_id)
            if current is not None and current.status.is_final:
                self._notify_once(current)
            return current.status if current else None
        self.log.info("task claimed", extra={"kind": task.kind.value, "attempt": task.attempts})
        started = time.perf_counter()
        try:
            result = self._run(task)
        except TaskInputError as error:
            return self._fail(task, error.message, error.code)
        except EngineError as error:
            if isinstance(error, ModelNotFoundError):
                raise  # a deployment problem, not the input's: retry (and end in the DLQ) rather than blame the file
            return self._fail(task, error.message, error.code)
        elapsed = time.perf_counter() - started
        result.timings["total_s"] = round(elapsed, 4)
        try:
            completed = self.tasks.complete(
                task_id,
                outputs=result.outputs,
                status_msg=COMPLETED_MESSAGES[task.kind],
                audio_duration_s=result.audio_duration_s,
                note_count=result.note_count,
                timings=result.timings,
            )
        except InvalidTransitionError as refused:
            # Another delivery finished it first; its outcome stands.
            self.log.info("task finished elsewhere", extra={"status": str(refused.current)})
            return refused.current
        self.log.info(
            "task completed",
            extra={"audio_s": result.audio_duration_s, "notes": result.note_count, "seconds": round(elapsed, 3)},
        )
        self._record_metrics(result.audio_duration_s, elapsed)
        self._notify_once(completed)
        return completed.status

    def _fail(self, task: Task, message: str, code: str) -> TaskStatus:
        try:
            failed = self.tasks.fail(task.task_id, error=message, error_code=code, status_msg=FAILED_MESSAGES[task.kind])
        except InvalidTransitionError:
            current = self.tasks.get(task.task_id)
            return current.status if current else TaskStatus.FAILED
        self.log.warning("task failed", extra={"code": code, "error": message})
        if self.metrics is not None:
            from aws_lambda_powertools.metrics import MetricUnit

            self.metrics.add_metric(name="TasksFailed", unit=MetricUnit.Count, value=1)
        self._notify_once(failed)
        return failed.status

    def _notify_once(self, task: Task) -> None:
        if not task.webhook_url or task.notify_queued or not task.status.is_final:
            return
        event = "task.completed" if task.status is TaskStatus.COMPLETED else "task.failed"
        self.notify_queue.send(notify_message(task.task_id, event))
        self.tasks.mark_notify_queued(task.task_id)
        self.log.info("webhook queued", extra={"event": event})

    def _record_metrics(self, audio_s: float | None, elapsed_s: float) -> None:
        if self.metrics is None:
            return
        from aws_lambda_powertools.metrics import MetricUnit

        self.metrics.add_metric(name="ProcessingSeconds", unit=MetricUnit.Seconds, value=elapsed_s)
        if audio_s:
            self.metrics.add_metric(name="AudioSeconds", unit=MetricUnit.Seconds, value=audio_s)
            if elapsed_s > 0:
                self.metrics.add_metric(name="RealTimeFactor", unit=MetricUnit.Count, value=audio_s / elapsed_s)

    # ---- the work itself

    def _run(self, task: Task) -> WorkResult:
        with tempfile.TemporaryDirectory(prefix="midiscribe-") as folder:
            workdir = Path(folder)
            if task.kind is TaskKind.FILE_CONVERT:
                return self._convert(task, workdir)
            if task.kind is TaskKind.MIDI_GENERATE:
                return self._generate(task, workdir)
            return self._transcribe_task(task, task.source, workdir)

    def _fetch(self, source: TaskSource, workdir: Path) -> tuple[Path, float]:
        started = time.perf_counter()
        if source.kind == "s3":
            path = workdir / ("input" + Path(source.key).suffix[:10])
            try:
                self.storage.download_file(source.key, path, max_bytes=int(self.settings.max_upload_mb * MB))
            except ObjectNotFoundError:
                raise TaskInputError(
                    f"The input s3://{self.storage.bucket}/{source.key} does not exist (any more): upload it again.",
                    "AUDIO_NOT_FOUND",
                ) from None
            except ObjectTooLargeError as error:
                raise TaskInputError(
                    f"The input is {error.size} bytes, more than this deployment's limit of {error.limit} bytes.",
                    "FILE_TOO_LARGE",
                ) from None
        elif source.kind == "url":
            path = workdir / ("input" + Path(urlsplit(source.url).path).suffix[:10])
            try:
                with open(path, "wb") as destination:
                    self._download(
                        source.url,
                        destination,
                        max_bytes=int(self.settings.max_url_download_mb * MB),
                        timeout=URL_DOWNLOAD_TIMEOUT_S,
                        allow_private=self.settings.allow_private_urls,
                        allow_http=self.settings.allow_http_urls,
                    )
            except urlguard.UnsafeUrlError as error:
                raise TaskInputError(f"audio_url is refused: {error}.", "INVALID_AUDIO_URL") from None
            except urlguard.DownloadError as error:
                if error.timed_out:
                    raise TransientError(f"downloading the audio timed out: {error.message}") from None
                raise TaskInputError(error.message, "DOWNLOAD_FAILED") from None
        else:
            raise TaskInputError(f"The task's input ({source.kind!r}) cannot be read.", "INVALID_INPUT")
        return path, time.perf_counter() - started

    def _transcribe_task(self, task: Task, source: TaskSource, workdir: Path) -> WorkResult:
        path, fetch_s = self._fetch(source, workdir)
        options = TranscriptionOptions.parse(task.options)
        with _named_as_uploaded(path, source):
            transcription = self._transcribe(
                path, options, max_duration_s=self.settings.max_duration_s, progress=self._progress_reporter(task)
            )
        started = time.perf_counter()
        stem = source.stem if task.kind is TaskKind.AUDIO_TO_MIDI else task.source.stem
        writers = [("midi", "mid", transcription.write_midi)]
        if task.sonify_midi:
            writers.append(("wav", "wav", transcription.write_wav))
        if task.save_note_events or task.kind is TaskKind.MIDI_GENERATE:
            writers.append(("json", "json", transcription.write_json))
        if task.save_note_events:
            writers.append(("csv", "csv", transcription.write_csv))
        outputs: dict[str, str] = {}
        for name, extension, write in writers:
            local = workdir / f"{stem}.{extension}"
            write(local)
            key = result_key(task.task_id, stem, extension)
            self.storage.upload_file(local, key, OUTPUT_CONTENT_TYPES[name])
            outputs[name] = key
        timings = {name: round(float(seconds), 4) for name, seconds in (transcription.timings or {}).items()}
        timings["fetch_s"] = round(fetch_s, 4)
        timings["write_s"] = round(time.perf_counter() - started, 4)
        return WorkResult(
            outputs=outputs,
            audio_duration_s=float(transcription.duration_s),
            note_count=len(transcription.notes),
            timings=timings,
        )

    def _progress_reporter(self, task: Task) -> Callable[[float, float | None], None]:
        """The engine's progress callback: a write to the task every few seconds, not on every window."""
        last = {"at": time.monotonic(), "fraction": 0.0}

        def report(done_s: float, total_s: float | None) -> None:
            if not total_s or total_s <= 0:
                return
            fraction = min(1.0, max(0.0, done_s / total_s))
            now = time.monotonic()
            if now - last["at"] < PROGRESS_INTERVAL_S or fraction - last["fraction"] < 0.05:
                return
            last.update(at=now, fraction=fraction)
            try:
                self.tasks.record_progress(
                    task.task_id, fraction=fraction, status_msg=f"Transcribing: {fraction:.0%} of {total_s:.0f} s"
                )
            except Exception:  # progress is a nicety; the task must not fail over it
                self.log.warning("recording progress failed", exc_info=True)

        return report

    def _convert(self, task: Task, workdir: Path) -> WorkResult:
        if task.convert is None:
            raise TaskInputError("The file_convert task has no target format.", "INVALID_INPUT")
        path, fetch_s = self._fetch(task.source, workdir)
        started = time.perf_counter()
        extension = task.convert.target_format
        stem = task.source.stem
        local = workdir / f"{stem}-converted.{extension}"
        with _named_as_uploaded(path, task.source):
            duration_s = convert_file(path, local, task.convert, max_duration_s=self.settings.max_duration_s)
        key = result_key(task.task_id, stem, extension)
        self.storage.upload_file(local, key, CONTENT_TYPES[extension])
        return WorkResult(
            outputs={"converted": key},
            audio_duration_s=duration_s,
            timings={"fetch_s": round(fetch_s, 4), "convert_s": round(time.perf_counter() - started, 4)},
        )

    def _generate(self, task: Task, workdir: Path) -> WorkResult:
        """kie.ai's MIDI generation: the earlier task's notes if it has them, else transcribe its audio."""
        source_task = self.tasks.get(task.source.task_id)
        if source_task is None:
            raise TaskInputError(
                f"The source task {task.source.task_id} no longer exists (tasks expire after "
                f"{self.settings.retention_days:g} days).",
                "SOURCE_TASK_NOT_FOUND",
            )
        notes_key = source_task.outputs.get("json")
        if source_task.status is TaskStatus.COMPLETED and notes_key:
            try:
                document = self.storage.get_bytes(notes_key)
            except ObjectNotFoundError:
                document = b""
            if document:
                instruments = kie.instruments_from_notes_document(document)
                outputs = {"json": notes_key}
                if source_task.outputs.get("midi"):
                    outputs["midi"] = source_task.outputs["midi"]
                return self._store_midi_data(task, instruments, outputs, source_task.audio_duration_s)
        # No stored notes (not asked for, expired, or the task has not finished): transcribe its input.
        result = self._transcribe_task(task, source_task.source, workdir)
        instruments = kie.instruments_from_notes_document(self.storage.get_bytes(result.outputs["json"]))
        stored = self._store_midi_data(task, instruments, result.outputs, result.audio_duration_s)
        stored.timings.update(result.timings)
        return stored

    def _store_midi_data(
        self, task: Task, instruments: list[dict[str, Any]], outputs: dict[str, str], duration_s: float | None
    ) -> WorkResult:
        key = result_key(task.task_id, safe_name(task.source.stem, default="audio"), "midi-data.json")
        self.storage.put_bytes(key, kie.midi_data_document(instruments), OUTPUT_CONTENT_TYPES["midi_data"])
        return WorkResult(
            outputs={**outputs, "midi_data": key},
            audio_duration_s=duration_s,
            note_count=sum(len(instrument["notes"]) for instrument in instruments),
        )
