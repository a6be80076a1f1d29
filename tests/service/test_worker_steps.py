"""The worker's steps over in-memory stores: claim, fetch, run, write, finish, notify (no AWS, no model)."""

from __future__ import annotations

import errno
import io
import itertools
import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
import soundfile
from aws_lambda_powertools import Logger
from fakes import FakeQueue, FakeStorage, FakeTasks, copy_file

from midiscribe import net
from midiscribe.domain import outputs
from midiscribe.domain.conversions import ConvertSpec
from midiscribe.domain.tasks import Task, TaskKind, TaskSource, TaskStatus, TaskStem
from midiscribe.engine.errors import AudioTooLongError, ModelNotFoundError, NotAudioError
from midiscribe.engine.instruments import Family
from midiscribe.engine.model import MODEL_NAME
from midiscribe.engine.transcription import NoteEvent, Track, Transcription
from midiscribe.service.config import Settings
from midiscribe.service.worker import build_worker, fetch
from midiscribe.service.worker.errors import TaskInputError, TransientError
from midiscribe.service.worker.transcription import TRANSCRIPTION_OUTPUTS

SETTINGS = Settings(bucket="bucket", transcribe_max_receive=3, retention_days=1)
OWNER = "key_owner"
NOTES = [NoteEvent(0.0, 0.5, 69, 0.8), NoteEvent(0.5, 1.0, 72, 0.6)]


class Engine:
    """Stands in for midiscribe.engine.transcribe: a known transcription, or a given error."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[Path] = []
        self.limits: list[float] = []
        self.error = error

    def __call__(self, path, options, *, max_duration_s, progress):
        self.calls.append(Path(path))
        self.limits.append(max_duration_s)
        if self.error is not None:
            raise self.error
        progress(1.0, 1.0)
        return Transcription(notes=list(NOTES), duration_s=1.0, options=options,
                             timings={"inference_s": 0.01, "total_s": 0.02})


class StemsEngine:
    """Stands in for midiscribe.engine.transcribe_stems: a track of NOTES per stem, or a given error."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[list[tuple[str, bytes, str]]] = []
        self.error = error

    def __call__(self, stems, options, *, max_duration_s, progress):
        # As the engine does, each stem still downloading (a Future) is waited for: its error is raised as is.
        arrived = [(name, source.result() if isinstance(source, Future) else source, family)
                   for name, source, family in stems]
        self.calls.append([(name, Path(path).read_bytes(), family) for name, path, family in arrived])
        if self.error is not None:
            raise self.error
        progress(1.0, 1.0)
        # Each track names the model that made it, as the engine's do.
        tracks = [Track.for_family(name, Family(family), NOTES, "drums-nmf" if family == "drums" else "basic-pitch")
                  for name, _, family in stems]
        return Transcription.from_tracks(tracks, 1.0, options, {"total_s": 0.01})


STACK_NUMBERS = itertools.count()


class Stack:
    def __init__(self, *tasks: Task, engine=None, download=copy_file, stems_engine=None) -> None:
        self.tasks = FakeTasks(*tasks)
        self.storage = FakeStorage()
        self.notify_queue = FakeQueue()
        self.engine = engine or Engine()
        self.stems_engine = stems_engine or StemsEngine()
        # Powertools writes a service's lines to the stream its first Logger was given: a service per stack.
        self.log_lines = io.StringIO()
        self.log_service = f"worker-steps-{next(STACK_NUMBERS)}"
        self.worker = build_worker(
            SETTINGS, tasks=self.tasks, storage=self.storage, notify_queue=self.notify_queue,
            transcribe=self.engine, download=download, log=Logger(service=self.log_service, stream=self.log_lines),
            transcribe_stems=self.stems_engine,
        )

    def process(self, task_id: str, **kwargs) -> TaskStatus | None:
        return self.worker.pipeline.process(task_id, **kwargs)


def wav_bytes(seconds: float = 0.2, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate), rate, format="WAV")
    return buffer.getvalue()


