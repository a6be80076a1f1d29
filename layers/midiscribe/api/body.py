"""Request bodies, by content type: what the fields are before anything checks their values.

Clients written for MusicGPT send the same fields three ways: ``multipart/form-data`` (Python
``requests`` with ``files=``), ``application/x-www-form-urlencoded`` (``requests`` with ``data=``,
where ``True`` arrives as the string ``"True"``), and JSON — sometimes JSON under a form content
type, because ``curl -d '{...}'`` labels its body ``application/x-www-form-urlencoded``. All three
become one :class:`RequestBody`, which the request models (``midiscribe.api.requests``) validate.

Reading is bounded (``midiscribe.api.limits``): a body of fields only has a size limit, JSON a depth
limit, every body a field count; a field sent twice, text that is not valid Unicode and numbers JSON
cannot hold are refused here, before any model sees them.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from midiscribe.domain.errors import InvalidRequestError, TooLargeError
from midiscribe.domain.requests import UploadedFile

from .errors import UnsupportedMediaTypeError
from .limits import (
    MAX_FIELDS,
    MAX_FIELDS_BODY_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADER_PARAMETERS,
    MAX_JSON_DEPTH,
    MAX_JSON_INTEGER_DIGITS,
    some_names,
)


@dataclass
class RequestBody:
    """A request's fields (strings from forms, JSON values from JSON) and uploaded files."""

    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """Fields and files by name, as the request models read them."""
        return {**self.fields, **self.files}


# --------------------------------------------------------------------------------------------
# Body parsing


def _media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``multipart/form-data; boundary=x`` → ("multipart/form-data", {"boundary": "x"})."""
    if not content_type:
        return "", {}
    _check_header_size("The Content-Type header", content_type.encode("utf-8", "replace"))
    try:
        header = email.policy.HTTP.header_factory("content-type", content_type)
        params = {str(k).lower(): str(v) for k, v in dict(getattr(header, "params", {}) or {}).items()}
        return str(getattr(header, "content_type", "")).lower(), params
    except RecursionError:
        raise _unreadable_header("The Content-Type header") from None


def _check_header_size(what: str, raw: bytes) -> None:
    """Refuse a header the parser would spend seconds on, before it runs (``midiscribe.api.limits``)."""
    if len(raw) > MAX_HEADER_BYTES:
        raise InvalidRequestError(
            f"{what}: {len(raw)} bytes, more than the {MAX_HEADER_BYTES} read. Let your HTTP client build it "
            "(a name, a filename and a type are all it needs).",
            "HEADER_TOO_LARGE",
        )
    if raw.count(b";") > MAX_HEADER_PARAMETERS:
        raise InvalidRequestError(
            f"{what}: {raw.count(b';')} parameters, more than the {MAX_HEADER_PARAMETERS} read. Let your HTTP "
            "client build it (a name, a filename and a type are all it needs).",
            "HEADER_TOO_LARGE",
        )


def _unreadable_header(what: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{what}: not readable (comments nested too deeply). Let your HTTP client build it.", "INVALID_HEADER"
    )


# Bodies read as forms (or as JSON when they start like JSON): curl -d's default type, none, text.
FORM_MEDIA_TYPES = ("", "application/x-www-form-urlencoded", "text/plain")


def parse_body(body: bytes, content_type: str | None, *, max_bytes: int) -> RequestBody:
    """Parse a request body by its content type, tolerating JSON sent under a form content type."""
    if len(body) > max_bytes:
        raise TooLargeError(
            f"The request body is {len(body)} bytes, more than this deployment's limit of {max_bytes} bytes. "
            "Upload large files with POST /v1/uploads and submit the returned audio_path (stems together count "
            'toward the limit: upload each, then send a stems list, [{"name": "bass", "audio_path": ...}, ...]).',
            "PAYLOAD_TOO_LARGE",
        )
    media_type, params = _media_type(content_type)
    if media_type == "multipart/form-data":
        return _parse_multipart(body, params.get("boundary", ""))
    is_json = media_type == "application/json" or media_type.endswith("+json")
    if not is_json and media_type not in FORM_MEDIA_TYPES and body.strip():  # an empty body has no type to refuse
        # Before the size bound: a raw audio body (Content-Type: audio/wav) was told it was too large a form.
        raise UnsupportedMediaTypeError(
            f"Content-Type {media_type!r} is not supported: send multipart/form-data (with audio_file), "
            "application/x-www-form-urlencoded or application/json.",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    if b"\0" in body:
        # A form or JSON body never holds a raw NUL byte, and every audio file does: `curl --data-binary @song.wav`
        # labels the file a form, which was then refused as a form of hundreds of fields.
        raise UnsupportedMediaTypeError(
            f"The request body is binary data (an audio file?) sent as {media_type or 'a body without a type'}: "
            "send the file as a multipart/form-data part named audio_file (curl -F audio_file=@song.wav), "
            "or upload it with POST /v1/uploads and submit the returned audio_path.",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    if len(body) > MAX_FIELDS_BODY_BYTES:
        raise TooLargeError(
            f"The request body is {len(body)} bytes; a JSON or form body (fields only) may be at most "
            f"{MAX_FIELDS_BODY_BYTES // 1024} KB. Send files as multipart/form-data parts, or upload them "
            "with POST /v1/uploads.",
            "PAYLOAD_TOO_LARGE",
        )
    stripped = body.strip()
    if not stripped:
        return RequestBody()
    looks_like_json = stripped[:1] in (b"{", b"[")
    if is_json:
        return _parse_json(stripped)
    # curl -d '{...}' sends JSON labelled as a form; a form body never starts with "{".
    return _parse_json(stripped) if looks_like_json else _parse_urlencoded(stripped)


def load_json(text: bytes | str, *, what: str = "The JSON body") -> Any:
    """JSON text read under the body's rules (names once, finite numbers, nesting within the limit, valid
    Unicode), also for JSON inside a field (a form's ``stems``). Raises InvalidRequestError for a broken
    rule and ValueError, saying where, for text that is not JSON at all."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_fields, parse_constant=_no_constant, parse_float=_finite,
                           parse_int=_whole)
    except RecursionError:
        # The decoder recurses once per level: a few thousand "[" exhaust the stack before any check runs.
        raise _too_deep(what) from None
    _check_json_values(value, what)
    return value


