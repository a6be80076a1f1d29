"""The request models: each route's wire shape, read from the body and documented in OpenAPI.

The same classes parse requests (``Model.parse(body)``) and give the OpenAPI document its request
schemas, so the two cannot drift. Field types come from ``fields``; rules that tie fields together
are checked in ``to_request`` and stated in the schema from the same tables (``file_convert``'s
formats). What depends on the deployment beyond its bucket (URL rules, size limits, objects that
exist) is the service's to check.
"""

from __future__ import annotations

import functools
import typing
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from midiscribe.domain.conversions import (
    BIT_DEPTHS,
    CONVERT_FORMATS,
    DEFAULT_FORMAT,
    FORMAT_ALIASES,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    MP3_SAMPLE_RATES,
    ConvertSpec,
)
from midiscribe.domain.errors import InvalidRequestError
from midiscribe.domain.requests import (
    AudioInput,
    AudioToMidiRequest,
    FileConvertRequest,
    MidiGenerateRequest,
    UploadedFile,
    UploadRequest,
)
from midiscribe.domain.tasks import safe_name, shown_name
from midiscribe.engine.errors import InvalidOptionsError
from midiscribe.engine.options import TranscriptionOptions, mark_general_model_options

from . import stems as stem_fields
from .body import RequestBody
from .fields import NOT_BLANK, BoundedText, FilePart, LooseBool, Text, refusal, text, whole_number
from .limits import MAX_STEMS, quoted, some_names

OPTION_NAMES = frozenset(TranscriptionOptions.model_fields)
# A media type, type/subtype, on one line.
MEDIA_TYPE = r"^[^\r\n]*/[^\r\n]*$"
# S3's longest key, in bytes.
MAX_KEY_BYTES = 1024


class RequestModel(BaseModel):
    """Base of the request models: blank fields count as not given, unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
    route: ClassVar[str] = ""
    # What to say when a required field is missing or blank.
    missing: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _blank_is_not_given(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for name, value in values.items():
                if isinstance(value, UploadedFile) and name in cls.model_fields and name not in _file_fields(cls):
                    # Otherwise the field's check quoted the part, its bytes and all, as the value it got.
                    raise refusal("INVALID_PARAMETER", f"{name} was sent as a file ({value.filename!r}); send it as "
                                  f"a text field (curl: -F '{name}=value', not -F '{name}=@file').")
                if isinstance(value, bool) and name in _number_fields(cls):
                    # pydantic would read true as 1.0: a client that sends a boolean meant something else.
                    raise refusal("INVALID_PARAMETER", f"{name} must be a number (got {str(value).lower()}).")
            return {name: value for name, value in values.items() if value is not None and value != ""}
        return values

    @classmethod
    def parse(cls, body: RequestBody) -> Self:
        values = body.values()
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise cls._refusal(error, values) from None

    @classmethod
    def _refusal(cls, error: ValidationError, values: dict[str, Any]) -> InvalidRequestError:
        """The one thing to tell the client: unknown fields, else our own checks, else the first problem."""
        problems = error.errors()
        # Fields the request gathers for itself (stem_parts: the stem.<name> parts) are not the client's to send.
        internal = {name for name, field in cls.model_fields.items() if field.exclude}
        unknown = sorted(str(problem["loc"][0]) for problem in problems
                         if problem["type"] == "extra_forbidden" or (problem["loc"] and problem["loc"][0] in internal))
        if unknown:
            known = ", ".join(sorted(set(cls.model_fields) - internal))
            return InvalidRequestError(
                f"Unknown field(s) for {cls.route}: {some_names(unknown)}. Known fields: {known}.", "UNKNOWN_FIELD"
            )
        ours = [problem for problem in problems if problem["type"].isupper()]
        if ours:
            return InvalidRequestError(ours[0]["msg"], ours[0]["type"])
        problem = problems[0]
        name = str(problem["loc"][0]) if problem["loc"] else ""
        if name in cls.missing and problem["type"] in ("missing", "string_pattern_mismatch"):
            return InvalidRequestError(cls.missing[name], "MISSING_PARAMETER")
        if name in OPTION_NAMES or (not name and problem["type"] == "value_error"):
            return _options_refusal(values, error)
        return InvalidRequestError(f"{name or 'request'}: {problem['msg']} (got {quoted(problem.get('input'))}).",
                                   "INVALID_PARAMETER")


@functools.cache
def _file_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that take a multipart file part (audio_file)."""
    return frozenset(name for name, field in model.model_fields.items()
                     if UploadedFile in (set(typing.get_args(field.annotation)) or {field.annotation}))