def upload_task(stack: Stack | None = None, *, name: str = "song.wav", data: bytes | None = None, **fields) -> Task:
    task = Task.new(kind=fields.pop("kind", TaskKind.AUDIO_TO_MIDI), owner_id=OWNER, retention_days=1,
                    source=TaskSource(kind="s3", key=f"uploads/x/{name}", filename=name), **fields)
    if stack is not None:
        stack.storage.put_bytes(task.source.key, wav_bytes() if data is None else data)
        stack.tasks.create(task)
    return task


def test_a_task_goes_through_every_step_and_its_webhook_is_queued_once() -> None:
    stack = Stack()
    task = upload_task(stack, webhook_url="https://example.com/hook")
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    done = stack.tasks.get(task.task_id)
    assert done.attempts == 1 and done.note_count == 2 and done.audio_duration_s == 1.0
    assert done.outputs == {name: f"results/{task.task_id}/song.{ext}"
                            for name, ext in (("midi", "mid"), ("wav", "wav"), ("json", "json"), ("csv", "csv"))}
    assert stack.storage.objects[done.outputs["midi"]][1] == "audio/midi"
    assert {"fetch_s", "write_s", "upload_s", "total_s", "inference_s"} <= set(done.timings)
    # The engine's total is kept beside the task's, not overwritten by it.
    assert done.timings["engine_s"] == 0.02 and done.timings["total_s"] != 0.02
    # The message again (SQS delivers at least once): no work, no second webhook.
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    assert len(stack.engine.calls) == 1
    assert stack.notify_queue.sent == [{"task_id": task.task_id, "event": "task.completed"}]


def test_only_the_files_the_task_asks_for_are_written() -> None:
    stack = Stack()
    task = upload_task(stack, sonify_midi=False, save_note_events=False)
    stack.process(task.task_id)
    assert set(stack.tasks.get(task.task_id).outputs) == {outputs.MIDI}
    assert stack.notify_queue.sent == []  # no webhook_url
    assert [row.name for row in TRANSCRIPTION_OUTPUTS] == ["midi", "wav", "json", "csv", "quantized_midi", "musicxml"]


def test_quantize_and_score_add_their_files_and_the_task_records_the_model() -> None:
    stack = Stack()
    task = upload_task(stack, sonify_midi=False, options={"quantize": "1/8", "score": True})
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    done = stack.tasks.get(task.task_id)
    assert done.outputs[outputs.QUANTIZED_MIDI] == f"results/{task.task_id}/song.quantized.mid"
    assert done.outputs[outputs.MUSICXML] == f"results/{task.task_id}/song.musicxml"
    data, content_type = stack.storage.objects[done.outputs[outputs.MUSICXML]]
    assert content_type == "application/vnd.recordare.musicxml+xml" and b"<score-partwise" in data
    assert stack.storage.objects[done.outputs[outputs.QUANTIZED_MIDI]][1] == "audio/midi"
    assert (done.model, done.model_name) == ("general", MODEL_NAME)
    assert stack.engine.limits == [SETTINGS.max_duration_s]


def piano_limited_stack(engine: Engine) -> Stack:
    """A worker whose general model takes an hour of audio and whose piano model 10 minutes."""
    settings = Settings(bucket="bucket", transcribe_max_receive=3, retention_days=1, max_duration_s=3600,
                        max_piano_duration_s=600)
    stack = Stack(engine=engine)
    stack.worker = build_worker(settings, tasks=stack.tasks, storage=stack.storage, notify_queue=stack.notify_queue,
                                transcribe=engine, download=copy_file, log=Logger(service="worker-steps"))
    return stack


def test_the_piano_model_has_its_own_duration_limit_and_says_so() -> None:
    engine = Engine(AudioTooLongError.over("take.wav", 900.0, 600.0))
    stack = piano_limited_stack(engine)
    task = upload_task(stack, options={"instrument": "piano"})
    assert stack.process(task.task_id) is TaskStatus.FAILED
    assert engine.limits == [600]
    failed = stack.tasks.get(task.task_id)
    assert failed.error_code == "AUDIO_TOO_LONG"
    assert "the maximum is 10.0 minutes" in failed.error and "MaxPianoDurationSeconds" in failed.error
    assert "model=general takes up to 3600 s" in failed.error


