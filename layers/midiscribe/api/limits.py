"""What one request may carry, checked before any other work: the bounds the API states and enforces.

The request models document the text bounds in OpenAPI (``maxLength``); the body reader enforces the
rest while it reads. Every refusal names the bound, so a client knows what to change.
"""

from __future__ import annotations

# A JSON or form body carries fields only (files come as multipart parts): it may hold a few
# URLs of at most MAX_TEXT_CHARS, never megabytes.
MAX_FIELDS_BODY_BYTES = 1024 * 1024
# Our bodies are flat objects; a few levels leave room for a list of objects.
MAX_JSON_DEPTH = 8
# Digits of a JSON integer: the largest field takes a few (a tempo, a threshold in milliseconds).
MAX_JSON_INTEGER_DIGITS = 32
# Fields (and multipart parts) in one request; every route has fewer than half as many.
MAX_FIELDS = 64
# Any text field, URLs included. 2 KB is also what browsers and proxies reliably carry in a URL.
MAX_TEXT_CHARS = 2048
# A header the API parses itself (the request's Content-Type, each multipart part's headers). Clients send a
# few hundred bytes and two or three parameters; the email package's header parser takes time that grows faster
# than the header (a 40 KB Content-Disposition of 8,000 parameters took 3 s, a megabyte the whole 29 s) and
# recurses once per nested comment "(", so both are bounded before it runs.
MAX_HEADER_BYTES = 4096
MAX_HEADER_PARAMETERS = 16
# Stems in one audio_to_midi request: each is a transcription of its own, run side by side.
MAX_STEMS = 8
# An error about many fields names this many of them, then counts the rest.
MAX_NAMES_SHOWN = 5
# What an error may quote of a value the client sent, and how long any error message may be: an
# answer stays small whatever came in (Lambda refuses responses over 6 MB).
MAX_QUOTED_CHARS = 80
MAX_ERROR_MESSAGE_CHARS = 1000


def quoted(value: object) -> str:
    """``repr(value)``, cut to a few dozen characters: how an error shows what the client sent."""
    text = repr(value)
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 1] + "…"


def bounded_message(message: str) -> str:
    """An error message cut to MAX_ERROR_MESSAGE_CHARS (the last line of defence; most are far shorter)."""
    if len(message) <= MAX_ERROR_MESSAGE_CHARS:
        return message
    return message[: MAX_ERROR_MESSAGE_CHARS - 20] + " … (message cut)"


def some_names(names: list[str]) -> str:
    """``a, b, c, d, e and 17 more``: a list of names cut to a few, so an error message stays small."""
    shown = [name[:64] for name in names[:MAX_NAMES_SHOWN]]
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")
