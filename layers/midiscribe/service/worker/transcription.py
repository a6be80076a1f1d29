"""Step 3 for audio_to_midi: the engine on the fetched audio, then the files the task asked for.

:data:`TRANSCRIPTION_OUTPUTS` lists every file a transcription can produce and when the task wants
it; a new output format (a quantized MIDI, a MusicXML score) is one more row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

from midiscribe.domain import outputs
from midiscribe.domain.ports import TaskStore
from midiscribe.domain.tasks import Task, TaskKind
from midiscribe.engine.errors import AudioTooLongError, EngineError
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.stems import stem_transcribers

from ..config import Settings
from .fetch import FetchedInput, InputFetcher
from .jobs import JobResult, ResultFile

# How often the engine's progress is written to the task (a write per model window would be too many).
PROGRESS_INTERVAL_S = 5.0
PROGRESS_STEP = 0.05

Transcribe = Callable[..., Any]  # midiscribe.engine.transcribe's signature


@dataclass(frozen=True)
class OutputFile:
    name: str
    extension: str
    content_type: str
    wanted: Callable[[Task], bool]
    write: Callable[[Any, Path], None]  # (the engine's Transcription, destination)


TRANSCRIPTION_OUTPUTS = (
    OutputFile(outputs.MIDI, "mid", "audio/midi", lambda task: True, lambda t, path: t.write_midi(path)),
    OutputFile(outputs.SONIFIED_WAV, "wav", "audio/wav", lambda task: task.sonify_midi,
               lambda t, path: t.write_wav(path)),
    # A MIDI generation reads its notes from the JSON, asked for or not.
    OutputFile(outputs.NOTES_JSON, "json", "application/json",
               lambda task: task.save_note_events or task.kind is TaskKind.MIDI_GENERATE,
               lambda t, path: t.write_json(path)),
    OutputFile(outputs.NOTES_CSV, "csv", "text/csv", lambda task: task.save_note_events,
               lambda t, path: t.write_csv(path)),
    OutputFile(outputs.QUANTIZED_MIDI, "quantized.mid", "audio/midi",
               lambda task: task.options.get("quantize", "off") != "off", lambda t, path: t.write_quantized_midi(path)),
    OutputFile(outputs.MUSICXML, "musicxml", "application/vnd.recordare.musicxml+xml",
               lambda task: bool(task.options.get("score")), lambda t, path: t.write_musicxml(path)),
)


@contextmanager
def named_as_uploaded(*inputs: FetchedInput, too_long_advice: Callable[[float | None], str] | None = None,
                      ) -> Iterator[None]:
    """Engine messages name the file they read; users should see their file's name, not our scratch path.
    ``too_long_advice(duration_s)`` is added to AUDIO_TOO_LONG (which limit it was, and what takes longer
    audio); ``duration_s`` is how long the audio is at least, None when the error does not say."""
    try:
        yield
    except EngineError as error:
        for fetched in inputs:
            error.message = error.message.replace(str(fetched.path), fetched.shown_name)
        if isinstance(error, AudioTooLongError) and too_long_advice:
            advice = too_long_advice(error.duration_s)
            error.message = f"{error.message} {advice}".strip()
        error.args = (error.message,)
        raise


def engine_transcribe_stems(*args: Any, **kwargs: Any) -> Any:
    """``midiscribe.engine.transcribe_stems``, imported on first use (numpy and onnxruntime load slowly)."""
    from midiscribe import engine

    return engine.transcribe_stems(*args, **kwargs)


@dataclass
class TranscriptionJob:
    settings: Settings
    _: KW_ONLY
    fetcher: InputFetcher
    transcribe: Transcribe
    tasks: TaskStore  # for the progress it records
    log: Any
    transcribe_stems: Transcribe = engine_transcribe_stems  # for a multi-stem task

    def fetch(self, task: Task, workdir: Path) -> list[FetchedInput]:
        """The task's audio; a multi-stem task's stems only planned: :meth:`run` transcribes each as it arrives."""
        if task.source.kind == "stems":
            return self.fetcher.planned_stems(task.source, workdir)
        return self.fetcher.fetch_all(task.source, workdir)

    def run(self, task: Task, inputs: list[FetchedInput], workdir: Path) -> JobResult:
        ran_by = self._stem_transcribers(task, inputs)
        # What runs ("general", "piano", "drums"), each once: on each stem of a multi-stem task.
        transcribers = (sorted(set(ran_by.values())) if ran_by
                        else [TranscriptionOptions.parse(task.options).transcriber])
        stems = bool(inputs) and inputs[0].stem is not None

        def advice(duration_s: float | None) -> str:
            return self.settings.too_long_advice("piano", stems=stems, duration_s=duration_s)

        with named_as_uploaded(*inputs, too_long_advice=advice if "piano" in transcribers else None):
            transcription, inputs = self._transcribe(task, inputs, transcribers)
        started = time.perf_counter()
        files = []
        for output in TRANSCRIPTION_OUTPUTS:
            if output.wanted(task):
                path = workdir / f"{task.source.stem}.{output.extension}"
                output.write(transcription, path)
                files.append(ResultFile(output.name, path, output.extension, output.content_type))
        timings = {name: round(float(seconds), 4) for name, seconds in (transcription.timings or {}).items()}
        # The engine's own total is kept as engine_s: total_s is the whole task's (TaskFinisher.complete sets it).
        if "total_s" in timings:
            timings["engine_s"] = timings.pop("total_s")
        timings["fetch_s"] = round(sum(fetched.seconds for fetched in inputs), 4)
        timings["write_s"] = round(time.perf_counter() - started, 4)
        return JobResult(
            files=files,
            audio_duration_s=float(transcription.duration_s),
            note_count=len(transcription.notes),
            timings=timings,
            model="+".join(transcribers),
            model_name=self._model_names(transcription, transcribers, ran_by),
        )

    @staticmethod
    def _model_names(transcription: Any, transcribers: list[str], ran_by: dict[str, str]) -> str:
        """The exact models that ran, joined by "+" in the order of ``model``'s transcribers (a multi-stem task's
        drums+general is midiscribe-drums-nmf+basic-pitch-…), so the two can be read side by side."""
        named = {ran_by[track.name]: track.model_name for track in transcription.tracks if track.name in ran_by}
        if not ran_by or set(named) != set(transcribers):
            return transcription.model_name
        return "+".join(named[transcriber] for transcriber in transcribers)

    @staticmethod
    def _stem_transcribers(task: Task, inputs: list[FetchedInput]) -> dict[str, str]:
        """What runs on each stem of a multi-stem task ("general", "piano", "drums"), by stem name; {} otherwise."""
        if not (inputs and inputs[0].stem is not None):
            return {}
        return stem_transcribers({fetched.stem.name: fetched.stem.family for fetched in inputs if fetched.stem},
                                 task.options)

    def _transcribe(self, task: Task, inputs: list[FetchedInput], transcribers: list[str],
                    ) -> tuple[Any, list[FetchedInput]]:
        """One input through ``transcribe``; the stems of a multi-stem task together through ``transcribe_stems``,
        each starting as soon as its audio has arrived. The strictest limit among the transcribers that run bounds
        the duration (the piano model's, if it runs). Returns the transcription and the inputs as fetched."""
        options = TranscriptionOptions.parse(task.options)
        limit = min(self.settings.transcription_limit_s(name) for name in transcribers)
        common = {"max_duration_s": limit, "progress": self._progress_reporter(task)}
        if inputs and inputs[0].stem is not None:
            with self.fetcher.arriving(inputs) as arriving:
                stems = [(fetched.stem.name, source, fetched.stem.family)
                         for fetched, source in zip(inputs, arriving.sources(), strict=True)]
                transcription = self.transcribe_stems(stems, options, **common)
                return transcription, arriving.fetched()
        [fetched] = inputs
        return self.transcribe(fetched.path, options, **common), inputs

    def _progress_reporter(self, task: Task) -> Callable[[float, float | None], None]:
        """The engine's progress callback: a write to the task every few seconds, not on every window."""
        last = {"at": time.monotonic(), "fraction": 0.0}
        # The stems' threads report too; the task's log keys (its id, the invocation's) are this thread's own.
        keys = dict(self.log.thread_safe_get_current_keys())

        def report(done_s: float, total_s: float | None) -> None:
            if not total_s or total_s <= 0:
                return
            fraction = min(1.0, max(0.0, done_s / total_s))
            now = time.monotonic()
            if now - last["at"] < PROGRESS_INTERVAL_S or fraction - last["fraction"] < PROGRESS_STEP:
                return
            last.update(at=now, fraction=fraction)
            try:
                self.tasks.record_progress(
                    task.task_id, fraction=fraction, status_msg=f"Transcribing: {fraction:.0%} of {total_s:.0f} s"
                )
            except Exception:  # progress is a nicety; the task must not fail over it
                self.log.warning("recording progress failed", exc_info=True, extra=keys)

        return report