def test_audio_too_long_for_the_general_model_too_gets_no_advice_to_use_it() -> None:
    stack = piano_limited_stack(Engine(AudioTooLongError.over("take.wav", 4000.0, 600.0)))
    task = upload_task(stack, options={"model": "piano"})
    assert stack.process(task.task_id) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert failed.error_code == "AUDIO_TOO_LONG" and "take.wav is 66.7 minutes long" in failed.error
    assert "model=general" not in failed.error


def test_a_stems_task_over_the_piano_limit_says_to_give_the_piano_stem_another_instrument() -> None:
    settings = Settings(bucket="bucket", transcribe_max_receive=3, retention_days=1, max_duration_s=3600,
                        max_piano_duration_s=600)
    stems_engine = StemsEngine(AudioTooLongError("Stem 'keys': keys.wav is 15.0 minutes long; the maximum is 10.0 minutes."))
    stack = Stack(stems_engine=stems_engine, download=lambda url, destination, **limits: 0)
    stack.worker = build_worker(settings, tasks=stack.tasks, storage=stack.storage, notify_queue=stack.notify_queue,
                                transcribe=stack.engine, download=copy_file, log=Logger(service="worker-steps"),
                                transcribe_stems=stems_engine)
    key = "uploads/x/t/keys/keys.wav"
    stack.storage.put_bytes(key, wav_bytes())
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1, options={"model": "general"},
                    source=TaskSource(kind="stems", filename="stems", stems=(
                        TaskStem("keys", TaskSource(kind="s3", key=key, filename="keys.wav"), "piano"),)))
    stack.tasks.create(task)
    assert stack.process(task.task_id) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert failed.error_code == "AUDIO_TOO_LONG" and failed.error.startswith("Stem 'keys': ")
    assert "MaxPianoDurationSeconds" in failed.error and "model=general" not in failed.error
    assert "give the piano stem another instrument (electric_piano, say)" in failed.error


def test_input_that_can_never_work_fails_the_task_without_a_retry() -> None:
    stack = Stack()
    task = upload_task(webhook_url="https://example.com/hook")
    stack.tasks.create(task)  # its upload is not in the bucket
    assert stack.process(task.task_id) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert failed.error_code == "AUDIO_NOT_FOUND" and failed.status_msg == "Audio to Midi Failed"
    assert stack.notify_queue.sent == [{"task_id": task.task_id, "event": "task.failed"}]
    assert stack.engine.calls == []


def test_engine_errors_name_the_users_file_not_the_scratch_copy() -> None:
    read: list[str] = []

    def refuse(path, options, **kwargs):
        read.append(str(path))
        raise NotAudioError(f"{path} is a text file, not audio.")

    stack = Stack(engine=refuse)
    task = upload_task(stack, name="notes.wav")
    stack.process(task.task_id)
    failed = stack.tasks.get(task.task_id)
    assert failed.error == "notes.wav is a text file, not audio." and failed.error_code == "NOT_AUDIO"
    assert read and read[0] not in failed.error


def test_temporary_errors_are_raised_for_a_retry_and_recorded_on_the_last_one() -> None:
    stack = Stack(engine=Engine(ConnectionResetError("connection reset")))
    task = upload_task(stack, webhook_url="https://example.com/hook")
    for receive_count in (1, 2):
        with pytest.raises(ConnectionResetError):
            stack.process(task.task_id, receive_count=receive_count)
        waiting = stack.tasks.get(task.task_id)
        assert waiting.status is TaskStatus.PROCESSING
        # byId says why nothing happens until the queue hands the task out again.
        assert waiting.status_msg == (f"Attempt {receive_count} of 3 failed with a temporary error "
                                      "(ConnectionResetError); it will be tried again automatically.")
    assert stack.notify_queue.sent == []
    with pytest.raises(ConnectionResetError):
        stack.process(task.task_id, receive_count=3)
    failed = stack.tasks.get(task.task_id)
    assert failed.status is TaskStatus.FAILED and failed.error_code == "RETRIES_EXHAUSTED"
    assert "ConnectionResetError" in failed.error and failed.attempts == 3
    assert stack.notify_queue.sent == [{"task_id": task.task_id, "event": "task.failed"}]


def full_disk() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


