"""Queueing work: audio_to_midi, file_convert and kie.ai's midi/generate become tasks on the queue.

Each submission checks what depends on this deployment (the URL rules, the size limit, that an
audio_path names one of the caller's own uploads) and what the audio's header declares (sample rate,
channels, duration, and for a conversion the size of its output), all before any work is queued;
then it stores the upload, writes the task item and only then sends the message, so a worker that
receives it always finds the task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Any

from midiscribe import net
from midiscribe.domain.conversions import MAX_CONVERTED_BYTES, MAX_CONVERTED_MB, ConvertSpec
from midiscribe.domain.errors import (
    DomainError,
    InvalidRequestError,
    NotFoundError,
    TooLargeError,
    UnprocessableError,
)
from midiscribe.domain.messages import transcribe_message
from midiscribe.domain.ports import MessageSender, ObjectStore, TaskStore
from midiscribe.domain.requests import (
    AudioInput,
    AudioToMidiRequest,
    FileConvertRequest,
    MidiGenerateRequest,
    StemInput,
)
from midiscribe.domain.tasks import (
    Task,
    TaskKind,
    TaskSource,
    TaskStatus,
    TaskStem,
    new_id,
    safe_name,
    stored_media_type,
)
from midiscribe.engine import audio_header
from midiscribe.engine.errors import (
    AudioTooLongError,
    CorruptAudioError,
    InvalidOptionsError,
    NoAudioError,
    UnsupportedAudioError,
)
from midiscribe.engine.instruments import Family, family_for_stem
from midiscribe.engine.options import TranscriptionOptions, low_rate_drums_note, not_used_note
from midiscribe.engine.stems import check_scoreable, stem_options, stem_transcribers

from .config import Settings, megabytes
from .lookups import TaskLookup
from .object_keys import owns_upload, upload_key

log = logging.getLogger(__name__)

QUEUED_MESSAGES = {
    TaskKind.AUDIO_TO_MIDI: "MIDI conversion task queued successfully",
    TaskKind.FILE_CONVERT: "File conversion task queued successfully",
    TaskKind.MIDI_GENERATE: "MIDI generation task queued successfully",
}
# A conservative guess for the first answer's eta: queue pick-up plus decoding, and the engine at
# 20x real time (it measures faster; the guess should not promise too much), the piano model at real
# time (it measures about 0.7 s per second of audio on 2 CPUs, slower under load).
_ETA_BASE_S = 10
_ETA_REALTIME_FACTOR = 20.0
_ETA_PIANO_REALTIME_FACTOR = 1.0
# Compressed audio at 128 kbit/s: the fewest bytes per second a typical upload has, so the longest duration.
_BYTES_PER_SECOND_GUESS = 16_000


# What a multi-stem task's results are named after (results/<task_id>/stems.mid …).
STEMS_FILENAME = "stems"


@dataclass(frozen=True)
class QueuedTask:
    task: Task
    eta_seconds: int
    message: str
    warnings: tuple[str, ...] = ()  # what the request set that will change nothing (engine.options.not_used_note)


def estimate_eta_s(duration_s: float | None, size_bytes: int | None, transcriber: str = "") -> int:
    return int(_ETA_BASE_S + _engine_s(duration_s, size_bytes, transcriber) + 0.999)


def estimate_stems_eta_s(stems: list[tuple[float | None, int | None, str]]) -> int:
    """The eta of a multi-stem task, from each stem's (duration, size, transcriber). The stems run side by side
    but share the worker's CPUs, each of which one stem alone keeps busy: their times add up."""
    return int(_ETA_BASE_S + sum(_engine_s(*stem) for stem in stems) + 0.999)


def _engine_s(duration_s: float | None, size_bytes: int | None, transcriber: str) -> float:
    if duration_s is None and size_bytes is not None:
        duration_s = size_bytes / _BYTES_PER_SECOND_GUESS
    if duration_s is None:
        duration_s = 180.0
    factor = _ETA_PIANO_REALTIME_FACTOR if transcriber == "piano" else _ETA_REALTIME_FACTOR
    return duration_s / factor


def _low_rate_warning(declared: audio_header.DeclaredAudio | None, transcriber: str) -> str | None:
    """What to tell the user of drums whose header declares a low sample rate (None: nothing to tell)."""
    return low_rate_drums_note(declared.sample_rate) if transcriber == "drums" and declared is not None else None


@contextmanager
def naming_stem(name: str) -> Iterator[None]:
    """A refusal about one stem says which stem it is about."""
    try:
        yield
    except DomainError as refused:
        raise type(refused)(f"Stem {name!r}: {refused.message}", refused.code) from None


