"""The response models: every answer's wire shape, rendered from the domain's objects.

The OpenAPI document's response schemas are these classes, and the routes build their answers
with them, so what is documented is what is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import midiscribe
from midiscribe.domain import outputs
from midiscribe.domain.tasks import Task, TaskKind, TaskStatus
from midiscribe.domain.timestamps import epoch_ms
from midiscribe.service.lookups import INPUT_LINK, GenerationRecord, TaskPage
from midiscribe.service.object_keys import owns_upload
from midiscribe.service.redelivery import Redelivery
from midiscribe.service.submissions import QueuedTask
from midiscribe.service.uploads import UploadForm

CONVERSION_TYPES = tuple(kind.conversion_type for kind in TaskKind)
# kie.ai's successFlag values.
KIE_PENDING, KIE_SUCCESS, KIE_GENERATION_FAILED = 0, 1, 3


class ErrorResponse(BaseModel):
    success: Literal[False] = False
    error: str = Field(description="What is wrong and how to fix it.")
    code: str = Field(description="Machine-readable error code, e.g. MISSING_AUDIO.")


class QueuedResponse(BaseModel):
    success: Literal[True] = True
    task_id: str
    conversion_id: str
    status: Literal["IN_QUEUE"] = "IN_QUEUE"
    message: str = Field(examples=["MIDI conversion task queued successfully"])
    eta_seconds: int = Field(description="A rough estimate of when the result will be ready.")
    warnings: list[str] | None = Field(
        None, description="Present when the request set something that will change nothing: the general model's "
        "options (onset_threshold, …) on a task the piano model or the drum transcriber runs; or when the audio will "
        "transcribe poorly and what to send instead: drums sampled below 32 kHz (an upload's header says so). "
        "The task runs.")


class WebhookAttempt(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: str | None = None
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None


class StemView(BaseModel):
    name: str
    instrument: str = Field(description="The family the stem was transcribed as: the one asked for, or its name's.")
    audio_path: str = Field("", description="The stem's upload, as this key may submit it again ('' otherwise).")
    audio_url: str = Field("", description="The stem's audio_url ('' otherwise).")


class Conversion(BaseModel):
    task_id: str
    conversion_id: str
    conversionType: Literal["AUDIO_TO_MIDI", "FILE_CONVERT", "MIDI_GENERATE"]
    status: Literal["IN_QUEUE", "PROCESSING", "COMPLETED", "FAILED"]
    status_msg: str
    createdAt: str
    updatedAt: str
    midi_file_path: str = Field(description="Presigned link to the .mid file ('' until there is one).")
    sonify_file_path: str = Field(description="Presigned link to the sonified .wav ('' when not asked for).")
    notes_file_path: str = Field(description="Presigned link to the note events .csv ('' when not asked for).")
    notes_json_path: str = Field(description="Presigned link to the note events .json ('' when not asked for).")
    quantized_midi_file_path: str = Field(
        "", description="Presigned link to the .quantized.mid file ('' unless quantize was set)."
    )
    musicxml_file_path: str = Field("", description="Presigned link to the .musicxml score ('' unless score=true).")
    output_path: str = Field(description="file_convert: presigned link to the converted file.")
    input_file_path: str = Field(
        "", description="Presigned link to the audio the task read ('' when it came from an audio_url)."
    )
    source_name: str = Field("", description="The input's file name as it was sent (練習.wav; the result files' "
                             "names are ASCII), or its URL; \"stems: <names>\" for stems.")
    audio_path: str = Field(
        "", description="The upload the task read, as this key may submit it again as audio_path ('' otherwise)."
    )
    audio_url: str = Field("", description="The audio_url the task read ('' otherwise).")
    options: dict[str, Any] | None = Field(
        None, description="The transcription options the task was submitted with (audio_to_midi; defaults left "
        "out), and sonify_midi or save_note_events when false: with audio_path or audio_url, what submits it again."
    )
    progress: float | None = Field(None, description="How much of the audio is done (0..1), while processing.")
    audio_duration_s: float | None = None
    note_count: int | None = None
    instrument: str | None = Field(
        None, description="The instrument the notes were made for (audio_to_midi): auto, a family, or drums; "
                          "null for a multi-stem task, whose stems each say theirs."
    )
    stems: list[StemView] | None = Field(
        None, description="A multi-stem task's stems, in track order, as a stems list would submit them again."
    )
    model: str | None = Field(
        None, description="The transcriber that ran, once completed: general, piano or drums (stems: joined by +)."
    )
    model_name: str | None = Field(None, description="The exact model that ran, once completed (e.g. transkun-2.0.1).")
    error: str | None = None
    error_code: str | None = None
    webhook_status: Literal["pending", "delivered", "failed"] | None = None
    webhook_attempts: list[WebhookAttempt] = Field(default_factory=list)


class ConversionResponse(BaseModel):
    success: Literal[True] = True
    conversion: Conversion


class TaskListResponse(BaseModel):
    success: Literal[True] = True
    tasks: list[Conversion] = Field(description="The API key's tasks, newest first.")
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page.")


class UploadResponse(BaseModel):
    success: Literal[True] = True
    upload_id: str
    key: str
    audio_path: str = Field(description="Submit this as audio_path once the file is uploaded.")
    upload_url: str
    fields: dict[str, str] = Field(description="Form fields to send, every one as given, before the file field "
                                   "(x-amz-meta-name keeps the file's own name, which tasks on it are listed by).")
    max_bytes: int
    expires_in: int
    message: str


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class KieTaskData(BaseModel):
    taskId: str


class KieGenerateResponse(BaseModel):
    code: int = 200
    msg: str = "success"
    data: KieTaskData


class KieNote(BaseModel):
    pitch: int = Field(ge=0, le=127, description="MIDI note number (drums: the General MIDI drum key).")
    start: float = Field(description="Seconds from the start of the audio.")
    end: float = Field(description="Seconds from the start of the audio.")
    velocity: float = Field(ge=0, le=1, description="Loudness from 0 to 1 (1 = loudest), as kie.ai sends it.")


class KieInstrument(BaseModel):
    name: str
    notes: list[KieNote]


class KieMidiData(BaseModel):
    state: Literal["pending", "complete", "failed"]
    instruments: list[KieInstrument]


class KieRecord(BaseModel):
    taskId: str
    recordTaskId: int
    audioId: str
    callbackUrl: str
    completeTime: int | None
    midiData: KieMidiData
    successFlag: int = Field(description="0 pending, 1 success, 3 generation failed.")
    createTime: int | None
    errorCode: str | None
    errorMessage: str | None


class KieRecordResponse(BaseModel):
    code: int = 200
    msg: str = "success"
    data: KieRecord


class KieErrorResponse(BaseModel):
    code: int
    msg: str
    data: Any = None


class RedeliveryResponse(BaseModel):
    success: Literal[True] = True
    task_id: str
    webhook_id: str = Field(description="The event's webhook-id header: the same as in earlier deliveries.")
    event: Literal["task.completed", "task.failed"]
    webhook_status: Literal["pending"] = "pending"
    message: str = Field(examples=["Webhook redelivery queued"])


# ---- rendering


def health() -> dict[str, Any]:
    return HealthResponse(version=midiscribe.__version__).model_dump(mode="json")


def queued(queued: QueuedTask) -> dict[str, Any]:
    task = queued.task
    return QueuedResponse(
        task_id=task.task_id, conversion_id=task.conversion_id, message=queued.message, eta_seconds=queued.eta_seconds,
        warnings=list(queued.warnings) or None,
    ).model_dump(mode="json", exclude_none=True)


def conversion(task: Any, links: dict[str, str]) -> dict[str, Any]:
    """byId's answer: the task's status, and links to whatever files it has."""
    return ConversionResponse(conversion=_conversion_view(task, links)).model_dump(mode="json")


def task_list(page: TaskPage, links: Callable[[Any], dict[str, str]]) -> dict[str, Any]:
    """GET /v1/tasks: each task as byId describes it."""
    views = [_conversion_view(task, links(task)) for task in page.tasks]
    return TaskListResponse(tasks=views, next_cursor=page.next_cursor).model_dump(mode="json")


def _conversion_view(task: Any, links: dict[str, str]) -> Conversion:
    source = task.source
    return Conversion(
        task_id=task.task_id,
        conversion_id=task.conversion_id,
        conversionType=task.kind.conversion_type,
        status=task.status.value,
        status_msg=task.status_msg,
        createdAt=task.created_at,
        updatedAt=task.updated_at,
        midi_file_path=links.get(outputs.MIDI, ""),
        sonify_file_path=links.get(outputs.SONIFIED_WAV, ""),
        notes_file_path=links.get(outputs.NOTES_CSV, ""),
        notes_json_path=links.get(outputs.NOTES_JSON, ""),
        quantized_midi_file_path=links.get(outputs.QUANTIZED_MIDI, ""),
        musicxml_file_path=links.get(outputs.MUSICXML, ""),
        output_path=links.get(outputs.CONVERTED, ""),
        input_file_path=links.get(INPUT_LINK, ""),
        source_name=_source_name(source),
        audio_path=source.key if source.kind == "s3" and owns_upload(task.owner_id, source.key) else "",
        audio_url=source.url if source.kind == "url" else "",
        options=_submitted_options(task) if task.transcription_requested else None,
        progress=1.0 if task.status is TaskStatus.COMPLETED else task.progress,
        audio_duration_s=task.audio_duration_s,
        note_count=task.note_count,
        instrument=task.options.get("instrument", "auto") if task.transcription_requested and not source.stems
        else None,
        stems=[_stem_view(task.owner_id, stem) for stem in source.stems] if source.stems else None,
        model=task.model or None,
        model_name=task.model_name or None,
        error=task.error or None,
        error_code=task.error_code or None,
        # A task with a webhook_url has its delivery pending from the start, not only once it has finished.
        webhook_status=task.webhook_status or ("pending" if task.webhook_url else None),
        webhook_attempts=task.webhook_attempts,
    )


def _submitted_options(task: Task) -> dict[str, Any]:
    """The options to submit the task again with: its transcription options, and the outputs it went without
    (sonify_midi, save_note_events), which are not transcription options but change what it makes."""
    options = dict(task.options)
    for name in ("sonify_midi", "save_note_events"):
        if not getattr(task, name):
            options[name] = False
    return options


def _stem_view(owner_id: str, stem: Any) -> StemView:
    source = stem.source
    return StemView(name=stem.name, instrument=stem.family,
                    audio_path=source.key if source.kind == "s3" and owns_upload(owner_id, source.key) else "",
                    audio_url=source.url if source.kind == "url" else "")


def _source_name(source: Any) -> str:
    """The input's file name (or URL); a multi-stem task's stem names."""
    if source.stems:
        return "stems: " + ", ".join(stem.name for stem in source.stems)
    return source.filename or source.key.rsplit("/", 1)[-1] or source.url


def upload(form: UploadForm) -> dict[str, Any]:
    return UploadResponse(
        upload_id=form.upload_id,
        key=form.key,
        audio_path=form.audio_path,
        upload_url=form.url,
        fields=form.fields,
        max_bytes=form.max_bytes,
        expires_in=form.expires_in,
        message="POST the file to upload_url as multipart/form-data with these fields and then a 'file' "
        "field; then submit audio_path to /v1/audio_to_midi.",
    ).model_dump(mode="json")


def kie_generated(queued: QueuedTask) -> dict[str, Any]:
    return KieGenerateResponse(data=KieTaskData(taskId=queued.task.task_id)).model_dump(mode="json")


def kie_record(record: GenerationRecord) -> dict[str, Any]:
    """kie.ai's record-info answer for a MIDI generation task."""
    task = record.task
    if task.status is TaskStatus.COMPLETED:
        flag, state = KIE_SUCCESS, "complete"
    elif task.status is TaskStatus.FAILED:
        flag, state = KIE_GENERATION_FAILED, "failed"
    else:
        flag, state = KIE_PENDING, "pending"
    data = KieRecord(
        taskId=task.task_id,
        recordTaskId=-1,
        audioId=task.source.task_id,
        callbackUrl=task.webhook_url,
        completeTime=epoch_ms(task.updated_at) if task.status.is_final else None,
        midiData=KieMidiData(state=state, instruments=record.instruments),
        successFlag=flag,
        createTime=epoch_ms(task.created_at),
        errorCode=task.error_code or None,
        errorMessage=task.error or None,
    )
    return KieRecordResponse(data=data).model_dump(mode="json")


def redelivery(redelivery: Redelivery) -> dict[str, Any]:
    return RedeliveryResponse(
        task_id=redelivery.task_id,
        webhook_id=redelivery.webhook_id,
        event=redelivery.event,
        message="Webhook redelivery queued",
    ).model_dump(mode="json")
