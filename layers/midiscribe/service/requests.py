"""Reading and validating what clients send to the submit routes.

Clients written for MusicGPT send the same fields three ways: ``multipart/form-data`` (Python
``requests`` with ``files=``), ``application/x-www-form-urlencoded`` (``requests`` with ``data=``,
where ``True`` arrives as the string ``"True"``), and JSON — sometimes JSON under a form content
type, because ``curl -d '{...}'`` labels its body ``application/x-www-form-urlencoded``. All three
become one :class:`RequestBody`, and the ``parse_*`` functions turn that into a validated request
or raise an :class:`~midiscribe.service.errors.ApiError` that says what to fix.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from midiscribe.engine.errors import InvalidOptionsError
from midiscribe.engine.options import TranscriptionOptions

from .errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from .tasks import ConvertSpec, safe_name

UPLOADS_PREFIX = "uploads/"
AUDIO_SOURCE_FIELDS = ("audio_file", "audio_url", "audio_path")

# Checks a user-supplied URL; raises ValueError (urlguard's UnsafeUrlError) with the reason.
UrlCheck = Callable[[str], object]


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class RequestBody:
    """A request's fields (strings from forms, JSON values from JSON) and uploaded files."""

    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def names(self) -> set[str]:
        return set(self.fields) | set(self.files)


# --------------------------------------------------------------------------------------------
# Body parsing


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``multipart/form-data; boundary=x`` → ("multipart/form-data", {"boundary": "x"})."""
    if not content_type:
        return "", {}
    header = email.policy.HTTP.header_factory("content-type", content_type)
    params = {str(k).lower(): str(v) for k, v in dict(getattr(header, "params", {}) or {}).items()}
    return str(getattr(header, "content_type", "")).lower(), params


def parse_body(body: bytes, content_type: str | None, *, max_bytes: int) -> RequestBody:
    """Parse a request body by its content type, tolerating JSON sent under a form content type."""
    if len(body) > max_bytes:
        raise PayloadTooLargeError(
            f"The request body is {len(body)} bytes, more than this deployment's limit of {max_bytes} bytes. "
            "Upload large files with POST /v1/uploads and submit the returned audio_path.",
            "PAYLOAD_TOO_LARGE",
        )
    media_type, params = _media_type(content_type)
    if media_type == "multipart/form-data":
        return _parse_multipart(body, params.get("boundary", ""))
    stripped = body.strip()
    if not stripped:
        return RequestBody()
    looks_like_json = stripped[:1] in (b"{", b"[")
    if media_type == "application/json" or media_type.endswith("+json"):
        return _parse_json(stripped)
    if media_type in ("", "application/x-www-form-urlencoded", "text/plain"):
        # curl -d '{...}' sends JSON labelled as a form; a form body never starts with "{".
        return _parse_json(stripped) if looks_like_json else _parse_urlencoded(stripped)
    raise UnsupportedMediaTypeError(
        f"Content-Type {media_type!r} is not supported: send multipart/form-data (with audio_file), "
        "application/x-www-form-urlencoded or application/json.",
        "UNSUPPORTED_MEDIA_TYPE",
    )


def _parse_json(body: bytes) -> RequestBody:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(
            f"The request body is not valid JSON ({exc}); send a JSON object such as "
            '{"audio_url": "https://example.com/song.mp3"}.',
            "INVALID_JSON",
        ) from None
    if not isinstance(value, dict):
        raise BadRequestError(
            f"The JSON body must be an object of fields, not {type(value).__name__}.", "INVALID_JSON"
        )
    return RequestBody(fields={str(k): v for k, v in value.items() if v is not None})


def _parse_urlencoded(body: bytes) -> RequestBody:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise BadRequestError(
            "The form body could not be read: send name=value pairs joined by '&' "
            "(application/x-www-form-urlencoded, UTF-8), or a JSON object.",
            "INVALID_FORM",
        ) from None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return RequestBody(fields=fields)


def _parse_multipart(body: bytes, boundary: str) -> RequestBody:
    """Split a multipart/form-data body on its boundary (RFC 7578); file parts keep their exact bytes."""
    if not boundary:
        raise BadRequestError(
            "The multipart/form-data Content-Type has no boundary parameter; let your HTTP client "
            "build the header (for example requests' files=) instead of setting it by hand.",
            "INVALID_MULTIPART",
        )
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 2 or not sections[-1].startswith(b"--"):
        raise BadRequestError(
            "The multipart/form-data body is incomplete: its closing boundary is missing "
            "(was the upload cut short?).",
            "INVALID_MULTIPART",
        )
    result = RequestBody()
    header_parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
    for section in sections[1:-1]:
        # Each part sits between "CRLF--boundary" lines: drop the CRLF after this delimiter and the one
        # that belongs to the next delimiter.
        part = section[2:] if section.startswith(b"\r\n") else section.lstrip(b"\n")
        part = part[:-2] if part.endswith(b"\r\n") else part
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            head, separator, content = part.partition(b"\n\n")
        if not separator:
            raise BadRequestError("A multipart/form-data part has no header section.", "INVALID_MULTIPART")
        headers = header_parser.parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not name:
            raise BadRequestError(
                "A multipart/form-data part has no name in its Content-Disposition header.", "INVALID_MULTIPART"
            )
        name = str(name)
        filename = headers.get_filename()
        if filename is not None:
            part_type = headers.get_content_type() if headers.get("content-type") else "application/octet-stream"
            result.files.setdefault(name, UploadedFile(filename=str(filename), content_type=part_type, data=content))
        else:
            charset = headers.get_content_charset() or "utf-8"
            try:
                value = content.decode(charset)
            except (UnicodeDecodeError, LookupError):
                raise BadRequestError(
                    f"The multipart field {name!r} is not text in {charset}; send files with a filename.",
                    "INVALID_MULTIPART",
                ) from None
            result.fields.setdefault(name, value)
    return result


# --------------------------------------------------------------------------------------------
# Field values

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_bool(name: str, value: Any, default: bool) -> bool:
    """JSON booleans, 0/1, and the strings requests sends for Python booleans ("True"/"False")."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequestError(f"{name} must be true or false (got {value!r}).", "INVALID_PARAMETER")


