"""TranscribeFunction end to end in moto: the real engine on tiny generated audio, redelivery, crashes,
retries into the DLQ, the S3 inbox, file conversion and kie.ai generation."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mido
import pytest
import soundfile
from botocore.exceptions import ClientError
from worker_support import deliver, load_function, queue_arn, tiny_wav

from midiscribe.api import responses
from midiscribe.aws.storage import Storage
from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.conversions import ConvertSpec
from midiscribe.domain.requests import (
    AudioInput,
    AudioToMidiRequest,
    FileConvertRequest,
    MidiGenerateRequest,
    StemInput,
    UploadedFile,
)
from midiscribe.domain.tasks import TaskStatus
from midiscribe.service.config import Settings
from midiscribe.service.use_cases import UseCases

OWNER = "key_owner"


@pytest.fixture
def stack(aws_stack, monkeypatch):
    monkeypatch.setattr("midiscribe.net.urls.system_resolver", lambda host, port: ["93.184.216.34"])
    return aws_stack


def api_use_cases() -> UseCases:
    """The use cases as the submit function wires them, for the current environment."""
    return load_function("submit").use_cases(Settings.from_env())


@pytest.fixture
def service(stack) -> UseCases:
    return api_use_cases()


@pytest.fixture
def repo(stack) -> TaskRepository:
    return TaskRepository(stack.tasks_table, client=stack.dynamodb)


@pytest.fixture
def engine_calls(monkeypatch) -> list:
    """Counts engine runs while still running the real engine (a spy, not a stub)."""
    from midiscribe.engine import transcribe

    calls: list = []

    def spy(*args, **kwargs):
        calls.append(args[0])
        return transcribe(*args, **kwargs)

    monkeypatch.setattr("midiscribe.engine.transcribe", spy)
    return calls


def submit_file(service, data: bytes, name: str = "tone.wav", **fields) -> str:
    request = AudioToMidiRequest(audio=AudioInput(file=UploadedFile(name, "audio/wav", data)), options={}, **fields)
    return service.submissions.submit_audio_to_midi(OWNER, request).task.task_id


def objects(stack, prefix: str) -> dict[str, bytes]:
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])
    return {item["Key"]: stack.s3.get_object(Bucket=stack.bucket, Key=item["Key"])["Body"].read() for item in listed}


def notify_messages(stack) -> list[dict]:
    return [json.loads(m["Body"]) for m in stack.receive(stack.notify_queue_url)]


# ---- the real engine


def test_real_engine_writes_every_output_and_completes(stack, service, repo) -> None:
    task_id = submit_file(service, tiny_wav(1.0, 440.0), webhook_url="https://example.com/hook")
    delivery = deliver(stack)
    assert delivery.received == 1 and delivery.failed_ids == []
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED, task.error
    assert task.status_msg == "Audio to Midi Completed"
    assert set(task.outputs) == {"midi", "wav", "csv", "json"}
    stored = objects(stack, f"results/{task_id}/")
    assert set(stored) == {f"results/{task_id}/tone.{ext}" for ext in ("mid", "wav", "csv", "json")}
    midi = mido.MidiFile(file=io.BytesIO(stored[f"results/{task_id}/tone.mid"]))
    pitches = [m.note for m in midi if m.type == "note_on" and m.velocity > 0]
    assert 69 in pitches  # A4 = 440 Hz
    rows = list(csv.reader(io.StringIO(stored[f"results/{task_id}/tone.csv"].decode())))
    notes = json.loads(stored[f"results/{task_id}/tone.json"])["instruments"][0]["notes"]
    assert task.note_count == len(notes) == len(rows) - 1 >= 1
    assert soundfile.info(io.BytesIO(stored[f"results/{task_id}/tone.wav"])).frames > 0
    assert task.audio_duration_s == pytest.approx(1.0, abs=0.05)
    assert {"total_s", "fetch_s", "write_s"} <= set(task.timings) and task.attempts == 1
    assert 0 < task.timings["engine_s"] <= task.timings["total_s"]
    assert notify_messages(stack) == [{"task_id": task_id, "event": "task.completed"}]


def test_only_the_outputs_asked_for_are_written(stack, service, repo) -> None:
    task_id = submit_file(service, tiny_wav(), sonify_midi=False, save_note_events=False)
    deliver(stack)
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED and set(task.outputs) == {"midi"}
    assert list(objects(stack, f"results/{task_id}/")) == [f"results/{task_id}/tone.mid"]
    assert notify_messages(stack) == []  # no webhook_url, no notification


def test_bad_audio_file_fails_with_the_engines_message_and_is_not_retried(stack, service, repo) -> None:
    task_id = submit_file(service, b"this is a text file, not audio\n" * 10, name="notes.wav",
                          webhook_url="https://example.com/hook")
    delivery = deliver(stack)
    assert delivery.failed_ids == []  # consumed: bad input does not get better by retrying
    task = repo.get(task_id)
    assert task.status is TaskStatus.FAILED and task.error_code == "NOT_AUDIO"
    assert "notes.wav" in task.error and "/tmp" not in task.error
    assert task.status_msg == "Audio to Midi Failed"
    assert notify_messages(stack) == [{"task_id": task_id, "event": "task.failed"}]
    assert deliver(stack).received == 0


# ---- redelivery, crashes, retries


def test_redelivered_message_does_no_work_twice(stack, service, repo, engine_calls) -> None:
    task_id = submit_file(service, tiny_wav(), webhook_url="https://example.com/hook")
    stack.sqs.send_message(QueueUrl=stack.transcribe_queue_url, MessageBody=json.dumps({"task_id": task_id}))
    first = deliver(stack, max_messages=1)
    second = deliver(stack, max_messages=1)
    assert first.received == second.received == 1 and not first.failed_ids and not second.failed_ids
    assert len(engine_calls) == 1
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 1
    assert notify_messages(stack) == [{"task_id": task_id, "event": "task.completed"}]


def test_crash_mid_task_is_retried_and_completes_exactly_once(stack, service, repo, engine_calls, monkeypatch) -> None:
    task_id = submit_file(service, tiny_wav(), webhook_url="https://example.com/hook")
    real_upload = Storage.upload_file
    crashes = []

    def crash_once(self, path, key, content_type="application/octet-stream"):
        if not crashes:
            crashes.append(key)
            raise ConnectionResetError("connection reset while uploading")  # the worker dies mid-task
        return real_upload(self, path, key, content_type)

    monkeypatch.setattr("midiscribe.aws.storage.Storage.upload_file", crash_once)
    first = deliver(stack)
    assert len(first.failed_ids) == 1
    assert repo.get(task_id).status is TaskStatus.PROCESSING  # left behind by the crash
    assert notify_messages(stack) == []
    second = deliver(stack)
    assert second.received == 1 and second.failed_ids == []
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 2
    assert len(engine_calls) == 2
    assert notify_messages(stack) == [{"task_id": task_id, "event": "task.completed"}]
    assert deliver(stack).received == 0


def test_task_left_processing_by_a_dead_worker_is_claimed_again(stack, service, repo) -> None:
    task_id = submit_file(service, tiny_wav())
    repo.claim(task_id)  # a worker claimed it and then its Lambda timed out
    deliver(stack)
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED and task.attempts == 2


def test_transient_failures_end_failed_with_a_reason_then_in_the_dlq(stack, service, repo, monkeypatch) -> None:
    def throttled(*args, **kwargs):  # the engine is not the subject: inject a transient AWS error
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetObject")

    monkeypatch.setattr("midiscribe.engine.transcribe", throttled)
    max_receive = Settings.from_env().transcribe_max_receive
    task_id = submit_file(service, tiny_wav(), webhook_url="https://example.com/hook")
    for attempt in range(1, max_receive + 1):
        delivery = deliver(stack)
        assert delivery.received == 1 and len(delivery.failed_ids) == 1
        task = repo.get(task_id)
        if attempt < max_receive:
            assert task.status is TaskStatus.PROCESSING
            assert notify_messages(stack) == []
    assert task.status is TaskStatus.FAILED and task.error_code == "RETRIES_EXHAUSTED"
    assert "ThrottlingException" in task.error and str(max_receive) in task.error
    assert notify_messages(stack) == [{"task_id": task_id, "event": "task.failed"}]
    # The next receive is past maxReceiveCount: SQS moves the message to the DLQ.
    assert deliver(stack).received == 0
    dead = stack.receive(stack.transcribe_dlq_url, delete=False)
    assert [json.loads(m["Body"]) for m in dead] == [{"task_id": task_id}]


def test_dead_letter_records_fail_a_task_that_is_not_finished(stack, service, repo, monkeypatch) -> None:
    task_id = submit_file(service, tiny_wav(), webhook_url="https://example.com/hook")
    stack.receive(stack.transcribe_queue_url)  # the message went elsewhere; the task is IN_QUEUE
    stack.sqs.send_message(QueueUrl=stack.transcribe_dlq_url, MessageBody=json.dumps({"task_id": task_id}))
    monkeypatch.setenv("MIDISCRIBE_TRANSCRIBE_DLQ_ARN", queue_arn(stack, stack.transcribe_dlq_url))
    delivery = deliver(stack, stack.transcribe_dlq_url)
    assert delivery.received == 1 and delivery.failed_ids == []
    task = repo.get(task_id)
    assert task.status is TaskStatus.FAILED and task.error_code == "RETRIES_EXHAUSTED"
    assert notify_messages(stack) == [{"task_id": task_id, "event": "task.failed"}]


# ---- the S3 inbox


def test_inbox_upload_is_transcribed_with_default_options_once(stack, repo, engine_calls) -> None:
    stack.s3.put_object(Bucket=stack.bucket, Key="inbox/my song.wav", Body=tiny_wav())
    notification = stack.receive(stack.transcribe_queue_url, delete=False)
    assert len(notification) == 1 and "my+song.wav" in notification[0]["Body"]  # keys arrive URL-encoded
    stack.sqs.change_message_visibility(QueueUrl=stack.transcribe_queue_url,
                                        ReceiptHandle=notification[0]["ReceiptHandle"], VisibilityTimeout=0)
    # The same notification delivered twice (SQS is at-least-once).
    stack.sqs.send_message(QueueUrl=stack.transcribe_queue_url, MessageBody=notification[0]["Body"])
    deliver(stack, max_messages=1)
    deliver(stack, max_messages=1)
    items = stack.dynamodb.scan(TableName=stack.tasks_table)["Items"]
    assert len(items) == 1 and len(engine_calls) == 1
    task = repo.get(items[0]["task_id"]["S"])
    assert task.owner_id == "inbox" and task.source.key == "inbox/my song.wav" and task.options == {}
    assert task.status is TaskStatus.COMPLETED
    assert set(objects(stack, f"results/{task.task_id}/")) == {
        f"results/{task.task_id}/my_song.{ext}" for ext in ("mid", "wav", "csv", "json")}


def test_s3_test_event_and_unreadable_messages_are_skipped(stack, repo) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-01-01T00:00:00.000Z",
                  "Bucket": stack.bucket, "RequestId": "r", "HostId": "h"}
    for body in (json.dumps(test_event), "not json", json.dumps({"task_id": "unknown-task"}), "[]"):
        stack.sqs.send_message(QueueUrl=stack.transcribe_queue_url, MessageBody=body)
    delivery = deliver(stack)
    assert delivery.received == 4 and delivery.failed_ids == []
    assert stack.dynamodb.scan(TableName=stack.tasks_table)["Items"] == []


# ---- audio_url, file_convert, kie.ai


flaky_requests: list[str] = []  # requests audio_server answered at /flaky.wav


@pytest.fixture
def audio_server():
    wav = tiny_wav()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path == "/tone.wav":
                self.send_response(200)
                self.send_header("Content-Length", str(len(wav)))
                self.end_headers()
                self.wfile.write(wav)
            elif self.path == "/flaky.wav":
                # The first request gets half the file and a closed connection, as a CDN's blip would.
                flaky_requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(wav)))
                self.end_headers()
                self.wfile.write(wav if len(flaky_requests) > 1 else wav[: len(wav) // 2])
                self.close_connection = True
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_audio_url_is_downloaded_and_a_404_url_fails(stack, repo, audio_server, monkeypatch) -> None:
    monkeypatch.setenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("MIDISCRIBE_ALLOW_HTTP_URLS", "true")
    service = api_use_cases()
    good = service.submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(
        audio=AudioInput(url=f"{audio_server}/tone.wav"), options={}, save_note_events=False)).task.task_id
    missing = service.submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(
        audio=AudioInput(url=f"{audio_server}/gone.wav"), options={})).task.task_id
    delivery = deliver(stack)
    assert delivery.received == 2 and delivery.failed_ids == []
    assert repo.get(good).status is TaskStatus.COMPLETED
    assert set(repo.get(good).outputs) == {"midi", "wav"}
    failed = repo.get(missing)
    assert failed.status is TaskStatus.FAILED and failed.error_code == "DOWNLOAD_FAILED" and "404" in failed.error


def test_an_audio_url_cut_off_once_is_downloaded_again_at_once(stack, repo, audio_server, monkeypatch) -> None:
    from midiscribe.service.worker import fetch

    monkeypatch.setenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("MIDISCRIBE_ALLOW_HTTP_URLS", "true")
    monkeypatch.setattr(fetch, "URL_RETRY_PAUSES_S", (0.0, 0.0))
    flaky_requests.clear()
    task_id = api_use_cases().submissions.submit_audio_to_midi(OWNER, AudioToMidiRequest(
        audio=AudioInput(url=f"{audio_server}/flaky.wav"), options={}, save_note_events=False)).task.task_id
    deliver(stack)
    done = repo.get(task_id)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert len(flaky_requests) == 2 and done.audio_duration_s > 0


def test_a_stems_task_that_fails_does_not_wait_for_a_stem_still_downloading(stack, repo, monkeypatch) -> None:
    """One stem is not audio, another still downloads from a host that has stopped sending: the task fails at
    once with the first stem's error, its download cancelled, instead of waiting for the slow host (up to the
    URL's 300-s budget)."""
    monkeypatch.setenv("MIDISCRIBE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("MIDISCRIBE_ALLOW_HTTP_URLS", "true")
    wav = tiny_wav()
    released = threading.Event()

    class Stalling(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Length", str(len(wav)))
            self.end_headers()
            self.wfile.write(wav[:100])
            self.wfile.flush()
            released.wait(20)  # the rest only after 20 s: a worker that waits for it finishes after this
            released.set()
            try:
                self.wfile.write(wav[100:])
            except OSError:
                pass  # the worker hung up

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        request = AudioToMidiRequest(audio=AudioInput(), options={}, stems=(
            StemInput("bass", AudioInput(url=f"http://127.0.0.1:{server.server_address[1]}/bass.wav"), "bass"),
            StemInput("lead", AudioInput(file=UploadedFile("lead.wav", "audio/wav", b"not audio at all")), "winds"),
        ))
        task_id = api_use_cases().submissions.submit_audio_to_midi(OWNER, request).task.task_id
        deliver(stack)
        still_stalled = not released.is_set()
    finally:
        released.set()
        server.shutdown()
        server.server_close()
    failed = repo.get(task_id)
    assert failed.status is TaskStatus.FAILED and "Stem 'lead'" in failed.error, failed.error
    assert still_stalled  # the task ended while the slow host still held back the bass


def test_file_convert_task(stack, service, repo) -> None:
    request = FileConvertRequest(audio=AudioInput(file=UploadedFile("take.wav", "audio/wav", tiny_wav())),
                                 convert=ConvertSpec("flac", 44100, 24))
    task_id = service.submissions.submit_file_convert(OWNER, request).task.task_id
    deliver(stack)
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED and task.status_msg == "File Conversion Completed"
    assert task.outputs == {"converted": f"results/{task_id}/take.flac"}
    info = soundfile.info(io.BytesIO(objects(stack, f"results/{task_id}/")[f"results/{task_id}/take.flac"]))
    assert info.samplerate == 44100 and info.subtype == "PCM_24"
    view = responses.conversion(task, service.lookup.links(task))["conversion"]
    assert view["output_path"].startswith("https://") and view["conversionType"] == "FILE_CONVERT"


@pytest.mark.parametrize("source_had_notes", [True, False])
def test_kie_generate_reads_notes_or_transcribes(stack, service, repo, source_had_notes) -> None:
    source_id = submit_file(service, tiny_wav(1.0), save_note_events=source_had_notes)
    deliver(stack)
    generate = service.submissions.submit_midi_generate(OWNER, MidiGenerateRequest(source_id, "https://example.callback"))
    deliver(stack)
    record = responses.kie_record(service.lookup.generation_record(OWNER, generate.task.task_id))["data"]
    assert record["successFlag"] == 1 and record["midiData"]["state"] == "complete"
    assert record["audioId"] == source_id and record["completeTime"] >= record["createTime"]
    instruments = record["midiData"]["instruments"]
    assert len(instruments) == 1 and instruments[0]["name"]
    assert any(note["pitch"] == 69 for note in instruments[0]["notes"])
    assert set(instruments[0]["notes"][0]) == {"pitch", "start", "end", "velocity"}
    task = repo.get(generate.task.task_id)
    assert task.note_count == len(instruments[0]["notes"]) and "midi" in task.outputs
    assert notify_messages(stack) == [{"task_id": generate.task.task_id, "event": "task.completed"}]


# ---- observability


def test_every_log_line_names_the_task_and_metrics_are_recorded(stack, service) -> None:
    from aws_lambda_powertools import Logger, Metrics

    stream = io.StringIO()
    logger = Logger(service="midiscribe-worker-test", stream=stream)
    metrics = Metrics(namespace="midiscribe-test", service="worker-test")
    good = submit_file(service, tiny_wav())
    bad = submit_file(service, b"plain text, not audio" * 5, name="bad.wav")
    worker = load_function("transcribe").worker(Settings.from_env(), log=logger, metrics=metrics)
    for task_id in (good, bad):
        worker.handle_message(json.dumps({"task_id": task_id}))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {line["message"] for line in lines} >= {"task claimed", "task completed", "task failed"}
    assert all(line.get("task_id") in (good, bad) for line in lines)
    # Where the task's time went, in the line an operator searches for (CloudWatch Logs Insights).
    [completed] = [line for line in lines if line["message"] == "task completed"]
    assert {"engine_s", "fetch_s", "write_s", "upload_s", "total_s"} <= set(completed["timings"])
    assert completed["timings"]["total_s"] == pytest.approx(completed["seconds"], abs=1e-3)
    emitted = metrics.serialize_metric_set()
    names = {metric["Name"] for metric in emitted["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"AudioSeconds", "ProcessingSeconds", "RealTimeFactor", "TasksFailed"} <= names
    assert emitted["AudioSeconds"] == [pytest.approx(0.6, abs=0.05)] and emitted["TasksFailed"] in (1.0, [1.0])
    metrics.clear_metrics()


def test_progress_is_recorded_while_processing(stack, service, repo, monkeypatch) -> None:
    monkeypatch.setattr("midiscribe.service.worker.transcription.PROGRESS_INTERVAL_S", 0.0)
    seen: list[float] = []
    real = TaskRepository.record_progress

    def spy(self, task_id, *, fraction, status_msg):
        seen.append(fraction)
        return real(self, task_id, fraction=fraction, status_msg=status_msg)

    monkeypatch.setattr(TaskRepository, "record_progress", spy)
    task_id = submit_file(service, tiny_wav(6.0), sonify_midi=False, save_note_events=False)
    deliver(stack)
    assert seen and seen == sorted(seen) and 0 < seen[-1] <= 1
    task = repo.get(task_id)
    assert task.status is TaskStatus.COMPLETED
    assert responses.conversion(task, service.lookup.links(task))["conversion"]["progress"] == 1.0


def test_a_task_that_cannot_even_be_claimed_still_ends_failed_on_the_last_try(stack, service, repo, monkeypatch):
    def throttled(self, task_id):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                          "UpdateItem")

    monkeypatch.setattr(TaskRepository, "claim", throttled)
    task_id = submit_file(service, tiny_wav())
    for _ in range(Settings.from_env().transcribe_max_receive):
        assert len(deliver(stack).failed_ids) == 1
    task = repo.get(task_id)
    assert task.status is TaskStatus.FAILED and "ProvisionedThroughputExceededException" in task.error