@functools.cache
def _number_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that hold a number (int or float, not bool), e.g. onset_threshold."""
    found = set()
    for name, field in model.model_fields.items():
        kinds = set(typing.get_args(field.annotation)) or {field.annotation}
        if kinds & {int, float} and bool not in kinds:
            found.add(name)
    return frozenset(found)


def _options_refusal(values: dict[str, Any], error: ValidationError) -> InvalidRequestError:
    """The engine's own message for the transcription options (it names each field and its range)."""
    try:
        TranscriptionOptions.parse({name: value for name, value in values.items() if name in OPTION_NAMES and value != ""})
    except InvalidOptionsError as refused:
        return InvalidRequestError(refused.message, refused.code)
    return InvalidRequestError(f"Invalid transcription options: {error.errors()[0]['msg']}", InvalidOptionsError.code)


# ---- where the audio comes from


def s3_key_from_path(path: str, *, bucket: str) -> str:
    """``s3://<our bucket>/<key>`` or a bare key (an upload's key) → the key; other buckets are refused."""
    if path.lower().startswith("s3://"):
        other_bucket, _, key = path[5:].partition("/")
        if other_bucket != bucket:
            raise InvalidRequestError(
                f"audio_path {path!r} is in bucket {other_bucket!r}, but this deployment reads only its own "
                f"bucket {bucket!r}. Upload the file with POST /v1/uploads (or copy it to s3://{bucket}/uploads/…) "
                "and submit that path, or send a public audio_url.",
                "FOREIGN_BUCKET",
            )
    elif "://" in path:
        raise InvalidRequestError(
            f"audio_path {path!r} is not an s3:// path: give s3://{bucket}/<key>, an upload's key, "
            "or send a public https:// link as audio_url.",
            "INVALID_AUDIO_PATH",
        )
    else:
        key = path
    key = key.lstrip("/")
    if not key or key.endswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidRequestError(
            f"audio_path {path!r} does not name an object: give s3://{bucket}/<key> with a file name.",
            "INVALID_AUDIO_PATH",
        )
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidRequestError("audio_path is longer than S3's 1024-byte key limit.", "INVALID_AUDIO_PATH")
    return key


class AudioSourceFields(RequestModel):
    """The fields of a route that reads audio: exactly one of audio_file, audio_url, audio_path."""

    audio_url: Text = Field(None, description="Public https:// URL of the audio.")
    audio_path: Text = Field(
        None,
        description=(
            "The audio_path POST /v1/uploads returned (or its key): one of this API key's own uploads. "
            "Any other object answers 404, as a missing one does. An http(s) link here is read as audio_url."
        ),
    )
    webhook_url: Text = Field(None, description="https:// URL that receives the signed result.")
    # What else a route takes instead of one source, for the message when none is given.
    other_sources: ClassVar[str] = ""

    def audio_input(self, *, bucket: str) -> AudioInput:
        file = getattr(self, "audio_file", None)
        url, path = self.audio_url or "", self.audio_path or ""
        if path.lower().startswith(("http://", "https://")):
            # MusicGPT's own sample passes a web link as audio_path; it means the same as audio_url.
            if url:
                raise InvalidRequestError("Give either audio_url or audio_path, not both.", "AMBIGUOUS_AUDIO_SOURCE")
            url, path = path, ""
        given = [name for name, value in (("audio_file", file), ("audio_url", url), ("audio_path", path)) if value]
        hint = f"; {self.other_sources}" if self.other_sources else ""
        if not given:
            raise InvalidRequestError(
                "No audio given: send audio_file (multipart upload), audio_url (a public https:// link), "
                f"or audio_path (s3://{bucket}/<key>, or the audio_path returned by POST /v1/uploads){hint}.",
                "MISSING_AUDIO",
            )
        if len(given) > 1:
            raise InvalidRequestError(
                f"Give exactly one audio source, not {' and '.join(given)}.", "AMBIGUOUS_AUDIO_SOURCE"
            )
        if file is not None:
            if not file.data:
                raise InvalidRequestError(
                    f"audio_file {file.filename!r} is empty (0 bytes): attach the file's contents.", "EMPTY_FILE"
                )
            return AudioInput(file=file)
        if url:
            return AudioInput(url=url)
        return AudioInput(key=s3_key_from_path(path, bucket=bucket), path=path)


def _file_part() -> Any:
    return Field(None, json_schema_extra={"format": "binary", "minLength": 1}, description="The audio file (not empty).")


# ---- POST /v1/audio_to_midi