def test_a_task_that_fills_the_workers_disk_while_fetching_fails_at_once_saying_how_to_fit() -> None:
    """Another try would run out of space the same way: no retry (three, 90 minutes apart), a clear failure."""
    stack = Stack(download=lambda url, destination, **limits: (_ for _ in ()).throw(full_disk()))
    task = stems_task(stack, webhook_url="https://example.com/hook")
    assert stack.process(task.task_id, receive_count=1) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert failed.error_code == "FILE_TOO_LARGE" and failed.attempts == 1
    assert failed.error.startswith("The task does not fit in the worker's scratch space: its disk ran out while "
                                   "fetching the input (")
    assert "compressed audio" in failed.error and "WorkerScratchMB (now 4096; at most 10240)" in failed.error
    assert stack.notify_queue.sent == [{"task_id": task.task_id, "event": "task.failed"}]
    assert stack.stems_engine.calls == []


@pytest.mark.parametrize("error", [full_disk(), OSError(errno.EDQUOT, "Disk quota exceeded")])
def test_a_task_that_fills_the_workers_disk_while_writing_fails_at_once(error) -> None:
    stack = Stack(engine=Engine(error))
    task = upload_task(stack)
    assert stack.process(task.task_id) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert failed.error_code == "FILE_TOO_LARGE" and "its disk ran out while writing the outputs" in failed.error


def test_a_full_disk_is_recognised_behind_the_error_it_caused() -> None:
    def download_file(key, path, **limits):
        try:
            raise full_disk()
        except OSError:
            raise RuntimeError("the transfer failed") from None  # a library's own error, the cause hidden

    stack = Stack()
    task = upload_task(stack)
    stack.storage.download_file = download_file
    assert stack.process(task.task_id) is TaskStatus.FAILED
    assert stack.tasks.get(task.task_id).error_code == "FILE_TOO_LARGE"


def test_other_disk_errors_are_retried() -> None:
    stack = Stack(engine=Engine(OSError(errno.EIO, "Input/output error")))
    task = upload_task(stack)
    with pytest.raises(OSError):
        stack.process(task.task_id)
    assert stack.tasks.get(task.task_id).status is TaskStatus.PROCESSING


def test_a_missing_model_is_retried_rather_than_blamed_on_the_file() -> None:
    stack = Stack(engine=Engine(ModelNotFoundError("no model")))
    task = upload_task(stack)
    with pytest.raises(ModelNotFoundError):
        stack.process(task.task_id)
    assert stack.tasks.get(task.task_id).status is TaskStatus.PROCESSING


@pytest.fixture
def quick_retries(monkeypatch) -> None:
    """URL downloads tried again without the pauses between tries."""
    monkeypatch.setattr(fetch, "URL_RETRY_PAUSES_S", (0.0, 0.0))


def test_audio_urls_are_fetched_with_the_given_download(tmp_path: Path, quick_retries) -> None:
    served = tmp_path / "served.wav"
    served.write_bytes(wav_bytes())

    def download(url, destination, **limits):
        if url.endswith("/private.wav"):
            raise net.UnsafeUrlError("the URL points to a non-public address")
        if url.endswith("/slow.wav"):
            raise net.DownloadError("timed out", timed_out=True)
        assert limits["max_bytes"] == SETTINGS.max_url_download_bytes
        return copy_file(served, destination)

    stack = Stack(download=download)
    tasks = {name: Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1,
                            source=TaskSource(kind="url", url=f"https://example.com/{name}"))
             for name in ("tone.wav", "private.wav", "slow.wav")}
    for task in tasks.values():
        stack.tasks.create(task)
    assert stack.process(tasks["tone.wav"].task_id) is TaskStatus.COMPLETED
    assert stack.process(tasks["private.wav"].task_id) is TaskStatus.FAILED
    assert stack.tasks.get(tasks["private.wav"].task_id).error_code == "INVALID_AUDIO_URL"
    with pytest.raises(TransientError):
        stack.process(tasks["slow.wav"].task_id)


def url_task(stack: Stack, name: str = "song.wav") -> Task:
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1,
                    source=TaskSource(kind="url", url=f"https://example.com/{name}"))
    stack.tasks.create(task)
    return task


