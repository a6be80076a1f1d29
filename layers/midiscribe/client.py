"""A small client for any midiscribe deployment (the local stack or one in AWS), stdlib only.

    from midiscribe.client import MidiscribeClient
    client = MidiscribeClient("http://127.0.0.1:3000", api_key)
    queued = client.submit_file("song.wav")
    conversion = client.wait(queued["task_id"])
    files = client.download(conversion, "out/")

Files larger than what API Gateway and Lambda take in one request are uploaded first, straight to
the bucket with a presigned POST (``POST /v1/uploads``), then submitted as ``audio_path``.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from . import __version__

DEFAULT_API_URL = "http://127.0.0.1:3000"
API_KEY_ENV = "MIDISCRIBE_API_KEY"
API_URL_ENV = "MIDISCRIBE_API_URL"
# Lambda takes 6 MB per synchronous request and API Gateway base64-encodes binary bodies (×4/3),
# so about 4.5 MB of multipart body fits; stay under that with room for the form's other parts.
INLINE_UPLOAD_LIMIT_BYTES = 4 * 1024 * 1024
FINAL_STATUSES = ("COMPLETED", "FAILED")
# byId field → what the file is, in the order they are downloaded.
OUTPUT_FIELDS = {
    "midi_file_path": "MIDI",
    "sonify_file_path": "sonified WAV",
    "notes_file_path": "note events CSV",
    "notes_json_path": "note events JSON",
    "quantized_midi_file_path": "quantized MIDI",
    "musicxml_file_path": "MusicXML score",
}


class MidiscribeError(Exception):
    """The API refused a request, or could not be reached; ``status`` and ``code`` say which."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


def _boolean(value: bool) -> str:
    return "true" if value else "false"


def encode_multipart(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """``multipart/form-data`` body and its Content-Type for text fields and (filename, data, type) files."""
    boundary = "midiscribe-" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data, content_type) in files.items():
        quoted = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _open(request: str | urllib.request.Request, timeout: float) -> Any:
    """``urlopen`` for http(s) only: a link from a server (an upload form, a result) must not name a local
    ``file:`` or another scheme urllib would happily open."""
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise MidiscribeError(f"Refusing to open {url[:200]!r}: only http:// and https:// links are followed.")
    return urllib.request.urlopen(request, timeout=timeout)  # nosec B310 # the scheme is checked just above