def _parse_json(body: bytes) -> RequestBody:
    try:
        value = load_json(body)
    except InvalidRequestError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(
            f"The request body is not valid JSON ({str(exc)[:200]}); send a JSON object such as "
            '{"audio_url": "https://example.com/song.mp3"}.',
            "INVALID_JSON",
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"The JSON body must be an object of fields, not {type(value).__name__}.", "INVALID_JSON"
        )
    _check_field_count(len(value))
    return RequestBody(fields={str(k): v for k, v in value.items() if v is not None})


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are each given once (later duplicates would otherwise win silently)."""
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        twice = [name for name, _ in pairs if name in seen or seen.add(name)]
        raise _sent_twice(twice)
    return value


def _no_constant(name: str) -> Any:
    raise InvalidRequestError(f"The JSON body holds {name}, which is not a JSON number: send a finite number.",
                              "INVALID_JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise InvalidRequestError(f"The JSON number {text[:40]} is too large: send a finite number.", "INVALID_JSON")
    return number


def _whole(text: str) -> int:
    """A JSON integer; one of more digits than any field could take is refused as such (Python's own limit,
    4300 digits, answered with advice about sys.set_int_max_str_digits)."""
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_INTEGER_DIGITS:
        raise InvalidRequestError(f"A JSON number has {digits} digits; no field takes a number of more than "
                                  f"{MAX_JSON_INTEGER_DIGITS}.", "INVALID_JSON")
    return int(text)


def _too_deep(what: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{what} is nested more than {MAX_JSON_DEPTH} levels deep: send plain fields (a list of objects at most).",
        "INVALID_JSON",
    )


def _check_json_values(value: Any, what: str) -> None:
    """Depth within the limit and every string (names too) valid Unicode; walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(what)
        if isinstance(item, dict):
            for name, member in item.items():
                _check_text(name, name)
                pending.append((member, depth + 1))
        elif isinstance(item, list):
            pending.extend((member, depth + 1) for member in item)
        elif isinstance(item, str):
            _check_text("a value", item)