def test_a_download_that_fails_in_passing_is_tried_again_at_once(tmp_path: Path, quick_retries) -> None:
    """A dropped connection or a 503 is tried again in the same run, each try starting the file afresh;
    before, the first stopped the task (or, timed out, left it for the queue's retry 90 minutes later)."""
    served = tmp_path / "served.wav"
    served.write_bytes(wav_bytes())
    failures = [net.DownloadError("the download stopped after 10 of 90 bytes", retryable=True),
                net.DownloadError("answered HTTP 503 Service Unavailable", retryable=True)]
    calls = []

    def download(url, destination, **limits):
        calls.append((limits["total_timeout"], limits["deadline"]))
        if failures:
            destination.write(b"partial")
            raise failures.pop(0)
        return copy_file(served, destination)

    read: list[bytes] = []
    engine = Engine()

    def transcribe(path, options, **kwargs):
        read.append(Path(path).read_bytes())
        return engine(path, options, **kwargs)

    stack = Stack(download=download, engine=transcribe)
    task = url_task(stack)
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    # One budget for the three tries: each ends by the same instant, and a message names the whole budget.
    assert len(calls) == 3 and {budget for budget, _ in calls} == {fetch.URL_DOWNLOAD_TOTAL_S}
    assert len({deadline for _, deadline in calls}) == 1
    assert read == [served.read_bytes()]  # the whole file, nothing of the failed tries before it


@pytest.mark.parametrize(("error", "tries"), [
    (net.DownloadError("answered HTTP 404 Not Found", retryable=False), 1),
    (net.DownloadError("answered HTTP 502 Bad Gateway", retryable=True), 3),
])
def test_a_download_that_keeps_failing_fails_the_task_saying_how_often_it_was_tried(error, tries, quick_retries):
    calls = []

    def download(url, destination, **limits):
        calls.append(url)
        raise error

    stack = Stack(download=download)
    task = url_task(stack)
    assert stack.process(task.task_id) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert len(calls) == tries and failed.error_code == "DOWNLOAD_FAILED"
    assert failed.error == error.message + (f" ({tries} tries)" if tries > 1 else "")


def test_a_download_that_keeps_timing_out_goes_back_to_the_queue_after_its_tries(quick_retries):
    calls = []

    def download(url, destination, **limits):
        calls.append(url)
        raise net.DownloadError("timed out after 30 s", timed_out=True)

    stack = Stack(download=download)
    task = url_task(stack)
    with pytest.raises(TransientError, match=r"timed out \(3 tries\)"):
        stack.process(task.task_id)
    assert len(calls) == 3


def test_file_conversion_writes_the_converted_file() -> None:
    stack = Stack()
    task = upload_task(stack, name="take.wav", kind=TaskKind.FILE_CONVERT, convert=ConvertSpec("flac", 44100, 24),
                       sonify_midi=False, save_note_events=False)
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    done = stack.tasks.get(task.task_id)
    key = f"results/{task.task_id}/take.flac"
    assert done.outputs == {outputs.CONVERTED: key} and done.status_msg == "File Conversion Completed"
    data, content_type = stack.storage.objects[key]
    info = soundfile.info(io.BytesIO(data))
    assert content_type == "audio/flac" and info.samplerate == 44100 and info.subtype == "PCM_24"
    assert stack.engine.calls == []


def generation_of(source: Task) -> Task:
    return Task.new(kind=TaskKind.MIDI_GENERATE, owner_id=OWNER, retention_days=1, sonify_midi=False,
                    save_note_events=False, webhook_url="https://example.callback",
                    source=TaskSource(kind="task", task_id=source.task_id, filename=source.source.stem))


def test_generation_reuses_the_earlier_tasks_notes_without_transcribing() -> None:
    stack = Stack()
    source = upload_task(stack)
    stack.process(source.task_id)
    generation = generation_of(source)
    stack.tasks.create(generation)
    assert stack.process(generation.task_id) is TaskStatus.COMPLETED
    done = stack.tasks.get(generation.task_id)
    earlier = stack.tasks.get(source.task_id).outputs
    assert done.outputs[outputs.NOTES_JSON] == earlier[outputs.NOTES_JSON] and done.outputs["midi"] == earlier["midi"]
    document = json.loads(stack.storage.objects[done.outputs[outputs.MIDI_DATA]][0])
    assert [note["pitch"] for note in document["instruments"][0]["notes"]] == [69, 72]
    assert done.note_count == 2 and len(stack.engine.calls) == 1  # only the earlier task's