def parse_int(name: str, value: Any, *, allowed: Mapping[int, object] | range | None = None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequestError(f"{name} must be a whole number (got {value!r}).", "INVALID_PARAMETER")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise BadRequestError(f"{name} must be a whole number (got {value!r}).", "INVALID_PARAMETER")
    if allowed is not None and number not in allowed:
        shown = f"{allowed.start}..{allowed.stop - 1}" if isinstance(allowed, range) else ", ".join(map(str, allowed))
        raise BadRequestError(f"{name} must be one of {shown} (got {number}).", "INVALID_PARAMETER")
    return number


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequestError(f"{name} must be a string (got {type(value).__name__}).", "INVALID_PARAMETER")
    return value.strip()


def _reject_unknown(body: RequestBody, known: set[str], route: str) -> None:
    unknown = sorted(body.names() - known)
    if unknown:
        raise BadRequestError(
            f"Unknown field(s) for {route}: {', '.join(unknown)}. Known fields: {', '.join(sorted(known))}.",
            "UNKNOWN_FIELD",
        )


# --------------------------------------------------------------------------------------------
# The audio a task reads


@dataclass(frozen=True)
class AudioInput:
    """Exactly one of: an uploaded file, a public URL, or a key in this deployment's bucket."""

    file: UploadedFile | None = None
    url: str = ""
    key: str = ""

    @property
    def filename(self) -> str:
        if self.file is not None:
            return safe_name(self.file.filename, default="audio")
        return ""


def _check_url(name: str, url: str, check: UrlCheck, code: str) -> None:
    try:
        check(url)
    except ValueError as exc:
        raise BadRequestError(f"{name} is refused: {exc}.", code) from None


def parse_audio_input(
    body: RequestBody, *, bucket: str, check_url: UrlCheck, max_upload_bytes: int
) -> AudioInput:
    file = body.files.get("audio_file")
    if "audio_file" in body.fields:
        raise BadRequestError(
            "audio_file must be sent as a file in a multipart/form-data request "
            "(requests: files={'audio_file': open('song.wav', 'rb')}).",
            "INVALID_AUDIO_FILE",
        )
    url = _text("audio_url", body.fields.get("audio_url"))
    path = _text("audio_path", body.fields.get("audio_path"))
    if path.lower().startswith(("http://", "https://")):
        # MusicGPT's own sample passes a web link as audio_path; it means the same as audio_url.
        if url:
            raise BadRequestError("Give either audio_url or audio_path, not both.", "AMBIGUOUS_AUDIO_SOURCE")
        url, path = path, ""
    given = [name for name, present in (("audio_file", file), ("audio_url", url), ("audio_path", path)) if present]
    if not given:
        raise BadRequestError(
            "No audio given: send audio_file (multipart upload), audio_url (a public https:// link), "
            f"or audio_path (s3://{bucket}/<key>, or the audio_path returned by POST /v1/uploads).",
            "MISSING_AUDIO",
        )
    if len(given) > 1:
        raise BadRequestError(
            f"Give exactly one audio source, not {' and '.join(given)}.", "AMBIGUOUS_AUDIO_SOURCE"
        )
    if file is not None:
        if not file.data:
            raise BadRequestError(
                f"audio_file {file.filename!r} is empty (0 bytes): attach the file's contents.", "EMPTY_FILE"
            )
        if len(file.data) > max_upload_bytes:
            raise PayloadTooLargeError(
                f"audio_file is {len(file.data)} bytes, more than the limit of {max_upload_bytes} bytes. "
                "Upload large files with POST /v1/uploads and submit the returned audio_path.",
                "FILE_TOO_LARGE",
            )
        return AudioInput(file=file)
    if url:
        _check_url("audio_url", url, check_url, "INVALID_AUDIO_URL")
        return AudioInput(url=url)
    return AudioInput(key=s3_key_from_path(path, bucket=bucket))


def s3_key_from_path(path: str, *, bucket: str) -> str:
    """``s3://<our bucket>/<key>`` or a bare key (an upload's key) → the key; other buckets are refused."""
    if path.lower().startswith("s3://"):
        other_bucket, _, key = path[5:].partition("/")
        if other_bucket != bucket:
            raise BadRequestError(
                f"audio_path {path!r} is in bucket {other_bucket!r}, but this deployment reads only its own "
                f"bucket {bucket!r}. Upload the file with POST /v1/uploads (or copy it to s3://{bucket}/uploads/…) "
                "and submit that path, or send a public audio_url.",
                "FOREIGN_BUCKET",
            )
    elif "://" in path:
        raise BadRequestError(
            f"audio_path {path!r} is not an s3:// path: give s3://{bucket}/<key>, an upload's key, "
            "or send a public https:// link as audio_url.",
            "INVALID_AUDIO_PATH",
        )
    else:
        key = path
    key = key.lstrip("/")
    if not key or key.endswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise BadRequestError(
            f"audio_path {path!r} does not name an object: give s3://{bucket}/<key> with a file name.",
            "INVALID_AUDIO_PATH",
        )
    if len(key.encode("utf-8")) > 1024:
        raise BadRequestError("audio_path is longer than S3's 1024-byte key limit.", "INVALID_AUDIO_PATH")
    return key


def _webhook_url(body: RequestBody, name: str, check_url: UrlCheck) -> str:
    url = _text(name, body.fields.get(name))
    if url:
        _check_url(name, url, check_url, "INVALID_WEBHOOK_URL")
    return url


# --------------------------------------------------------------------------------------------
# Requests per route


@dataclass(frozen=True)
class AudioToMidiRequest:
    audio: AudioInput
    options: dict[str, Any]  # only the options the client set, already validated
    sonify_midi: bool = True
    save_note_events: bool = True
    webhook_url: str = ""


AUDIO_TO_MIDI_FIELDS = {*AUDIO_SOURCE_FIELDS, "sonify_midi", "save_note_events", "webhook_url"}


def parse_audio_to_midi(
    body: RequestBody, *, bucket: str, check_url: UrlCheck, max_upload_bytes: int
) -> AudioToMidiRequest:
    option_names = set(TranscriptionOptions.model_fields)
    _reject_unknown(body, AUDIO_TO_MIDI_FIELDS | option_names, "POST /v1/audio_to_midi")
    audio = parse_audio_input(body, bucket=bucket, check_url=check_url, max_upload_bytes=max_upload_bytes)
    return AudioToMidiRequest(
        audio=audio,
        options=parse_options({name: body.fields[name] for name in option_names if name in body.fields}),
        sonify_midi=parse_bool("sonify_midi", body.fields.get("sonify_midi"), True),
        save_note_events=parse_bool("save_note_events", body.fields.get("save_note_events"), True),
        webhook_url=_webhook_url(body, "webhook_url", check_url),
    )


def parse_options(values: dict[str, Any]) -> dict[str, Any]:
    """Validate engine options by their names; "" means "use the default"."""
    given = {name: value for name, value in values.items() if value != ""}
    try:
        options = TranscriptionOptions.parse(given)
    except InvalidOptionsError as exc:
        raise BadRequestError(exc.message, exc.code) from None
    return options.model_dump(exclude_unset=True)


# Bit depths each target format can hold; None means the format has no bit depth (lossy).
CONVERT_FORMATS: dict[str, tuple[int, ...] | None] = {
    "wav": (16, 24, 32),
    "flac": (16, 24),
    "aiff": (16, 24, 32),
    "ogg": None,
    "mp3": None,
}
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
CONVERT_FIELDS = {*AUDIO_SOURCE_FIELDS, "target_format", "target_sr", "target_bit_depth", "webhook_url"}


@dataclass(frozen=True)
class FileConvertRequest:
    audio: AudioInput
    convert: ConvertSpec
    webhook_url: str = ""


def parse_file_convert(
    body: RequestBody, *, bucket: str, check_url: UrlCheck, max_upload_bytes: int
) -> FileConvertRequest:
    _reject_unknown(body, CONVERT_FIELDS, "POST /v1/file_convert")
    target_format = _text("target_format", body.fields.get("target_format")).lower().lstrip(".") or "wav"
    target_format = {"aif": "aiff", "oga": "ogg"}.get(target_format, target_format)
    if target_format not in CONVERT_FORMATS:
        raise BadRequestError(
            f"target_format {target_format!r} is not supported: use one of {', '.join(CONVERT_FORMATS)}.",
            "INVALID_PARAMETER",
        )
    target_sr = parse_int("target_sr", body.fields.get("target_sr"), allowed=range(8000, 192001))
    if target_format == "mp3" and target_sr is not None and target_sr not in MP3_SAMPLE_RATES:
        raise BadRequestError(
            f"mp3 cannot hold {target_sr} Hz: use one of {', '.join(map(str, MP3_SAMPLE_RATES))}.",
            "INVALID_PARAMETER",
        )
    depths = CONVERT_FORMATS[target_format]
    target_bit_depth = parse_int("target_bit_depth", body.fields.get("target_bit_depth"), allowed=(16, 24, 32))
    if target_bit_depth is not None and depths is None:
        raise BadRequestError(
            f"{target_format} is a lossy format without a bit depth: leave out target_bit_depth, "
            "or choose wav, flac or aiff.",
            "INVALID_PARAMETER",
        )
    if target_bit_depth is not None and depths is not None and target_bit_depth not in depths:
        raise BadRequestError(
            f"{target_format} cannot hold {target_bit_depth}-bit samples: use one of "
            f"{', '.join(map(str, depths))}.",
            "INVALID_PARAMETER",
        )
    audio = parse_audio_input(body, bucket=bucket, check_url=check_url, max_upload_bytes=max_upload_bytes)
    return FileConvertRequest(
        audio=audio,
        convert=ConvertSpec(target_format=target_format, target_sr=target_sr, target_bit_depth=target_bit_depth),
        webhook_url=_webhook_url(body, "webhook_url", check_url),
    )


@dataclass(frozen=True)
class MidiGenerateRequest:
    source_task_id: str
    callback_url: str


def parse_midi_generate(body: RequestBody, *, check_url: UrlCheck) -> MidiGenerateRequest:
    _reject_unknown(body, {"taskId", "callBackUrl"}, "POST /api/v1/midi/generate")
    task_id = _text("taskId", body.fields.get("taskId"))
    if not task_id:
        raise BadRequestError(
            "taskId is required: give the task_id of an earlier audio_to_midi task of this API key.",
            "MISSING_PARAMETER",
        )
    callback_url = _text("callBackUrl", body.fields.get("callBackUrl"))
    if not callback_url:
        raise BadRequestError(
            "callBackUrl is required: give the https:// URL that should receive the MIDI notes.",
            "MISSING_PARAMETER",
        )
    _check_url("callBackUrl", callback_url, check_url, "INVALID_WEBHOOK_URL")
    return MidiGenerateRequest(source_task_id=task_id, callback_url=callback_url)


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    content_type: str


def parse_upload(body: RequestBody) -> UploadRequest:
    _reject_unknown(body, {"filename", "content_type"}, "POST /v1/uploads")
    raw_name = _text("filename", body.fields.get("filename"))
    if not raw_name:
        raise BadRequestError(
            'filename is required: give the name of the file you will upload, e.g. {"filename": "song.wav"}.',
            "MISSING_PARAMETER",
        )
    content_type = _text("content_type", body.fields.get("content_type")) or "application/octet-stream"
    if "/" not in content_type or any(char in content_type for char in "\r\n"):
        raise BadRequestError(
            f"content_type {content_type!r} is not a media type such as audio/wav.", "INVALID_PARAMETER"
        )
    return UploadRequest(filename=safe_name(raw_name, default="audio"), content_type=content_type)
