"""What each kind of task does between fetching and writing: the worker's jobs, by task kind.

A job fetches what it reads (step 2) and turns it into local files (step 3); the pipeline uploads
them (step 4). A new kind of work is a new job; new files of an existing job are rows in its
output table; a second model is another transcriber for the transcription job to choose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from midiscribe.domain.tasks import Task


@dataclass(frozen=True)
class ResultFile:
    """A file a job wrote, to be stored as ``results/{task_id}/{stem}.{extension}`` under ``name``."""

    name: str  # the output name (midiscribe.domain.outputs)
    path: Path
    extension: str
    content_type: str


@dataclass
class JobResult:
    files: list[ResultFile]
    # Outputs that are in the bucket already (a generation reusing its source task's notes): name -> key.
    kept_outputs: dict[str, str] = field(default_factory=dict)
    audio_duration_s: float | None = None
    note_count: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""  # the transcriber that ran ("general", "piano", "drums"…)
    model_name: str = ""  # the exact model ("transkun-2.0.1")


class Job(Protocol):
    def fetch(self, task: Task, workdir: Path) -> Any:
        """Whatever the job reads, in ``workdir`` (raises TaskInputError when it can never be read)."""

    def run(self, task: Task, inputs: Any, workdir: Path) -> JobResult:
        """The job's files, written into ``workdir``."""