def test_generation_without_stored_notes_transcribes_and_reads_its_own_file() -> None:
    stack = Stack()
    source = upload_task(stack, save_note_events=False)
    stack.process(source.task_id)
    generation = generation_of(source)
    stack.tasks.create(generation)
    stack.storage.reads.clear()
    assert stack.process(generation.task_id) is TaskStatus.COMPLETED
    done = stack.tasks.get(generation.task_id)
    assert set(done.outputs) == {outputs.MIDI, outputs.NOTES_JSON, outputs.MIDI_DATA}
    assert done.outputs[outputs.MIDI_DATA] == f"results/{generation.task_id}/song.midi-data.json"
    # It read the audio, not the notes it had just written.
    assert stack.storage.reads == [source.source.key] and len(stack.engine.calls) == 2


def stems_task(stack: Stack, **fields) -> Task:
    """drums and bass uploaded, a lead at a URL (served from a local file by the download stand-in)."""
    stems = []
    for name, family in (("drums", "drums"), ("bass", "bass")):
        key = f"uploads/x/t/{name}/{name}.wav"
        stack.storage.put_bytes(key, wav_bytes() + name.encode())
        stems.append(TaskStem(name, TaskSource(kind="s3", key=key, filename=f"{name}.wav"), family))
    stems.append(TaskStem("lead", TaskSource(kind="url", url="https://example.com/lead.wav"), "winds"))
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1,
                    source=TaskSource(kind="stems", filename="stems", stems=tuple(stems)), **fields)
    stack.tasks.create(task)
    return task


def url_stems_task(stack: Stack, *names: str) -> Task:
    """A task of winds stems, each at its own URL (https://example.com/NAME.wav)."""
    stems = tuple(TaskStem(name, TaskSource(kind="url", url=f"https://example.com/{name}.wav"), "winds")
                  for name in names)
    task = Task.new(kind=TaskKind.AUDIO_TO_MIDI, owner_id=OWNER, retention_days=1,
                    source=TaskSource(kind="stems", filename="stems", stems=stems))
    stack.tasks.create(task)
    return task


def test_a_stems_task_fetches_every_stem_and_transcribes_them_together(tmp_path: Path) -> None:
    served = tmp_path / "lead.wav"
    served.write_bytes(b"lead audio")
    stack = Stack(download=lambda url, destination, **limits: copy_file(served, destination))
    task = stems_task(stack)
    assert stack.tasks.get(task.task_id).source == task.source  # the stems survive the stored item
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    [call] = stack.stems_engine.calls
    assert [(name, family) for name, _, family in call] == [("drums", "drums"), ("bass", "bass"), ("lead", "winds")]
    assert [data[-4:] for _, data, _ in call] == [b"rums", b"bass", b"udio"]  # each stem its own file
    done = stack.tasks.get(task.task_id)
    assert done.outputs[outputs.MIDI] == f"results/{task.task_id}/stems.mid" and done.note_count == 6
    document = json.loads(stack.storage.objects[done.outputs[outputs.NOTES_JSON]][0])
    assert [i["name"] for i in document["instruments"]] == ["Drums", "Electric Bass (finger)", "Flute"]
    assert stack.engine.calls == []
    assert done.model == "drums+general"  # what ran on the stems, each transcriber once
    assert done.model_name == "drums-nmf+basic-pitch"  # in the same order: read side by side


def test_a_stem_that_cannot_be_fetched_or_transcribed_fails_the_task_naming_it() -> None:
    stack = Stack(download=lambda url, destination, **limits: (_ for _ in ()).throw(net.DownloadError("HTTP 404")))
    task = stems_task(stack)
    assert stack.process(task.task_id) is TaskStatus.FAILED
    failed = stack.tasks.get(task.task_id)
    assert failed.error.startswith("Stem 'lead': ") and failed.error_code == "DOWNLOAD_FAILED"

    stack = Stack(download=lambda url, destination, **limits: 0,
                  stems_engine=StemsEngine(NotAudioError("Stem 'bass': the file is not audio")))
    task = stems_task(stack)
    assert stack.process(task.task_id) is TaskStatus.FAILED
    assert stack.tasks.get(task.task_id).error.startswith("Stem 'bass': ")