def _check_text(name: str, text: str) -> None:
    """Text must be encodable: JSON's escapes can spell lone UTF-16 surrogates ("\\ud800"), which are not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:64]
        raise InvalidRequestError(
            f"{shown} holds a lone UTF-16 surrogate (such as \\ud800), which is not a character: "
            "send valid Unicode text.",
            "INVALID_TEXT",
        ) from None


def _check_field_count(count: int) -> None:
    if count > MAX_FIELDS:
        raise InvalidRequestError(
            f"The request has {count} fields; at most {MAX_FIELDS} are read. Send only the fields the route "
            "documents (see /swagger).",
            "TOO_MANY_FIELDS",
        )


def _sent_twice(names: list[str]) -> InvalidRequestError:
    unique = list(dict.fromkeys(names))
    hint = " (one audio_file per request: submit each file on its own)" if "audio_file" in unique else ""
    return InvalidRequestError(
        f"Field(s) sent more than once: {some_names(unique)}. Send each field once{hint}.", "DUPLICATE_FIELD"
    )


def _parse_urlencoded(body: bytes) -> RequestBody:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS)
    except ValueError as error:
        if "Max number of fields" in str(error):
            _check_field_count(text.count("&") + 1)
        raise InvalidRequestError(
            "The form body could not be read: send name=value pairs joined by '&' "
            "(application/x-www-form-urlencoded, UTF-8), or a JSON object.",
            "INVALID_FORM",
        ) from None
    fields = dict(pairs)
    if len(fields) < len(pairs):
        seen: set[str] = set()
        raise _sent_twice([name for name, _ in pairs if name in seen or seen.add(name)])
    return RequestBody(fields=fields)


def _part_headers(
    parser: email.parser.BytesHeaderParser, head: bytes, *, position: int
) -> tuple[str, str | None, str, str]:
    """A part's name, file name (None for a field), media type and charset, from its header section."""
    what = f"The headers of multipart part {position}"
    _check_header_size(what, head)
    try:
        headers = parser.parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_filename()
        part_type = headers.get_content_type() if headers.get("content-type") else "application/octet-stream"
        charset = headers.get_content_charset() or "utf-8"
    except RecursionError:
        raise _unreadable_header(what) from None
    if not name:
        raise InvalidRequestError(
            "A multipart/form-data part has no name in its Content-Disposition header.", "INVALID_MULTIPART"
        )
    return str(name), None if filename is None else str(filename), part_type, charset


def _parse_multipart(body: bytes, boundary: str) -> RequestBody:
    """Split a multipart/form-data body on its boundary (RFC 7578); file parts keep their exact bytes."""
    if not boundary:
        raise InvalidRequestError(
            "The multipart/form-data Content-Type has no boundary parameter; let your HTTP client "
            "build the header (for example requests' files=) instead of setting it by hand.",
            "INVALID_MULTIPART",
        )
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 2 or not sections[-1].startswith(b"--"):
        raise InvalidRequestError(
            "The multipart/form-data body is incomplete: its closing boundary is missing "
            "(was the upload cut short?).",
            "INVALID_MULTIPART",
        )
    _check_field_count(len(sections) - 2)
    result = RequestBody()
    seen: list[str] = []
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
            raise InvalidRequestError("A multipart/form-data part has no header section.", "INVALID_MULTIPART")
        name, filename, part_type, charset = _part_headers(header_parser, head, position=len(seen) + 1)
        _check_text("a multipart field name", name)
        if name in seen:
            raise _sent_twice([name])
        seen.append(name)
        if filename is not None:
            _check_text(f"The file name of {name}", filename)
            result.files[name] = UploadedFile(filename=filename, content_type=part_type, data=content)
        else:
            try:
                value = content.decode(charset)
            except (UnicodeDecodeError, LookupError):
                raise InvalidRequestError(
                    f"The multipart field {name!r} is not text in {charset}; send files with a filename.",
                    "INVALID_MULTIPART",
                ) from None
            _check_text(name, value)
            result.fields[name] = value
    return result