class AudioToMidiJson(AudioSourceFields, TranscriptionOptions):
    model_config = ConfigDict(extra="forbid", title="AudioToMidiRequest")
    route: ClassVar[str] = "POST /v1/audio_to_midi"
    other_sources: ClassVar[str] = "or several named stems (stems, or multipart parts stem.<name>)"

    sonify_midi: LooseBool = Field(True, description="Also render the MIDI as a .wav.")
    save_note_events: LooseBool = Field(True, description="Also save the note events as .csv and .json.")
    stems: Annotated[list[stem_fields.StemEntry] | None, BeforeValidator(stem_fields.read_stems)] = Field(
        None,
        min_length=1,
        max_length=MAX_STEMS,
        description=(
            f"Instead of one audio source: up to {MAX_STEMS} named stems of one recording, each transcribed with "
            "its instrument's settings into a track of one MIDI file (drums on channel 10). In a form, this "
            "list as JSON text; in multipart, stems may also come as file parts stem.<name>."
        ),
    )
    # The multipart parts stem.<name> (and fields stem.<name>.instrument), taken out of the body's values
    # before validation: the form's schema documents them as patternProperties.
    stem_parts: SkipJsonSchema[dict[str, dict[str, Any]]] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _stem_parts(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        gathered = stem_fields.take_parts(dict(values))
        if "stem_parts" in values:
            # Sent by the client ({"stem_parts": {}} validated and was silently dropped): a value that fails
            # validation (None would be taken as not given), so that _refusal names it as the unknown field it is.
            gathered["stem_parts"] = "sent by the client"
        return gathered

    def to_request(self, *, bucket: str) -> AudioToMidiRequest:
        options = self.model_dump(include=set(OPTION_NAMES), exclude_unset=True)
        fields = {"options": options, "sonify_midi": self.sonify_midi, "save_note_events": self.save_note_events,
                  "webhook_url": self.webhook_url or ""}
        if not self.stems and not self.stem_parts:
            return AudioToMidiRequest(audio=self.audio_input(bucket=bucket), **fields)
        entries = [entry.model_dump(exclude_none=True) for entry in self.stems or []]
        found = stem_fields.stem_inputs(entries, self.stem_parts, bucket=bucket, key_from_path=s3_key_from_path)
        given = [name for name in ("audio_file", "audio_url", "audio_path") if getattr(self, name, None)]
        if given:
            raise InvalidRequestError(
                f"Give either stems or one audio source, not both (got stems and {' and '.join(given)}). "
                "Send a single recording as audio_file, audio_url or audio_path, or every part of it as stems.",
                "AMBIGUOUS_AUDIO_SOURCE",
            )
        return AudioToMidiRequest(audio=AudioInput(), stems=found, **fields)


def _form_schema(schema: dict) -> None:
    """The form's schema: the options' own marks, and the stem parts as patternProperties."""
    mark_general_model_options(schema)
    schema["patternProperties"] = {
        stem_fields.PART_PATTERN: {
            "type": "string", "format": "binary", "minLength": 1,
            "description": "A stem's audio file; the part's name after 'stem.' is the stem's name.",
        },
        stem_fields.PART_INSTRUMENT_PATTERN: {
            "type": "string", "enum": list(stem_fields.INSTRUMENTS),
            "description": "The instrument family of the stem.<name> part of the same name.",
        },
    }


class AudioToMidiForm(AudioToMidiJson):
    model_config = ConfigDict(extra="forbid", title="AudioToMidiForm", json_schema_extra=_form_schema)

    audio_file: FilePart = _file_part()


# ---- POST /v1/file_convert


def _bit_depth_rule(depths: tuple[int, ...]) -> dict[str, Any]:
    formats = [name for name, held in CONVERT_FORMATS.items() if held == depths]
    rule: dict[str, Any] = {
        "properties": {"target_format": {"enum": formats}, "target_bit_depth": {"enum": list(depths)}}
    }
    if DEFAULT_FORMAT not in formats:
        rule["required"] = ["target_format"]
    return rule


# What file_convert's fields require of each other, stated for OpenAPI from the formats table that
# FileConvertJson.to_request checks against. A ``properties`` rule holds when its field is left out,
# as the defaults (wav, no resampling) allow.
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


def _format_name(value: Any, info: ValidationInfo) -> str:
    name = (text(value, info) or DEFAULT_FORMAT).lower().lstrip(".")
    name = FORMAT_ALIASES.get(name, name)
    if name not in CONVERT_FORMATS:
        raise refusal("INVALID_PARAMETER",
                      f"target_format {name!r} is not supported: use one of {', '.join(CONVERT_FORMATS)}.")
    return name


def _sample_rate(value: Any, info: ValidationInfo) -> int:
    return whole_number(info.field_name or "", value, range(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE + 1))


def _bit_depth(value: Any, info: ValidationInfo) -> int:
    return whole_number(info.field_name or "", value, BIT_DEPTHS)


class FileConvertJson(AudioSourceFields):
    model_config = ConfigDict(extra="forbid", title="FileConvertRequest", json_schema_extra={"allOf": FILE_CONVERT_RULES})
    route: ClassVar[str] = "POST /v1/file_convert"

    target_format: Annotated[Literal[tuple(CONVERT_FORMATS)], BeforeValidator(_format_name)] = Field(  # type: ignore[valid-type]
        DEFAULT_FORMAT, description="Output format."
    )
    target_sr: Annotated[int | None, BeforeValidator(_sample_rate)] = Field(
        None, ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE, description="Output sample rate (Hz)."
    )
    target_bit_depth: Annotated[Literal[BIT_DEPTHS] | None, BeforeValidator(_bit_depth)] = Field(  # type: ignore[valid-type]
        None, description="wav/aiff: 16, 24, 32; flac: 16, 24."
    )

    def to_request(self, *, bucket: str) -> FileConvertRequest:
        fmt, sr, depth = self.target_format, self.target_sr, self.target_bit_depth
        if fmt == "mp3" and sr is not None and sr not in MP3_SAMPLE_RATES:
            raise InvalidRequestError(
                f"mp3 cannot hold {sr} Hz: use one of {', '.join(map(str, MP3_SAMPLE_RATES))}.", "INVALID_PARAMETER"
            )
        depths = CONVERT_FORMATS[fmt]
        if depth is not None and depths is None:
            raise InvalidRequestError(
                f"{fmt} is a lossy format without a bit depth: leave out target_bit_depth, or choose wav, flac or aiff.",
                "INVALID_PARAMETER",
            )
        if depth is not None and depths is not None and depth not in depths:
            raise InvalidRequestError(
                f"{fmt} cannot hold {depth}-bit samples: use one of {', '.join(map(str, depths))}.", "INVALID_PARAMETER"
            )
        return FileConvertRequest(
            audio=self.audio_input(bucket=bucket),
            convert=ConvertSpec(target_format=fmt, target_sr=sr, target_bit_depth=depth),
            webhook_url=self.webhook_url or "",
        )


class FileConvertForm(FileConvertJson):
    model_config = ConfigDict(extra="forbid", title="FileConvertForm")

    audio_file: FilePart = _file_part()


# ---- POST /api/v1/midi/generate (kie.ai) and POST /v1/uploads

RequiredText = Annotated[BoundedText, BeforeValidator(lambda value, info: text(value, info) or "")]


class MidiGenerateBody(RequestModel):
    model_config = ConfigDict(extra="forbid", title="MidiGenerateRequest")
    route: ClassVar[str] = "POST /api/v1/midi/generate"
    missing: ClassVar[dict[str, str]] = {
        "taskId": "taskId is required: give the task_id of an earlier audio_to_midi task of this API key.",
        "callBackUrl": "callBackUrl is required: give the https:// URL that should receive the MIDI notes.",
    }

    taskId: RequiredText = Field(pattern=NOT_BLANK, description="task_id of an earlier audio_to_midi task of this API key.")
    callBackUrl: RequiredText = Field(pattern=NOT_BLANK, description="https:// URL that receives the notes when done.")

    def to_request(self) -> MidiGenerateRequest:
        return MidiGenerateRequest(source_task_id=self.taskId, callback_url=self.callBackUrl)


def _media_type(value: Any, info: ValidationInfo) -> str | None:
    media_type = text(value, info)
    if media_type is not None and ("/" not in media_type or any(char in media_type for char in "\r\n")):
        raise refusal("INVALID_PARAMETER", f"content_type {media_type!r} is not a media type such as audio/wav.")
    return media_type


class UploadBody(RequestModel):
    model_config = ConfigDict(extra="forbid", title="UploadRequest")
    route: ClassVar[str] = "POST /v1/uploads"
    missing: ClassVar[dict[str, str]] = {
        "filename": 'filename is required: give the name of the file you will upload, e.g. {"filename": "song.wav"}.',
    }

    filename: RequiredText = Field(pattern=NOT_BLANK, description="Name of the file you will upload, e.g. song.wav.")
    content_type: Annotated[str | None, BeforeValidator(_media_type)] = Field(
        None, pattern=MEDIA_TYPE, description="Its media type, e.g. audio/wav (default application/octet-stream)."
    )

    def to_request(self) -> UploadRequest:
        return UploadRequest(
            filename=safe_name(self.filename, default="audio"),
            content_type=self.content_type or "application/octet-stream",
            shown_name=shown_name(self.filename),
        )