def test_the_stems_of_a_task_are_fetched_side_by_side(tmp_path: Path) -> None:
    # Each download waits until all three have started: fetched one after another, the first would
    # wait in vain and the task would not complete.
    started = threading.Barrier(3, timeout=10)

    def download(url, destination, **limits):
        started.wait()
        return copy_file(tmp_path / "lead.wav", destination)

    (tmp_path / "lead.wav").write_bytes(b"lead audio")
    stack = Stack(download=download)
    task = url_stems_task(stack, "flute", "oboe", "clarinet")
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    [call] = stack.stems_engine.calls
    assert [name for name, _, _ in call] == ["flute", "oboe", "clarinet"]  # in the request's order


def test_the_engine_starts_on_the_stems_that_have_arrived_while_the_others_download(tmp_path: Path) -> None:
    """A slow stem's download runs beside the engine: the stems already here are not kept waiting for it.
    Here the slow download is let go only by the engine, once it has the other stems in hand."""
    let_go = threading.Event()
    seen: list[list[str]] = []

    def download(url, destination, **limits):
        if "slow" in url:
            assert let_go.wait(timeout=30), "the engine was not given the stems that had arrived"
        return copy_file(tmp_path / "audio.wav", destination)

    def engine(stems, options, **kwargs):
        # Still arriving (a Future not done) or here (a path), as the engine is handed them.
        seen.append(["arriving" if isinstance(source, Future) and not source.done() else "here"
                     for _, source, _ in stems])
        let_go.set()
        return StemsEngine()(stems, options, **kwargs)

    (tmp_path / "audio.wav").write_bytes(b"some audio")
    stack = Stack(download=download, stems_engine=engine)
    task = url_stems_task(stack, "quick", "slow")
    assert stack.process(task.task_id) is TaskStatus.COMPLETED
    [(quick, slow)] = seen
    assert slow == "arriving"  # the quick stem may be here already, or not quite
    done = stack.tasks.get(task.task_id)
    assert done.note_count == 4 and done.timings["fetch_s"] > 0


def test_of_several_failing_stems_the_first_in_order_is_reported(tmp_path: Path) -> None:
    def download(url, destination, **limits):
        if "first" in url:
            time.sleep(0.2)  # fails last, but is named: it comes first
        raise net.DownloadError(f"HTTP 404 for {url.rsplit('/', 1)[-1]}")

    stack = Stack(download=download)
    task = url_stems_task(stack, "first", "second")
    assert stack.process(task.task_id) is TaskStatus.FAILED
    assert stack.tasks.get(task.task_id).error.startswith("Stem 'first': ")


def test_fetching_every_stem_stops_the_downloads_still_running_when_one_fails(tmp_path: Path) -> None:
    """Fetching all the stems first (a MIDI generation whose notes are gone transcribes its source again): when
    one fails, a slow one is cancelled, not waited for, and the failure names the stem that failed."""
    cancelled: list[str] = []

    def download(url, destination, *, cancellation=None, **limits):
        name = url.rsplit("/", 1)[-1]
        if name == "slow.wav":
            if cancellation.wait(30):
                cancelled.append(name)
                raise net.DownloadCancelled("the download was cancelled")
            return 0
        raise net.DownloadError(f"HTTP 404 for {name}")

    fetcher = fetch.InputFetcher(SETTINGS, storage=FakeStorage(), download=download)
    stems = tuple(TaskStem(name, TaskSource(kind="url", url=f"https://example.com/{name}.wav"), "winds")
                  for name in ("slow", "gone"))
    with pytest.raises(TaskInputError, match="^Stem 'gone': HTTP 404"):
        fetcher.fetch_all(TaskSource(kind="stems", filename="stems", stems=stems), tmp_path)
    assert cancelled == ["slow.wav"]  # it came first in order, but was stopped, not reported