def stem_families(stems: tuple[StemInput, ...], options: dict[str, Any]) -> dict[str, str]:
    """Each stem's instrument family: the one asked for, else the one its name points at, else the
    request's ``instrument`` (auto when that is unset). Refused when the options cannot run that family."""
    default = Family(options.get("instrument") or Family.AUTO.value)
    families = {}
    for stem in stems:
        family = Family(stem.instrument) if stem.instrument else family_for_stem(stem.name)
        families[stem.name] = (default if family is Family.AUTO and not stem.instrument else family).value
    shared = TranscriptionOptions.parse({name: value for name, value in options.items() if name != "instrument"})
    try:
        check_scoreable(families.values(), shared)
    except InvalidOptionsError as refused:
        raise InvalidRequestError(refused.message, refused.code) from None
    given = {stem.name for stem in stems if stem.instrument}
    for name, family in families.items():
        if family != Family.DRUMS.value:
            try:
                stem_options(shared, Family(family))
            except InvalidOptionsError as refused:
                if shared.basic_pitch_compat and name not in given:
                    # The family came from the stem's name (or the request's instrument), not from the stem's own
                    # instrument: the advice is the one thing to give this stem.
                    raise InvalidRequestError(
                        f"Stem {name!r} is transcribed as {family} (from its name or the request's instrument), "
                        f"and basic_pitch_compat reproduces basic-pitch's own notes, which know no instrument: give "
                        f"this stem \"instrument\": \"auto\" (in multipart, stem.{name}.instrument=auto), or drop "
                        f"basic_pitch_compat.", refused.code) from None
                raise InvalidRequestError(f"Stem {name!r} ({family}): {refused.message}", refused.code) from None
    return families


