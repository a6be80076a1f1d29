"""Reading tasks for their owner: byId's task and its result links, kie.ai's generation record.

Another key's task is reported exactly like a missing one, so ids cannot be probed.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from dataclasses import KW_ONLY, dataclass
from typing import Any

from midiscribe.domain import outputs
from midiscribe.domain.errors import InvalidRequestError, NotFoundError
from midiscribe.domain.ports import ObjectStore, TaskStore
from midiscribe.domain.tasks import Task, TaskKind, TaskStatus, safe_name

from . import kie
from .config import Settings

# The outputs byId links to, and the name of the link to the task's own input.
LINKED_OUTPUTS = outputs.LINKABLE
INPUT_LINK = "input"


def plausible_id(value: str) -> bool:
    """Whether ``value`` could be a task or conversion id at all (DynamoDB refuses other keys)."""
    return 0 < len(value) <= 128 and value.isprintable()


@dataclass(frozen=True)
class TaskPage:
    """One page of a key's tasks, newest first, and the cursor of the next page (None on the last)."""

    tasks: list[Task]
    next_cursor: str | None


@dataclass(frozen=True)
class GenerationRecord:
    """A midi_generate task and the instruments it produced (empty until it has completed)."""

    task: Task
    instruments: list[dict[str, Any]]


@dataclass
class TaskLookup:
    settings: Settings
    _: KW_ONLY
    tasks: TaskStore
    storage: ObjectStore

    def find_task(
        self, owner_id: str, *, task_id: str = "", conversion_id: str = "", kind: TaskKind | None = None
    ) -> Task:
        """The caller's task by task_id or conversion_id (of ``kind``, when given)."""
        if not task_id and not conversion_id:
            raise InvalidRequestError("Give task_id or conversion_id.", "MISSING_PARAMETER")
        shown = f"task_id {task_id[:80]!r}" if task_id else f"conversion_id {conversion_id[:80]!r}"
        kind_text = f" {kind.conversion_type}" if kind else ""
        missing = NotFoundError(
            f"No{kind_text} conversion with {shown} for this API key: check the id returned when you submitted it.",
            "TASK_NOT_FOUND",
        )
        if not plausible_id(task_id or conversion_id):
            raise missing
        task = self.tasks.get(task_id) if task_id else self.tasks.get_by_conversion_id(conversion_id)
        if task is not None and conversion_id and task.conversion_id != conversion_id:
            if task.owner_id == owner_id:
                # The 404 named task_id, the id that was right: say which two disagree.
                raise InvalidRequestError(
                    f"task_id {task_id[:80]!r} and conversion_id {conversion_id[:80]!r} are not the same conversion: "
                    "give one of them (either finds it).", "INVALID_PARAMETER")
            task = None
        if task is None or task.owner_id != owner_id:
            raise missing
        if kind and task.kind is not kind:
            # The id is right and the type is not: the bare 404 sent the caller to check the id.
            raise NotFoundError(
                f"{shown} is a {task.kind.conversion_type} conversion, not {kind.conversion_type}: ask with "
                f"conversionType={task.kind.conversion_type}, or leave conversionType out.", "TASK_NOT_FOUND")
        return task

    def links(self, task: Task) -> dict[str, str]:
        """Presigned links to the task's result files, by output name (only the files it has), and to
        the audio it read (``input``) when that is in the bucket."""
        expiry = self.settings.presign_expiry_s
        links = {name: self.storage.presign_get(task.outputs[name], expires_s=expiry)
                 for name in LINKED_OUTPUTS if task.outputs.get(name)}
        if task.source.kind == "s3" and task.source.key:
            # The caller's own upload, served as a download whatever type it was stored under (objects put
            # in the bucket directly never passed our media-type check).
            name = safe_name(task.source.filename or task.source.key.rsplit("/", 1)[-1], default="audio")
            links[INPUT_LINK] = self.storage.presign_get(task.source.key, expires_s=expiry, download_name=name)
        return links

    def page(self, owner_id: str, *, limit: int, cursor: str = "") -> TaskPage:
        """``GET /v1/tasks``: a page of the caller's tasks, newest first."""
        tasks, following = self.tasks.page_by_owner(owner_id, limit=limit, after=_decode_cursor(cursor) if cursor else None)
        return TaskPage(tasks, _encode_cursor(following) if following else None)

    def storage_origins(self) -> list[str]:
        """The origins (scheme://host[:port]) presigned links and upload forms send a browser to.

        Presigning is computed locally, without a request, so this costs nothing but a signature.
        """
        probe = "uploads/origin-probe"
        urls = [
            self.storage.presign_get(probe, expires_s=60),
            self.storage.presign_post(probe, max_bytes=1, expires_s=60, content_type="audio/wav")["url"],
        ]
        return sorted({"{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url)) for url in urls})

    def generation_record(self, owner_id: str, task_id: str) -> GenerationRecord:
        """kie.ai's record-info: a midi_generate task, with its notes once it has completed."""
        task = self.find_task(owner_id, task_id=task_id)
        if task.kind is not TaskKind.MIDI_GENERATE:
            raise NotFoundError(
                f"Task {task_id} is not a MIDI generation task: give the taskId returned by POST /api/v1/midi/generate.",
                "TASK_NOT_FOUND",
            )
        key = task.outputs.get(outputs.MIDI_DATA)
        if task.status is TaskStatus.COMPLETED and key:
            return GenerationRecord(task, kie.read_midi_data(self.storage.get_bytes(key)))
        return GenerationRecord(task, [])


def _encode_cursor(position: tuple[str, str]) -> str:
    text = json.dumps(list(position), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    """The position a cursor names; one this API did not give out is refused (not trusted as a key)."""
    invalid = InvalidRequestError(
        "cursor is not one this API gave out: pass next_cursor from the previous page unchanged, or leave "
        "cursor out for the first page.",
        "INVALID_CURSOR",
    )
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not (isinstance(position, list) and len(position) == 2
            and all(isinstance(part, str) and plausible_id(part) for part in position)):
        raise invalid
    return position[0], position[1]
