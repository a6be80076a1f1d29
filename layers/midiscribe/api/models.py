"""API request and response models: what the OpenAPI document shows and what responses are checked against.

Storage models live in ``service/tasks.py``; these are the wire shapes only. Request bodies are
parsed by ``service/requests.py`` (three content types, MusicGPT's loose booleans), so the request
models here document the fields rather than parse them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from midiscribe.engine.options import TranscriptionOptions
from midiscribe.service.requests import CONVERT_FORMATS, MP3_SAMPLE_RATES
from midiscribe.service.tasks import TaskKind

# The parser strips text fields (Python's str.strip) and treats what is left empty as missing: required
# text must hold a character that is not whitespace to Python. Spelled out, because \S in a JSON Schema
# (ECMA-262) pattern differs from Python's (e.g. on \x1c-\x1f). Patterns are unanchored: "anywhere".
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
CONVERSION_TYPES = tuple(kind.conversion_type for kind in TaskKind)
# What POST /v1/file_convert requires of its fields together (service/requests.py parse_file_convert).
# A ``properties`` rule holds when its field is left out, as the defaults (wav, no resampling) allow.
DEFAULT_CONVERT_FORMAT = "wav"


def _bit_depth_rule(depths: tuple[int, ...]) -> dict[str, Any]:
    formats = [name for name, held in CONVERT_FORMATS.items() if held == depths]
    rule: dict[str, Any] = {
        "properties": {"target_format": {"enum": formats}, "target_bit_depth": {"enum": list(depths)}}
    }
    if DEFAULT_CONVERT_FORMAT not in formats:
        rule["required"] = ["target_format"]
    return rule


FILE_CONVERT_RULES: list[dict[str, Any]] = [
    {  # mp3 holds only some sample rates
        "anyOf": [
            {"properties": {"target_format": {"not": {"const": "mp3"}}}},
            {"properties": {"target_sr": {"enum": [*MP3_SAMPLE_RATES, None]}}},
        ]
    },
    {  # a bit depth only for formats that have one, and only one each can hold
        "anyOf": [
            {"properties": {"target_bit_depth": {"type": "null"}}},
            *(_bit_depth_rule(depths) for depths in dict.fromkeys(CONVERT_FORMATS.values()) if depths),
        ]
    },
]
# What POST /v1/uploads accepts as content_type: a media type, type/subtype, on one line.
MEDIA_TYPE = r"^[^\r\n]*/[^\r\n]*$"


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


class WebhookAttempt(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: str | None = None
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None


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
    output_path: str = Field(description="file_convert: presigned link to the converted file.")
    input_file_path: str = Field(
        "", description="Presigned link to the audio the task read ('' when it came from an audio_url)."
    )
    source_name: str = Field("", description="The input's file name (or its URL).")
    progress: float | None = Field(None, description="How much of the audio is done (0..1), while processing.")
    audio_duration_s: float | None = None
    note_count: int | None = None
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
    next_cursor: str | None = Field(
        description="Pass as cursor to get the next page; null on the last page."
    )


class UploadResponse(BaseModel):
    success: Literal[True] = True
    upload_id: str
    key: str
    audio_path: str = Field(description="Submit this as audio_path once the file is uploaded.")
    upload_url: str
    fields: dict[str, str] = Field(description="Form fields to send before the file field.")
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
    pitch: int
    start: float
    end: float
    velocity: int


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


# ---- request bodies (documentation; see service/requests.py for the parsing rules)


class _AudioFields(BaseModel):
    audio_url: str | None = Field(None, description="Public https:// URL of the audio.")
    audio_path: str | None = Field(
        None, description="s3://<this deployment's bucket>/<key>, or the audio_path POST /v1/uploads returned."
    )
    webhook_url: str | None = Field(None, description="https:// URL that receives the signed result.")


class AudioToMidiJson(_AudioFields, TranscriptionOptions):
    model_config = ConfigDict(extra="forbid", title="AudioToMidiRequest")

    sonify_midi: bool = Field(True, description="Also render the MIDI as a .wav.")
    save_note_events: bool = Field(True, description="Also save the note events as .csv and .json.")


class AudioToMidiForm(AudioToMidiJson):
    model_config = ConfigDict(extra="forbid", title="AudioToMidiForm")

    audio_file: bytes | None = Field(
        None, json_schema_extra={"format": "binary", "minLength": 1}, description="The audio file (not empty)."
    )


class FileConvertJson(_AudioFields):
    model_config = ConfigDict(extra="forbid", title="FileConvertRequest")

    target_format: Literal[tuple(CONVERT_FORMATS)] = Field("wav", description="Output format.")  # type: ignore[valid-type]
    target_sr: int | None = Field(None, ge=8000, le=192000, description="Output sample rate (Hz).")
    target_bit_depth: Literal[16, 24, 32] | None = Field(None, description="wav/aiff: 16, 24, 32; flac: 16, 24.")


class FileConvertForm(FileConvertJson):
    model_config = ConfigDict(extra="forbid", title="FileConvertForm")

    audio_file: bytes | None = Field(
        None, json_schema_extra={"format": "binary", "minLength": 1}, description="The audio file (not empty)."
    )


class MidiGenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taskId: str = Field(pattern=NOT_BLANK, description="task_id of an earlier audio_to_midi task of this API key.")
    callBackUrl: str = Field(pattern=NOT_BLANK, description="https:// URL that receives the notes when done.")


class UploadRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", title="UploadRequest")

    filename: str = Field(pattern=NOT_BLANK, description="Name of the file you will upload, e.g. song.wav.")
    content_type: str | None = Field(
        None, pattern=MEDIA_TYPE, description="Its media type, e.g. audio/wav (default application/octet-stream)."
    )


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its definitions inlined (request bodies are documented in place)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.split("/")[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)
