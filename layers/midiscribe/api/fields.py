"""Field types of the request models: what the OpenAPI document shows, read the way clients send it.

Each type documents a plain JSON type and reads values leniently (form fields are text, MusicGPT's
samples send booleans as "True"/"False"), refusing others with a message that names the field and
says what it must be. A refusal carries its machine code as the pydantic error type.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from midiscribe.domain.requests import UploadedFile

from .limits import MAX_TEXT_CHARS, quoted

# Blank text counts as not given: required text must hold a character that is not whitespace to
# Python's str.strip. Spelled out, because \S in a JSON Schema (ECMA-262) pattern differs from
# Python's (e.g. on \x1c-\x1f). Patterns are unanchored: "anywhere".
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def refusal(code: str, message: str) -> PydanticCustomError:
    """A validation error whose type is our machine code (the message is not a template)."""
    return PydanticCustomError(code, "{message}", {"message": message})


def text(value: Any, info: ValidationInfo) -> str | None:
    """Text of at most MAX_TEXT_CHARS characters, stripped; blank is the same as not given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise refusal("INVALID_PARAMETER", f"{info.field_name} must be a string (got {type(value).__name__}).")
    if len(value) > MAX_TEXT_CHARS:
        raise refusal(
            "TEXT_TOO_LONG",
            f"{info.field_name} is {len(value)} characters long; the limit is {MAX_TEXT_CHARS} (2 KB). "
            "Use a shorter URL or value.",
        )
    return value.strip() or None


def loose_bool(value: Any, info: ValidationInfo) -> bool:
    """JSON booleans, 0/1, and the strings requests sends for Python booleans ("True"/"False")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise refusal("INVALID_PARAMETER", f"{info.field_name} must be true or false (got {quoted(value)}).")


def whole_number(name: str, value: Any, allowed: Collection[int]) -> int:
    """An integer (also from text, or a float without a fraction) that is one of ``allowed``."""
    number = None
    if not isinstance(value, bool):
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            number = None
    if number is None:
        raise refusal("INVALID_PARAMETER", f"{name} must be a whole number (got {quoted(value)}).")
    if number not in allowed:
        if isinstance(allowed, range) and allowed.step == 1:
            raise refusal("INVALID_PARAMETER",
                          f"{name} must be from {allowed.start} to {allowed.stop - 1} (got {number}).")
        raise refusal("INVALID_PARAMETER", f"{name} must be one of {', '.join(map(str, allowed))} (got {number}).")
    return number


def uploaded_file(value: Any, info: ValidationInfo) -> UploadedFile:
    if not isinstance(value, UploadedFile):
        raise refusal(
            "INVALID_AUDIO_FILE",
            f"{info.field_name} must be sent as a file in a multipart/form-data request "
            "(requests: files={'audio_file': open('song.wav', 'rb')}).",
        )
    return value


# The bound sits on the text itself: blank text becomes None, which has no length.
BoundedText = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Text = Annotated[BoundedText | None, BeforeValidator(text)]
LooseBool = Annotated[bool, BeforeValidator(loose_bool)]
# Documented as a binary string (what a multipart file part is); read as the part itself.
FilePart = Annotated[
    UploadedFile | None, PlainValidator(uploaded_file, json_schema_input_type=bytes | None)
]