@dataclass
class Submissions:
    settings: Settings
    _: KW_ONLY
    tasks: TaskStore
    storage: ObjectStore
    transcribe_queue: MessageSender
    lookup: TaskLookup
    resolver: net.Resolver | None = None  # DNS for the URL checks (tests pass their own)

    def submit_audio_to_midi(self, owner_id: str, request: AudioToMidiRequest) -> QueuedTask:
        if request.stems:
            return self._queue_stems(owner_id, request)
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
        self._check_url("callBackUrl", request.callback_url)
        source = self.lookup.find_task(owner_id, task_id=request.source_task_id)
        if source.kind is TaskKind.FILE_CONVERT:
            raise InvalidRequestError(
                f"Task {source.task_id} is a file conversion: give the taskId of an audio_to_midi task.",
                "INVALID_SOURCE_TASK",
            )
        if source.kind is TaskKind.MIDI_GENERATE:
            # Its source is a task, not audio: the worker could only read it once that generation had finished.
            raise InvalidRequestError(
                f"Task {source.task_id} is a MIDI generation: give the taskId of an audio_to_midi task "
                f"(this generation's is {source.source.task_id}).",
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

    def _check_url(self, name: str, url: str) -> None:
        """The outbound-URL rule every user-supplied URL passes (``midiscribe.net``)."""
        if not url:
            return
        try:
            net.check_url(
                url,
                allow_private=self.settings.allow_private_urls,
                allow_http=self.settings.allow_http_urls,
                resolver=self.resolver,
            )
        except net.UnsafeUrlError as refused:
            code = "INVALID_AUDIO_URL" if name == "audio_url" else "INVALID_WEBHOOK_URL"
            raise InvalidRequestError(f"{name} is refused: {refused}.", code) from None

    def _queue(self, owner_id: str, kind: TaskKind, audio: AudioInput, **fields: Any) -> QueuedTask:
        # Everything that can refuse the request, before anything is stored.
        self._check_url("audio_url", audio.url)
        self._check_url("webhook_url", fields["webhook_url"])
        self._check_upload_size(audio, "audio_file")
        task_id = new_id()
        parsed = TranscriptionOptions.parse(fields["options"]) if "options" in fields else None
        transcriber = parsed.transcriber if parsed is not None else ""
        not_used = parsed.options_not_used() if parsed is not None else []
        source, declared, size = self._source(owner_id, task_id, audio, fields.get("convert"), transcriber)
        task = Task.new(
            kind=kind,
            owner_id=owner_id,
            source=source,
            retention_days=self.settings.retention_days,
            task_id=task_id,
            **fields,
        )
        warnings = (not_used_note(not_used, transcriber),) if not_used else ()
        low_rate = _low_rate_warning(declared, transcriber)
        warnings += (low_rate,) if low_rate else ()
        duration_s = declared.duration_s if declared is not None else None
        return self._store_and_send(task, eta_seconds=estimate_eta_s(duration_s, size, transcriber), warnings=warnings)

    def _queue_stems(self, owner_id: str, request: AudioToMidiRequest) -> QueuedTask:
        """A task over several named stems: each checked and (an upload) stored as a single input is."""
        families = stem_families(request.stems, request.options)
        for stem in request.stems:
            with naming_stem(stem.name):
                self._check_url("audio_url", stem.audio.url)
                self._check_upload_size(stem.audio, f"stem.{stem.name}")
        self._check_url("webhook_url", request.webhook_url)
        task_id = new_id()
        task_stems, timed = [], []
        # Every stem's header and path is checked before the first upload is stored.
        checked = []
        # The worker bounds every stem by the strictest limit among what runs (the piano model's, if a stem takes it).
        runs = stem_transcribers(families, request.options)
        transcribers = set(runs.values())
        strictest = min(transcribers, key=self.settings.transcription_limit_s)
        for stem in request.stems:
            with naming_stem(stem.name):
                checked.append(self._check_source(owner_id, stem.audio, None, strictest, stem=True))
        self._check_scratch(sum(size or 0 for _, size, _ in checked), strictest, stems=len(checked))
        warnings = []
        for stem, (declared, size, name) in zip(request.stems, checked, strict=True):
            duration_s = declared.duration_s if declared is not None else None
            low_rate = _low_rate_warning(declared, runs[stem.name])
            if low_rate:
                warnings.append(f"Stem {stem.name!r}: {low_rate}")
            # Each stem's upload in a folder of its own, under the caller's prefix (names are unique).
            folder = f"{task_id}/{safe_name(stem.name, default='stem')}"
            source = self._stored_source(owner_id, folder, stem.audio, name)
            task_stems.append(TaskStem(name=stem.name, source=source, family=families[stem.name]))
            timed.append((duration_s, size, runs[stem.name]))
        task = Task.new(
            kind=TaskKind.AUDIO_TO_MIDI,
            owner_id=owner_id,
            source=TaskSource(kind="stems", filename=STEMS_FILENAME, stems=tuple(task_stems)),
            retention_days=self.settings.retention_days,
            task_id=task_id,
            options=request.options,
            sonify_midi=request.sonify_midi,
            save_note_events=request.save_note_events,
            webhook_url=request.webhook_url,
        )
        return self._store_and_send(task, eta_seconds=estimate_stems_eta_s(timed), warnings=tuple(warnings))

    def _check_upload_size(self, audio: AudioInput, field: str) -> None:
        if audio.file is not None and len(audio.file.data) > self.settings.max_upload_bytes:
            raise TooLargeError(
                f"{field} is {len(audio.file.data)} bytes, more than the limit of "
                f"{self.settings.max_upload_bytes} bytes. "
                "Upload large files with POST /v1/uploads and submit the returned audio_path.",
                "FILE_TOO_LARGE",
            )

    def _source(
        self, owner_id: str, task_id: str, audio: AudioInput, convert: ConvertSpec | None, transcriber: str = ""
    ) -> tuple[TaskSource, audio_header.DeclaredAudio | None, int | None]:
        """Where the task reads its audio (an upload is stored first), what its header declares and its size
        when known."""
        declared, size, name = self._check_source(owner_id, audio, convert, transcriber)
        self._check_scratch(size or 0, transcriber)
        return self._stored_source(owner_id, task_id, audio, name), declared, size

    def _check_scratch(self, total_bytes: int, transcriber: str, *, stems: int = 0) -> None:
        """Refuse inputs that, with room for their outputs, would not fit in the worker's scratch space (a
        URL's size is not known here: the worker fails such a task when its disk runs out)."""
        budget = self.settings.input_budget_bytes(transcriber)
        if total_bytes <= budget:
            return
        what = f"The {stems} stems add up to" if stems else "The audio is"
        raise TooLargeError(
            f"{what} {megabytes(total_bytes)}, more than fits in the worker's scratch space: of its "
            f"{self.settings.worker_scratch_mb:g} MB, {megabytes(self.settings.output_reserve_bytes(transcriber))} "
            f"are kept for the outputs, which leaves {megabytes(max(budget, 0))} for the audio. "
            f"{self.settings.scratch_advice()}",
            "FILE_TOO_LARGE",
        )

    def _check_source(
        self, owner_id: str, audio: AudioInput, convert: ConvertSpec | None, transcriber: str = "", *, stem: bool = False
    ) -> tuple[audio_header.DeclaredAudio | None, int | None, str]:
        """What the audio's header declares (refused when the worker would refuse it; None when it is not read
        here) and its size; and for an earlier upload (audio_path), the file's own name its upload form recorded
        ('' otherwise).
        ``transcriber`` ("general", "piano", "drums"; '' for a conversion) chooses the duration limit; ``stem``
        says the audio is one stem of several (which changes the advice on a piano limit)."""
        if audio.file is not None:
            data = audio.file.data
            head = data[:audio_header.HEADER_BYTES]
            return self._check_header(head, len(data), audio.filename, convert, transcriber, stem=stem), len(data), ""
        if audio.url:
            return None, None, ""
        # Another key's upload, inbox/ and results/ are answered exactly like an object that is not there.
        info = self.storage.head(audio.key) if owns_upload(owner_id, audio.key) else None
        if info is None:
            raise NotFoundError(
                f"No audio at audio_path {audio.path or audio.key!r}: give the audio_path POST /v1/uploads "
                "returned to this API key, once the file is uploaded.",
                "AUDIO_NOT_FOUND",
            )
        limit = self.settings.max_upload_bytes
        if info.size > limit:
            raise TooLargeError(
                f"The file at audio_path {audio.path or audio.key!r} is {info.size} bytes, more than this "
                f"deployment's limit of {limit} bytes.",
                "FILE_TOO_LARGE",
            )
        name = info.name or audio.key.rsplit("/", 1)[-1]
        head = self.storage.read_start(audio.key, audio_header.HEADER_BYTES)
        return self._check_header(head, info.size, name, convert, transcriber, stem=stem), info.size, info.name

    def _stored_source(self, owner_id: str, upload_id: str, audio: AudioInput, name: str = "") -> TaskSource:
        """The task's source for checked audio; an uploaded file is stored under the caller's uploads. ``name``
        is an earlier upload's own name (``_check_source``), which the task is then listed by."""
        if audio.file is not None:
            key = upload_key(owner_id, upload_id, audio.filename)
            self.storage.put_bytes(key, audio.file.data, stored_media_type(audio.file.content_type))
            return TaskSource(kind="s3", key=key, filename=audio.shown_name or audio.filename)
        if audio.url:
            return TaskSource(kind="url", url=audio.url)
        return TaskSource(kind="s3", key=audio.key, filename=name)

    def _check_header(
        self, head: bytes, size: int, name: str, convert: ConvertSpec | None, transcriber: str = "", *, stem: bool = False
    ) -> audio_header.DeclaredAudio | None:
        """Refuse audio whose header declares what the worker would refuse; what it declares, when read here."""
        declared = audio_header.read_header(head, size)
        if declared is None:
            return None  # a format whose header is not read here: the worker checks it while decoding
        try:
            audio_header.check_declared(
                declared, name, max_duration_s=self.settings.transcription_limit_s(transcriber)
            )
        except AudioTooLongError as refused:
            advice = self.settings.too_long_advice(transcriber, stems=stem, duration_s=declared.duration_s)
            raise TooLargeError(f"{refused.message} {advice}".strip(), refused.code) from None
        except (UnsupportedAudioError, NoAudioError, CorruptAudioError) as refused:
            raise InvalidRequestError(refused.message, refused.code) from None
        problem = convert.channel_problem(declared.channels) if convert is not None else None
        if problem is not None:
            raise InvalidRequestError(f"{convert.target_format} cannot hold {name}'s {declared.channels} channels: {problem}",
                                      "UNSUPPORTED_CONVERSION")
        problem = convert.rate_problem(declared.sample_rate) if convert is not None else None
        if problem is not None:
            raise InvalidRequestError(f"{convert.target_format} cannot hold {name}'s {declared.sample_rate} Hz: {problem}",
                                      "UNSUPPORTED_CONVERSION")
        if convert is not None and declared.frames is not None:
            output = convert.output_bytes(declared.frames, declared.sample_rate, declared.channels)
            if output > MAX_CONVERTED_BYTES:
                raise TooLargeError(
                    f"Converting {name} ({declared.duration_s:.0f} s, {declared.channels} channels) to "
                    f"{convert.target_format} at {convert.target_sr or declared.sample_rate} Hz would write about "
                    f"{output / (1024 * 1024):.0f} MB; one conversion writes at most {MAX_CONVERTED_MB} MB. "
                    "Convert a shorter part, or choose a lower sample rate or bit depth.",
                    "OUTPUT_TOO_LARGE",
                )
        return declared

    def _store_and_send(self, task: Task, *, eta_seconds: int, warnings: tuple[str, ...] = ()) -> QueuedTask:
        # The item first: a worker that receives the message must find the task.
        self.tasks.create(task)
        try:
            self.transcribe_queue.send(transcribe_message(task.task_id))
        except Exception:
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
            raise
        return QueuedTask(task=task, eta_seconds=eta_seconds, message=QUEUED_MESSAGES[task.kind], warnings=warnings)
