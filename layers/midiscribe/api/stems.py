"""The stems of an audio_to_midi request: ``stem.<name>`` multipart parts and the ``stems`` list.

Instead of one audio source, a request may give several named stems of one recording. A stem's audio
is a multipart part ``stem.<name>`` (its instrument, optionally, in the field ``stem.<name>.instrument``)
or an entry of ``stems`` (a JSON list, or that list as JSON text in a form field): ``{"name",
"audio_url" | "audio_path", "instrument"?}``. In a multipart request, an entry without a source gives
the instrument of the part of the same name. Names, count and shape are checked here; what depends on
the deployment (URL rules, whose uploads, the audio's header) is the service's to check.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from midiscribe.domain.errors import InvalidRequestError
from midiscribe.domain.requests import AudioInput, StemInput, UploadedFile
from midiscribe.engine.instruments import duplicate_stem_message
from midiscribe.engine.options import INSTRUMENTS

from .body import load_json
from .fields import NOT_BLANK, refusal
from .limits import MAX_STEMS, MAX_TEXT_CHARS, quoted

PART_PREFIX = "stem."
INSTRUMENT_SUFFIX = ".instrument"
# A name is a path segment of the stem's upload, a word in a multipart part's name and a MIDI track name.
MAX_NAME_CHARS = 32
NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME_CHARS - 1}}}$"
NAME_RULE = f"1 to {MAX_NAME_CHARS} letters, digits, '_' or '-', starting with a letter or digit"
PART_PATTERN = r"^stem\." + NAME_PATTERN[1:]
PART_INSTRUMENT_PATTERN = PART_PATTERN[:-1] + r"\.instrument$"
ENTRY_FIELDS = ("name", "audio_url", "audio_path", "instrument")
EXAMPLE = '[{"name": "bass", "audio_url": "https://example.com/bass.wav"}, {"name": "drums", "audio_path": "…"}]'


class StemEntry(BaseModel):
    """One entry of ``stems`` (documents the shape; :func:`read_stems` reads it)."""

    model_config = ConfigDict(
        extra="forbid",
        title="Stem",
        json_schema_extra={"oneOf": [
            {"required": [name], "properties": {name: {"type": "string", "pattern": NOT_BLANK}}}
            for name in ("audio_url", "audio_path")
        ]},
    )

    name: str = Field(pattern=NAME_PATTERN, description=f"The stem's name ({NAME_RULE}); unique in the request.")
    audio_url: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="Public https:// URL of the stem.")
    audio_path: str | None = Field(None, max_length=MAX_TEXT_CHARS,
                                   description="The audio_path POST /v1/uploads returned: one of this key's uploads.")
    instrument: Literal[INSTRUMENTS] | None = Field(  # type: ignore[valid-type]
        None, description="The stem's instrument family (drums: the drum transcriber). Unset: what the name says "
        "(drums, bass, vocals, piano, keys, guitar…), else the request's instrument.")


EXAMPLE_SENTENCE = f"stems is a list such as {EXAMPLE}."
# The longest stems text that can be valid: every entry's fields at their longest, with room for the JSON around them.
MAX_STEMS_TEXT_CHARS = MAX_STEMS * (len(ENTRY_FIELDS) * (MAX_TEXT_CHARS + 32))


def _invalid(message: str) -> Exception:
    return refusal("INVALID_STEMS", f"{message} {EXAMPLE_SENTENCE}")


def read_stems(value: Any) -> list[dict[str, Any]] | None:
    """The ``stems`` field, a list or its JSON text (forms), checked entry by entry; None when not given."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        if len(value) > MAX_STEMS_TEXT_CHARS:
            raise refusal("TEXT_TOO_LONG", f"stems is {len(value)} characters long; {MAX_STEMS} stems with every "
                          f"field at its longest take at most {MAX_STEMS_TEXT_CHARS}. {EXAMPLE_SENTENCE}")
        try:
            value = load_json(value, what="stems")
        except InvalidRequestError as refused:
            raise _invalid(refused.message) from None
        except ValueError:
            raise _invalid(f"stems is not valid JSON (got {quoted(value)}).") from None
    if not isinstance(value, list):
        raise _invalid(f"stems must be a list of objects (got {type(value).__name__}).")
    if not value:
        raise _invalid('stems is an empty list: list each stem as {"name": "bass", "audio_url": "https://…"} '
                       "(or audio_path), or leave stems out and send one audio source.")
    if len(value) > MAX_STEMS:
        raise refusal("TOO_MANY_STEMS", f"{len(value)} stems given; at most {MAX_STEMS} are transcribed in one "
                      "request. Mix some stems together, or submit them in two requests.")
    entries = []
    for position, entry in enumerate(value, 1):
        if not isinstance(entry, dict):
            raise _invalid(f"stems entry {position} is a {type(entry).__name__}, not an object.")
        unknown = sorted(str(name) for name in entry if name not in ENTRY_FIELDS)
        if unknown:
            raise _invalid(f"stems entry {position} has unknown field(s) {', '.join(map(quoted, unknown[:3]))}; "
                           f"its fields are {', '.join(ENTRY_FIELDS)}.")
        for name in ENTRY_FIELDS:
            if entry.get(name) is not None and not isinstance(entry[name], str):
                raise _invalid(f"stems entry {position}: {name} must be a string (got {type(entry[name]).__name__}).")
            if len(entry.get(name) or "") > MAX_TEXT_CHARS:
                raise refusal("TEXT_TOO_LONG", f"stems entry {position}: {name} is longer than {MAX_TEXT_CHARS} "
                              "characters.")
        cleaned = {name: entry[name].strip() for name in ENTRY_FIELDS if (entry.get(name) or "").strip()}
        check_name(cleaned.get("name", ""), f"stems entry {position}")
        if "instrument" in cleaned:
            cleaned["instrument"] = check_instrument(cleaned["instrument"], f"stem {cleaned['name']!r}")
        entries.append(cleaned)
    return entries


