"""Step 3 for kie.ai's midi/generate: per-instrument notes of an earlier task, as a ``midi_data`` document.

The earlier task's stored notes are reused when it has them; otherwise (not asked for, expired,
or that task has not finished) its audio is fetched and transcribed again.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from midiscribe.domain import outputs
from midiscribe.domain.errors import ObjectNotFoundError
from midiscribe.domain.ports import ObjectStore, TaskStore
from midiscribe.domain.tasks import Task, TaskStatus

from .. import kie
from ..config import Settings
from .errors import TaskInputError
from .fetch import FetchedInput, InputFetcher
from .jobs import JobResult, ResultFile
from .transcription import TranscriptionJob


@dataclass(frozen=True)
class StoredNotes:
    """The earlier task's notes document, and its outputs the generation records as its own."""

    document: bytes
    kept_outputs: dict[str, str]
    audio_duration_s: float | None
    model: str = ""
    model_name: str = ""


@dataclass
class GenerationJob:
    settings: Settings
    _: KW_ONLY
    tasks: TaskStore
    storage: ObjectStore
    fetcher: InputFetcher
    transcription: TranscriptionJob

    def fetch(self, task: Task, workdir: Path) -> StoredNotes | list[FetchedInput]:
        source_task = self.tasks.get(task.source.task_id)
        if source_task is None:
            raise TaskInputError(
                f"The source task {task.source.task_id} no longer exists (tasks expire after "
                f"{self.settings.retention_days:g} days).",
                "SOURCE_TASK_NOT_FOUND",
            )
        notes_key = source_task.outputs.get(outputs.NOTES_JSON)
        if source_task.status is TaskStatus.COMPLETED and notes_key:
            try:
                document = self.storage.get_bytes(notes_key)
            except ObjectNotFoundError:
                document = b""
            if document:
                kept = {name: key for name, key in source_task.outputs.items()
                        if name in (outputs.NOTES_JSON, outputs.MIDI)}
                return StoredNotes(document, kept, source_task.audio_duration_s, source_task.model,
                                   source_task.model_name)
        return self.fetcher.fetch_all(source_task.source, workdir)

    def run(self, task: Task, inputs: StoredNotes | list[FetchedInput], workdir: Path) -> JobResult:
        if isinstance(inputs, StoredNotes):
            result = JobResult(files=[], kept_outputs=dict(inputs.kept_outputs),
                               audio_duration_s=inputs.audio_duration_s, model=inputs.model,
                               model_name=inputs.model_name)
            document = inputs.document
        else:
            result = self.transcription.run(task, inputs, workdir)
            [notes] = [file for file in result.files if file.name == outputs.NOTES_JSON]
            document = notes.path.read_bytes()  # the file just written, not a round trip through S3
        instruments = kie.instruments_from_notes_document(document)
        path = workdir / f"{task.source.stem}.midi-data.json"
        path.write_bytes(kie.midi_data_document(instruments))
        result.files.append(ResultFile(outputs.MIDI_DATA, path, "midi-data.json", "application/json"))
        result.note_count = sum(len(instrument["notes"]) for instrument in instruments)
        return result