@pytest.mark.parametrize("notes_stored", [True, False])
def test_generation_of_a_stems_task_is_one_kie_instrument_per_stem(notes_stored: bool) -> None:
    stack = Stack(download=lambda url, destination, **limits: 0)
    source = stems_task(stack, save_note_events=notes_stored)
    stack.process(source.task_id)
    generation = generation_of(source)
    stack.tasks.create(generation)
    assert stack.process(generation.task_id) is TaskStatus.COMPLETED
    document = json.loads(stack.storage.objects[stack.tasks.get(generation.task_id).outputs[outputs.MIDI_DATA]][0])
    assert [i["name"] for i in document["instruments"]] == ["Drums", "Electric Bass (finger)", "Flute"]
    assert all(0 < note["velocity"] <= 1 for i in document["instruments"] for note in i["notes"])
    assert len(stack.stems_engine.calls) == (1 if notes_stored else 2)  # without notes, every stem again


def s3_notification(bucket: str, *keys: str) -> str:
    return json.dumps({"Records": [
        {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
         "s3": {"bucket": {"name": bucket}, "object": {"key": key, "sequencer": "0055AED6DCD90281E5"}}}
        for key in keys
    ]})


def test_inbox_notifications_create_each_task_once_and_skip_what_is_not_in_the_inbox() -> None:
    stack = Stack()
    stack.storage.put_bytes("inbox/my song.wav", wav_bytes())
    body = s3_notification("bucket", "inbox/my+song.wav", "results/x/a.mid", "inbox/")
    [task_id] = stack.worker.handle_message(body)
    assert stack.worker.handle_message(body) == [task_id]  # delivered twice, one task
    task = stack.tasks.get(task_id)
    assert task.owner_id == "inbox" and task.source.key == "inbox/my song.wav" and task.options == {}
    assert task.status is TaskStatus.COMPLETED and len(stack.engine.calls) == 1
    assert stack.worker.handle_message(s3_notification("another-bucket", "inbox/a.wav")) == []
    assert stack.worker.handle_message(json.dumps({"Event": "s3:TestEvent"})) == []
    assert stack.worker.handle_message("not json") == [] and stack.worker.handle_message("[]") == []
    assert len(stack.tasks.items) == 1


def test_dead_letters_end_an_unfinished_task_failed_and_send_its_webhook() -> None:
    stack = Stack()
    task = upload_task(stack, webhook_url="https://example.com/hook")
    stack.tasks.claim(task.task_id)  # then the worker died, every time
    assert stack.worker.handle_dead_letter(json.dumps({"task_id": task.task_id})) == [task.task_id]
    failed = stack.tasks.get(task.task_id)
    assert failed.status is TaskStatus.FAILED and failed.error_code == "RETRIES_EXHAUSTED"
    assert stack.notify_queue.sent == [{"task_id": task.task_id, "event": "task.failed"}]
    stack.worker.handle_dead_letter(json.dumps({"task_id": task.task_id}))
    assert len(stack.notify_queue.sent) == 1


def test_progress_that_cannot_be_recorded_from_a_stems_thread_is_logged_with_the_task_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from midiscribe.service.worker import transcription

    monkeypatch.setattr(transcription, "PROGRESS_INTERVAL_S", 0.0)

    class StemsReportingFromThreads(StemsEngine):
        def __call__(self, stems, options, *, max_duration_s, progress):
            # As transcribe_stems does: each stem's thread reports its progress.
            reporter = threading.Thread(target=progress, args=(0.5, 1.0))
            reporter.start()
            reporter.join()
            return super().__call__(stems, options, max_duration_s=max_duration_s, progress=lambda *_: None)

    served = tmp_path / "lead.wav"
    served.write_bytes(b"lead audio")
    stack = Stack(download=lambda url, destination, **limits: copy_file(served, destination),
                  stems_engine=StemsReportingFromThreads())
    monkeypatch.setattr(stack.tasks, "record_progress", lambda *a, **k: (_ for _ in ()).throw(OSError("throttled")))
    task = stems_task(stack)
    assert stack.process(task.task_id) is TaskStatus.COMPLETED  # progress is a nicety: the task goes on
    lines = [json.loads(line) for line in stack.log_lines.getvalue().splitlines() if line.strip()]
    [warning] = [line for line in lines if line["message"] == "recording progress failed"]
    assert warning["task_id"] == task.task_id and "throttled" in warning["exception"]