def _content_type_of(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class MidiscribeClient:
    def __init__(self, api_url: str | None = None, api_key: str | None = None, *, timeout: float = 120.0):
        self.api_url = (api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        parts = urllib.parse.urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:  # urllib's own refusal is a ValueError
            raise MidiscribeError(
                f"The API URL {self.api_url!r} is not an http:// or https:// URL: give the API's base URL "
                f"(--api-url or {API_URL_ENV}), e.g. {DEFAULT_API_URL} or a deployed stack's ApiUrl output."
            )
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not self.api_key:
            raise MidiscribeError(
                f"No API key: pass one (--api-key) or set {API_KEY_ENV}. `midiscribe serve` prints the local "
                "stack's key; `midiscribe keys create --name me` makes one for a deployed stack."
            )
        self.timeout = timeout

    # ---------------------------------------------------------------------------------- transport

    def _request(self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None,
                 query: Mapping[str, str] | None = None) -> dict[str, Any]:
        url = self.api_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Authorization": self.api_key, "Accept": "application/json",
                   "User-Agent": f"midiscribe-client/{__version__}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with _open(request, self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise self._api_error(error.code, error.read()) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise MidiscribeError(
                f"cannot reach {self.api_url} ({reason}). Is the API running (`make run`), and is the URL right?"
            ) from None
        try:
            return json.loads(payload)
        except ValueError:
            raise MidiscribeError(f"{method} {url} answered something that is not JSON: {payload[:200]!r}") from None

    @staticmethod
    def _api_error(status: int, payload: bytes) -> MidiscribeError:
        try:
            data = json.loads(payload)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        message = data.get("error") or data.get("message") or payload[:200].decode("utf-8", "replace") or "no details"
        code = data.get("code")
        return MidiscribeError(f"HTTP {status}{' ' + code if code else ''}: {message}", status=status, code=code)

    # ---------------------------------------------------------------------------------- API calls

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def _submit(self, fields: dict[str, Any], files: Mapping[str, tuple[str, bytes, str]] | None = None) -> dict:
        if files:
            form = {name: _boolean(v) if isinstance(v, bool) else str(v) for name, v in fields.items()}
            body, content_type = encode_multipart(form, files)
        else:
            body, content_type = json.dumps(fields).encode("utf-8"), "application/json"
        return self._request("POST", "/v1/audio_to_midi", body=body, content_type=content_type)

    @staticmethod
    def _fields(webhook_url: str | None, sonify_midi: bool, save_note_events: bool,
                options: Mapping[str, Any] | None, more_options: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {"sonify_midi": sonify_midi, "save_note_events": save_note_events}
        if webhook_url:
            fields["webhook_url"] = webhook_url
        # Every option goes to the API, which refuses a name it does not know (400 UNKNOWN_FIELD, listing the
        # known ones) rather than the client dropping it unseen.
        fields.update(options or {})
        fields.update(more_options)
        return fields

    def submit_file(self, path: str | os.PathLike, *, webhook_url: str | None = None, sonify_midi: bool = True,
                    save_note_events: bool = True, options: Mapping[str, Any] | None = None,
                    **more_options: Any) -> dict[str, Any]:
        """Queue a local file: inline when it fits one request, else uploaded to the bucket first.

        Transcription options (``model="piano"``, ``quantize="1/16"``, ``score=True``…) may be given as keyword
        arguments or in ``options``; the API checks them."""
        path = Path(path)
        if not path.is_file():
            raise MidiscribeError(f"{path} is not a file: give the path of an audio file to transcribe.")
        fields = self._fields(webhook_url, sonify_midi, save_note_events, options, more_options)
        if path.stat().st_size > INLINE_UPLOAD_LIMIT_BYTES:
            fields["audio_path"] = self.upload(path)
            return self._submit(fields)
        return self._submit(fields, {"audio_file": (path.name, path.read_bytes(), _content_type_of(path))})

    def submit_url(self, audio_url: str, *, webhook_url: str | None = None, sonify_midi: bool = True,
                   save_note_events: bool = True, options: Mapping[str, Any] | None = None,
                   **more_options: Any) -> dict[str, Any]:
        """Queue an https:// URL the service downloads; options as for :meth:`submit_file`."""
        fields = self._fields(webhook_url, sonify_midi, save_note_events, options, more_options)
        return self._submit({"audio_url": audio_url, **fields})

    def submit_path(self, audio_path: str, *, webhook_url: str | None = None, sonify_midi: bool = True,
                    save_note_events: bool = True, options: Mapping[str, Any] | None = None,
                    **more_options: Any) -> dict[str, Any]:
        """Queue a file already in the bucket (an ``audio_path`` from :meth:`upload`); options as for
        :meth:`submit_file`."""
        fields = self._fields(webhook_url, sonify_midi, save_note_events, options, more_options)
        return self._submit({"audio_path": audio_path, **fields})

    def upload(self, path: str | os.PathLike) -> str:
        """Put a file in the bucket with a presigned POST; returns the ``audio_path`` to submit."""
        path = Path(path)
        content_type = _content_type_of(path)
        grant = self._request("POST", "/v1/uploads", body=json.dumps(
            {"filename": path.name, "content_type": content_type}).encode("utf-8"), content_type="application/json")
        url, form, audio_path = grant.get("upload_url"), grant.get("fields"), grant.get("audio_path")
        if not url or not isinstance(form, dict) or not audio_path:
            raise MidiscribeError(f"POST /v1/uploads answered without upload_url, fields and audio_path: {grant}")
        body, multipart_type = encode_multipart(
            {k: str(v) for k, v in form.items()}, {"file": (path.name, path.read_bytes(), content_type)}
        )
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": multipart_type})
        try:
            with _open(request, max(self.timeout, 600)) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode("utf-8", "replace")
            raise MidiscribeError(f"the upload to the bucket was refused (HTTP {error.code}): {detail}",
                                  status=error.code) from None
        except (urllib.error.URLError, OSError) as error:
            raise MidiscribeError(f"cannot reach the bucket at {url}: {getattr(error, 'reason', error)}") from None
        return str(audio_path)

    def get(self, task_id: str) -> dict[str, Any]:
        """The task's ``conversion`` record from ``GET /v1/byId``."""
        reply = self._request("GET", "/v1/byId", query={"conversionType": "AUDIO_TO_MIDI", "task_id": task_id})
        conversion = reply.get("conversion")
        if not isinstance(conversion, dict):
            raise MidiscribeError(f"GET /v1/byId answered without a conversion: {reply}")
        return conversion

    def wait(self, task_id: str, *, timeout: float = 1800.0, interval: float = 1.0,
             progress: Callable[[dict[str, Any], float], None] | None = None) -> dict[str, Any]:
        """Poll until the task is COMPLETED or FAILED; ``progress(conversion, elapsed_s)`` after each poll."""
        started = time.monotonic()
        while True:
            conversion = self.get(task_id)
            elapsed = time.monotonic() - started
            if progress is not None:
                progress(conversion, elapsed)
            if conversion.get("status") in FINAL_STATUSES:
                return conversion
            if elapsed > timeout:
                raise MidiscribeError(
                    f"task {task_id} is still {conversion.get('status')} after {timeout:.0f} s; "
                    "check it later with GET /v1/byId"
                )
            time.sleep(interval)

    def download(self, conversion: Mapping[str, Any], destination: str | os.PathLike,
                 keep: Iterable[str | os.PathLike] = (), name: str | None = None) -> dict[str, Path]:
        """Fetch every output link of a finished conversion into ``destination``; field → file.

        The files are named as the service names them (after the input, in ASCII: Für Elise.wav gives
        Fur_Elise.mid, 練習.wav gives audio.mid), or ``name`` and each output's suffix (``name="練習"``:
        練習.mid, 練習.wav, …). ``keep``: files that must not be overwritten, such as the input (song.wav's
        sonified WAV is song.wav); nothing is fetched if an output would land on one."""
        destination = Path(destination)
        kept = {Path(path).resolve() for path in keep}
        links = {field_name: conversion[field_name] for field_name in OUTPUT_FIELDS if conversion.get(field_name)}
        served = {field_name: Path(urllib.parse.unquote(urllib.parse.urlparse(link).path)).name or field_name
                  for field_name, link in links.items()}
        # Every output is the service's name for the input plus its own suffix (song.mid, song.quantized.mid).
        served_stem = served.get("midi_file_path", "").removesuffix(".mid")
        targets: dict[str, tuple[str, Path]] = {}
        for field_name, link in links.items():
            target = destination / served[field_name]
            if name and served_stem and served[field_name].startswith(served_stem + "."):
                target = destination / f"{name}{served[field_name][len(served_stem):]}"
            if target.resolve() in kept:
                raise MidiscribeError(f"the {OUTPUT_FIELDS[field_name]} would overwrite {target}: download into "
                                      "another folder (the links stay valid: GET /v1/byId gives fresh ones)")
            targets[field_name] = (link, target)
        destination.mkdir(parents=True, exist_ok=True)
        saved: dict[str, Path] = {}
        for field_name, (link, target) in targets.items():
            try:
                with _open(link, max(self.timeout, 600)) as response, open(target, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
            except urllib.error.HTTPError as error:
                raise MidiscribeError(f"downloading {field_name} failed with HTTP {error.code} "
                                      "(links expire: fetch fresh ones with GET /v1/byId)", status=error.code) from None
            except (urllib.error.URLError, OSError) as error:
                raise MidiscribeError(f"cannot download {field_name} from {link}: {getattr(error, 'reason', error)}") from None
            saved[field_name] = target
        return saved
