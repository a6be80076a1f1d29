"""Reading tasks for their owner: byId's task and its result links, kie.ai's generation record.

Another key's task is reported exactly like a missing one, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

from midiscribe.domain import outputs
from midiscribe.domain.errors import InvalidRequestError, NotFoundError
from midiscribe.domain.ports import ObjectStore, TaskStore
from midiscribe.domain.tasks import Task, TaskKind, TaskStatus

from . import kie
from .config import Settings

# The outputs byId links to.
LINKED_OUTPUTS = (outputs.MIDI, outputs.SONIFIED_WAV, outputs.NOTES_CSV, outputs.NOTES_JSON, outputs.CONVERTED)


def plausible_id(value: str) -> bool:
    """Whether ``value`` could be a task or conversion id at all (DynamoDB refuses other keys)."""
    return 0 < len(value) <= 128 and value.isprintable()


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
            task = None
        if task is None or task.owner_id != owner_id or (kind and task.kind is not kind):
            raise missing
        return task

    def links(self, task: Task) -> dict[str, str]:
        """Presigned links to the task's result files, by output name (only the files it has)."""
        return {
            name: self.storage.presign_get(task.outputs[name], expires_s=self.settings.presign_expiry_s)
            for name in LINKED_OUTPUTS
            if task.outputs.get(name)
        }

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