def check_name(name: str, where: str) -> str:
    if not name:
        raise refusal("INVALID_STEM_NAME", f"{where} has no name: name every stem (e.g. drums, bass, vocals).")
    if not re.fullmatch(NAME_PATTERN, name):
        raise refusal("INVALID_STEM_NAME", f"{where}: the name {quoted(name)} is not a stem name; use {NAME_RULE} "
                      "(e.g. drums, lead_vocals, keys-2).")
    return name


def check_instrument(instrument: str, where: str) -> str:
    chosen = instrument.strip().lower()
    if chosen not in INSTRUMENTS:
        raise refusal("INVALID_STEMS", f"{where}: instrument {quoted(instrument)} is not known; use one of "
                      f"{', '.join(INSTRUMENTS)}.")
    return chosen


def take_parts(values: dict[str, Any]) -> dict[str, Any]:
    """Move the ``stem.<name>`` parts and ``stem.<name>.instrument`` fields out of a body's values into
    ``values["stem_parts"]`` (``{name: {"file": part, "instrument": text}}``), in the order the file parts
    were sent."""
    parts: dict[str, dict[str, Any]] = {}
    keys = [key for key in values if key.startswith(PART_PREFIX)]
    for key in sorted(keys, key=lambda key: key[len(PART_PREFIX):].endswith(INSTRUMENT_SUFFIX)):  # files first
        value = values.pop(key)
        name = key[len(PART_PREFIX):]
        is_instrument = name.endswith(INSTRUMENT_SUFFIX)
        if is_instrument:
            name = name[: -len(INSTRUMENT_SUFFIX)]
        check_name(name, f"The part {quoted(key)}")
        parts.setdefault(name, {})["instrument" if is_instrument else "file"] = value
    if parts:
        values["stem_parts"] = parts
    return values


