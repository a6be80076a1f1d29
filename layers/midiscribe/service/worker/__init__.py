"""The transcribe worker: one queue message → one task claimed, run and recorded exactly once.

``messages`` (which tasks a message concerns; S3 inbox notifications via ``inbox``) hands each task
to ``pipeline``, whose steps are: claim, fetch input (``fetch``), run the task kind's job
(``transcription``, ``conversion``, ``generation``), write outputs (``results``), finish and
notify (``finish``). :func:`build_worker` wires them to the repositories, storage and queues given.
"""

from __future__ import annotations

from typing import Any

from midiscribe.domain.ports import MessageSender, ObjectStore, TaskStore
from midiscribe.domain.tasks import TaskKind

from ..config import Settings
from .conversion import ConversionJob
from .fetch import Download, InputFetcher
from .finish import TaskFinisher
from .generation import GenerationJob
from .messages import Worker
from .pipeline import TaskPipeline
from .results import ResultWriter
from .transcription import Transcribe, TranscriptionJob, engine_transcribe_stems


def build_worker(
    settings: Settings,
    *,
    tasks: TaskStore,
    storage: ObjectStore,
    notify_queue: MessageSender,
    transcribe: Transcribe,
    download: Download,
    log: Any,
    metrics: Any = None,
    transcribe_stems: Transcribe = engine_transcribe_stems,
) -> Worker:
    """The worker with its steps, over the given stores (AWS adapters in Lambda, fakes in tests)."""
    fetcher = InputFetcher(settings, storage=storage, download=download)
    transcription = TranscriptionJob(settings, fetcher=fetcher, transcribe=transcribe, tasks=tasks, log=log,
                                     transcribe_stems=transcribe_stems)
    jobs = {
        TaskKind.AUDIO_TO_MIDI: transcription,
        TaskKind.FILE_CONVERT: ConversionJob(settings, fetcher=fetcher),
        TaskKind.MIDI_GENERATE: GenerationJob(
            settings, tasks=tasks, storage=storage, fetcher=fetcher, transcription=transcription
        ),
    }
    pipeline = TaskPipeline(
        settings,
        tasks=tasks,
        jobs=jobs,
        results=ResultWriter(storage=storage),
        finisher=TaskFinisher(tasks=tasks, notify_queue=notify_queue, log=log, metrics=metrics),
        log=log,
    )
    return Worker(settings, tasks=tasks, bucket=storage.bucket, pipeline=pipeline, log=log)


__all__ = ["Worker", "build_worker"]