def stem_inputs(entries: list[dict[str, Any]], parts: dict[str, dict[str, Any]], *, bucket: str,
                key_from_path: Any) -> tuple[StemInput, ...]:
    """The request's stems: one per ``stem.<name>`` part and per ``stems`` entry with a source.

    ``key_from_path(path, bucket=…)`` turns an audio_path into a key (the rule the single source follows).
    """
    stems: dict[str, StemInput] = {}
    overrides: dict[str, str] = {}
    for name, part in parts.items():
        file, instrument = part.get("file"), part.get("instrument")
        if file is None:
            raise InvalidRequestError(
                f"stem.{name}.instrument is given, but no file part stem.{name}: attach the stem's audio as "
                f"stem.{name}, or leave the instrument out.", "INVALID_STEMS")
        if not isinstance(file, UploadedFile):
            raise InvalidRequestError(
                f"stem.{name} must be a file part of a multipart/form-data request (curl: -F 'stem.{name}=@{name}.wav'); "
                "in JSON, list the stem in stems with an audio_url or audio_path.", "INVALID_STEMS")
        if not file.data:
            raise InvalidRequestError(f"stem.{name} ({file.filename!r}) is empty (0 bytes): attach the file's contents.",
                                      "EMPTY_FILE")
        if instrument is not None and not isinstance(instrument, str):
            raise InvalidRequestError(f"stem.{name}.instrument must be text, such as bass or drums.", "INVALID_STEMS")
        try:
            chosen = check_instrument(instrument, f"stem.{name}.instrument") if instrument and instrument.strip() else ""
        except PydanticCustomError as refused:  # outside the form's validators: raise it as the domain's error
            raise InvalidRequestError(refused.message(), refused.type) from None
        _add(stems, StemInput(name=name, audio=AudioInput(file=file), instrument=chosen))
    listed: set[str] = set()
    for entry in entries:
        name, url, path = entry["name"], entry.get("audio_url", ""), entry.get("audio_path", "")
        if name.casefold() in listed:
            raise InvalidRequestError(f"stems lists {name!r} twice (names are compared ignoring case): give each "
                                      "stem its own name.", "DUPLICATE_STEM")
        listed.add(name.casefold())
        if url and path:
            raise InvalidRequestError(f"Stem {name!r} has both audio_url and audio_path: give one.",
                                      "AMBIGUOUS_AUDIO_SOURCE")
        if path.lower().startswith(("http://", "https://")):
            url, path = path, ""  # as for the single audio_path: a web link means audio_url
        if not url and not path:
            part = stems.get(name.casefold())
            if part is not None:  # the instrument of a multipart part (names compared ignoring case)
                instrument = entry.get("instrument", "")
                if instrument and part.instrument and instrument != part.instrument:
                    raise InvalidRequestError(
                        f"Stem {part.name!r} is given two instruments: {part.instrument} in "
                        f"stem.{part.name}.instrument and {instrument} in stems. Give it once.", "INVALID_STEMS")
                overrides[part.name] = instrument
                continue
            raise InvalidRequestError(
                f"Stem {name!r} has no audio: give its audio_url or audio_path"
                + (" (or attach it as the multipart part stem.<name>)." if parts else "."), "INVALID_STEMS")
        audio = AudioInput(url=url) if url else AudioInput(key=key_from_path(path, bucket=bucket), path=path)
        _add(stems, StemInput(name=name, audio=audio, instrument=entry.get("instrument", "")))
    for name, instrument in overrides.items():
        if instrument:
            stems[name.casefold()] = StemInput(name=name, audio=stems[name.casefold()].audio, instrument=instrument)
    if len(stems) > MAX_STEMS:
        raise InvalidRequestError(f"{len(stems)} stems given; at most {MAX_STEMS} are transcribed in one request. "
                                  "Mix some stems together, or submit them in two requests.", "TOO_MANY_STEMS")
    return tuple(stems.values())


def _add(stems: dict[str, StemInput], stem: StemInput) -> None:
    if stem.name.casefold() in stems:
        raise InvalidRequestError(duplicate_stem_message(stems[stem.name.casefold()].name, stem.name), "DUPLICATE_STEM")
    stems[stem.name.casefold()] = stem
