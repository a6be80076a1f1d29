"""The API through SubmitFunction's handler, with the template's resources in moto (``aws_stack``)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile
from apigw_events import call, prepared_event, rest_event
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from midiscribe.aws import client
from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain.tasks import TaskStatus
from midiscribe.service.lookups import TaskLookup

SEED_URL = "/v1/audio_to_midi"
PUBLIC_ADDRESS = "93.184.216.34"


def tiny_wav() -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 440 * np.arange(4410) / 22050), 22050, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def stack(aws_stack, monkeypatch):
    # Host names in the seeds do not resolve here; answer with a public address, as DNS would.
    monkeypatch.setattr("midiscribe.net.urls.system_resolver", lambda host, port: [PUBLIC_ADDRESS])
    return aws_stack


@pytest.fixture
def repo(stack) -> TaskRepository:
    return TaskRepository(stack.tasks_table, client=stack.dynamodb)


def queued_task_ids(stack) -> list[str]:
    return [json.loads(m["Body"])["task_id"] for m in stack.receive(stack.transcribe_queue_url)]


def assert_queued(status: int, body: dict) -> None:
    assert status == 200, body
    assert body["success"] is True and body["status"] == "IN_QUEUE"
    assert body["message"] == "MIDI conversion task queued successfully"
    assert body["task_id"] and body["conversion_id"] and body["task_id"] != body["conversion_id"]
    assert isinstance(body["eta_seconds"], int) and body["eta_seconds"] > 0


# ---- the seeds' request variants


def test_seed_000_option_1_audio_url_form(stack, repo) -> None:
    payload = {
        "audio_url": "https://example.com/audio_file.wav",
        "sonify_midi": True,
        "save_note_events": True,
        "webhook_url": "https://your-webhook-url.com/callback",
    }
    status, body = call(prepared_event("POST", SEED_URL, headers={"Authorization": "k"}, data=payload))
    assert_queued(status, body)
    task = repo.get(body["task_id"])
    assert task.status is TaskStatus.IN_QUEUE and task.owner_id == "key_owner"
    assert task.source.kind == "url" and task.source.url == payload["audio_url"]
    assert task.webhook_url == payload["webhook_url"] and task.conversion_id == body["conversion_id"]
    assert task.expires_at > 0 and task.kind.value == "audio_to_midi"
    assert queued_task_ids(stack) == [body["task_id"]]


def test_seed_000_option_2_multipart_upload(stack, repo) -> None:
    wav = tiny_wav()
    payload = {"sonify_midi": False, "save_note_events": True, "webhook_url": "https://your-webhook-url.com/callback"}
    status, body = call(
        prepared_event("POST", SEED_URL, headers={"Authorization": "k"}, data=payload,
                       files={"audio_file": ("audio.wav", io.BytesIO(wav))})
    )
    assert_queued(status, body)
    task = repo.get(body["task_id"])
    assert task.source.key == f"uploads/key_owner/{body['task_id']}/audio.wav"
    assert task.sonify_midi is False and task.save_note_events is True
    stored = stack.s3.get_object(Bucket=stack.bucket, Key=task.source.key)["Body"].read()
    assert stored == wav
    assert queued_task_ids(stack) == [body["task_id"]]


def test_an_uploaded_part_labelled_as_a_page_is_stored_as_plain_bytes(stack, repo) -> None:
    # A link to the upload must never open as a page on the bucket's domain.
    status, body = call(prepared_event("POST", SEED_URL, headers={"Authorization": "k"},
                                       files={"audio_file": ("audio.wav", io.BytesIO(tiny_wav()), "text/html")}))
    assert_queued(status, body)
    stored = stack.s3.head_object(Bucket=stack.bucket, Key=repo.get(body["task_id"]).source.key)
    assert stored["ContentType"] == "application/octet-stream"


def test_an_upload_form_for_a_page_type_stores_plain_bytes(stack) -> None:
    # A wrong label is not refused (the file may well be sound; if not, the task says so), but the
    # object is never stored as a page.
    # A list of types starting with an audio one was stored as given: browsers take the last type of a list.
    for content_type in ("text/html", "image/svg+xml", "application/xhtml+xml; charset=utf-8", "text/plain",
                         "audio/x, text/html", "video/mp4 text/html", 'audio/"x"'):
        status, body = call(prepared_event("POST", "/v1/uploads", json={"filename": "song.wav",
                                                                      "content_type": content_type}))
        assert status == 200 and body["fields"]["Content-Type"] == "application/octet-stream", body
    for content_type in ("audio/x-wav", "video/mp4", "application/ogg", "application/octet-stream"):
        status, body = call(prepared_event("POST", "/v1/uploads", json={"filename": "song.wav",
                                                                      "content_type": content_type}))
        assert status == 200 and body["fields"]["Content-Type"] == content_type, body
    # Parameters are dropped (with any list hidden in them): the type is what the object is served as, nothing more.
    for content_type in ("Audio/WebM; codecs=opus", "audio/webm;a=b,text/html"):
        status, body = call(prepared_event("POST", "/v1/uploads", json={"filename": "a.webm",
                                                                      "content_type": content_type}))
        assert status == 200 and body["fields"]["Content-Type"] == "audio/webm", body


# Seed 002 names an object in the bucket; here it is one of the caller's own uploads (key_owner's).
OWN_UPLOAD = "uploads/key_owner/seed-002/input_audio.wav"


def test_seed_002_json_audio_path_in_our_bucket(stack, repo) -> None:
    stack.s3.put_object(Bucket=stack.bucket, Key=OWN_UPLOAD, Body=tiny_wav())
    payload = {"audio_path": f"s3://{stack.bucket}/{OWN_UPLOAD}", "sonify_midi": True,
               "save_note_events": True, "webhook_url": "https://yourdomain.com/webhook"}
    status, body = call(prepared_event("POST", SEED_URL, headers={"accept": "application/json",
                                                                 "Authorization": "k"}, json=payload))
    assert_queued(status, body)
    assert repo.get(body["task_id"]).source.key == OWN_UPLOAD


def test_seed_002_curl_json_labelled_as_a_form(stack) -> None:
    stack.s3.put_object(Bucket=stack.bucket, Key=OWN_UPLOAD, Body=tiny_wav())
    raw = (
        '{\n  "audio_path": "s3://' + stack.bucket + '/' + OWN_UPLOAD + '",\n  "sonify_midi": true,\n'
        '  "save_note_events": true,\n  "webhook_url": "https://yourdomain.com/webhook"\n}'
    )
    event = rest_event("POST", SEED_URL, body=raw, headers={
        "accept": "application/json", "Authorization": "k", "Content-Type": "application/x-www-form-urlencoded"})
    status, body = call(event)
    assert_queued(status, body)


def test_audio_path_in_another_bucket_is_400(stack) -> None:
    status, body = call(prepared_event("POST", SEED_URL, json={"audio_path": "s3://your-bucket/input_audio.wav"}))
    assert status == 400 and body["success"] is False and body["code"] == "FOREIGN_BUCKET"
    assert stack.bucket in body["error"]
    assert queued_task_ids(stack) == []


def test_missing_s3_object_is_404(stack) -> None:
    status, body = call(prepared_event("POST", SEED_URL, json={"audio_path": f"s3://{stack.bucket}/nope.wav"}))
    assert status == 404 and body["code"] == "AUDIO_NOT_FOUND"


def test_upload_then_submit_its_path(stack, repo) -> None:
    status, body = call(prepared_event("POST", "/v1/uploads", json={"filename": "big song.wav",
                                                                  "content_type": "audio/wav"}))
    assert status == 200, body
    assert body["key"].startswith("uploads/key_owner/") and body["key"].endswith("/big_song.wav")
    assert body["audio_path"] == f"s3://{stack.bucket}/{body['key']}"
    assert body["fields"]["key"] == body["key"] and "policy" in {k.lower() for k in body["fields"]}
    assert body["max_bytes"] == int(200 * 1024 * 1024)
    stack.s3.put_object(Bucket=stack.bucket, Key=body["key"], Body=tiny_wav())
    for audio_path in (body["key"], body["audio_path"]):
        status, queued = call(prepared_event("POST", SEED_URL, json={"audio_path": audio_path}))
        assert_queued(status, queued)
        assert repo.get(queued["task_id"]).source.key == body["key"]


def test_seed_004_file_convert(stack, repo) -> None:
    payload = {"audio_url": "https://example.com/audio.mp3", "target_format": "wav", "target_sr": 44100,
               "webhook_url": "https://your-webhook-url.com/callback"}
    status, body = call(prepared_event("POST", "/v1/file_convert", headers={"Authorization": "k"}, data=payload))
    assert status == 200, body
    assert body["success"] is True and body["task_id"] and body["conversion_id"]
    assert body["message"] == "File conversion task queued successfully"
    task = repo.get(body["task_id"])
    assert task.kind.value == "file_convert" and task.convert.target_sr == 44100
    task_id = body["task_id"]
    status, body = call(rest_event("GET", "/v1/byId", query={"conversionType": "FILE_CONVERT", "task_id": task_id}))
    assert status == 200 and body["conversion"]["output_path"] == ""
    # Polled as an audio_to_midi task, the 404 says which type it is (it sent the caller to check a right id).
    status, body = call(rest_event("GET", "/v1/byId", query={"conversionType": "AUDIO_TO_MIDI", "task_id": task_id}))
    assert status == 404 and body["code"] == "TASK_NOT_FOUND"
    assert "is a FILE_CONVERT conversion, not AUDIO_TO_MIDI: ask with conversionType=FILE_CONVERT" in body["error"]


# ---- byId


def submit(stack, key_id: str = "key_owner") -> dict:
    status, body = call(prepared_event("POST", SEED_URL, key_id=key_id,
                                       data={"audio_url": "https://example.com/a.wav"}))
    assert status == 200, body
    return body


def test_by_id_with_task_id_and_conversion_id(stack, repo) -> None:
    queued = submit(stack)
    for query in ({"task_id": queued["task_id"]}, {"conversion_id": queued["conversion_id"]}):
        status, body = call(rest_event("GET", "/v1/byId", query={"conversionType": "AUDIO_TO_MIDI", **query}))
        assert status == 200, body
        conversion = body["conversion"]
        assert conversion["task_id"] == queued["task_id"]
        assert conversion["conversion_id"] == queued["conversion_id"]
        assert conversion["conversionType"] == "AUDIO_TO_MIDI" and conversion["status"] == "IN_QUEUE"
        assert conversion["midi_file_path"] == "" and conversion["error"] is None
        assert conversion["createdAt"].endswith("Z")
        assert conversion["webhook_status"] is None  # no webhook_url


def test_a_task_id_and_another_conversions_conversion_id_are_said_to_disagree(stack, repo) -> None:
    # The 404 said "No conversion with task_id '<the right id>'", naming the id that was right.
    first, second = submit(stack), submit(stack)
    query = {"task_id": first["task_id"], "conversion_id": second["conversion_id"]}
    status, body = call(rest_event("GET", "/v1/byId", query=query))
    assert status == 400 and body["code"] == "INVALID_PARAMETER"
    assert "are not the same conversion" in body["error"] and second["conversion_id"] in body["error"]
    # Another key's task is not told apart from one that does not exist.
    status, body = call(rest_event("GET", "/v1/byId", query=query, key_id="key_other"))
    assert status == 404 and body["code"] == "TASK_NOT_FOUND"


def test_a_webhook_is_pending_from_the_moment_the_task_is_queued(stack) -> None:
    status, queued = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://example.com/a.wav",
                                                                 "webhook_url": "https://example.com/hook"}))
    assert status == 200, queued
    status, body = call(rest_event("GET", "/v1/byId", query={"conversionType": "AUDIO_TO_MIDI",
                                                            "task_id": queued["task_id"]}))
    assert status == 200 and body["conversion"]["status"] == "IN_QUEUE"
    assert body["conversion"]["webhook_status"] == "pending" and body["conversion"]["webhook_attempts"] == []


def test_by_id_of_a_completed_task_has_presigned_links(stack, repo) -> None:
    queued = submit(stack)
    repo.claim(queued["task_id"])
    outputs = {"midi": f"results/{queued['task_id']}/a.mid", "wav": f"results/{queued['task_id']}/a.wav"}
    repo.complete(queued["task_id"], outputs=outputs, status_msg="Audio to Midi Completed",
                  audio_duration_s=1.25, note_count=7, timings={"total_s": 0.5})
    status, body = call(rest_event("GET", "/v1/byId", query={"task_id": queued["task_id"]}))
    conversion = body["conversion"]
    assert status == 200 and conversion["status"] == "COMPLETED"
    assert conversion["midi_file_path"].startswith(f"https://{stack.bucket}.s3.amazonaws.com/results/")
    assert "X-Amz-Signature" in conversion["midi_file_path"] and "X-Amz-Expires=604800" in conversion["midi_file_path"]
    assert conversion["sonify_file_path"] and conversion["notes_file_path"] == ""
    assert conversion["audio_duration_s"] == 1.25 and conversion["note_count"] == 7


def test_by_id_gives_the_source_and_options_a_task_can_be_submitted_again_with(stack, repo) -> None:
    # The explorer's "count it at half / double" submits the same audio with the same options and a tempo_hint.
    status, form = call(prepared_event("POST", "/v1/uploads", json={"filename": "ballad.wav"}))
    stack.s3.put_object(Bucket=stack.bucket, Key=form["key"], Body=tiny_wav())
    sources = {"upload": {"audio_path": form["audio_path"]}, "link": {"audio_url": "https://example.com/a.wav"}}
    found = {}
    for name, source in sources.items():
        status, queued = call(prepared_event("POST", SEED_URL, json={**source, "instrument": "piano", "quantize": "1/8"}))
        assert status == 200, queued
        status, body = call(rest_event("GET", "/v1/byId", query={"task_id": queued["task_id"]}))
        found[name] = {field: body["conversion"][field] for field in ("audio_path", "audio_url", "options")}
    assert found["upload"] == {"audio_path": form["key"], "audio_url": "",
                               "options": {"instrument": "piano", "quantize": "1/8"}}
    assert found["link"] == {"audio_path": "", "audio_url": "https://example.com/a.wav",
                             "options": {"instrument": "piano", "quantize": "1/8"}}
    status, again = call(prepared_event("POST", SEED_URL, json={"audio_path": found["upload"]["audio_path"],
                                                                **found["upload"]["options"], "tempo_hint": 60}))
    assert status == 200, again
    assert repo.get(again["task_id"]).source.key == form["key"]


def test_by_id_options_keep_the_outputs_a_task_went_without(stack, repo) -> None:
    """sonify_midi=false and save_note_events=false were not in byId's options, so a task submitted again
    from them made the sonified WAV and the note files the first had gone without."""
    first = {"audio_url": "https://example.com/a.wav", "sonify_midi": "false", "save_note_events": "False",
             "quantize": "1/8"}
    status, queued = call(prepared_event("POST", SEED_URL, data=first))  # a form, as MusicGPT's sample sends
    assert status == 200, queued
    options = call(rest_event("GET", "/v1/byId", query={"task_id": queued["task_id"]}))[1]["conversion"]["options"]
    assert options == {"quantize": "1/8", "sonify_midi": False, "save_note_events": False}
    status, again = call(prepared_event("POST", SEED_URL, json={"audio_url": "https://example.com/a.wav", **options}))
    assert status == 200, again
    task = repo.get(again["task_id"])
    assert (task.sonify_midi, task.save_note_events, dict(task.options)) == (False, False, {"quantize": "1/8"})
    # The defaults stay out, as before.
    status, queued = call(prepared_event("POST", SEED_URL, json={"audio_url": "https://example.com/a.wav"}))
    assert call(rest_event("GET", "/v1/byId", query={"task_id": queued["task_id"]}))[1]["conversion"]["options"] == {}


def test_another_keys_task_is_404(stack) -> None:
    queued = submit(stack, key_id="key_owner")
    for query in ({"task_id": queued["task_id"]}, {"conversion_id": queued["conversion_id"]}):
        status, body = call(rest_event("GET", "/v1/byId", query=query, key_id="key_someone_else"))
        assert status == 404 and body["code"] == "TASK_NOT_FOUND"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"conversionType": "AUDIO_TO_MIDI"}, 400, "MISSING_PARAMETER"),
        ({"conversionType": "VOICE_CHANGER", "task_id": "x"}, 400, "INVALID_PARAMETER"),
        ({"task_id": "does-not-exist"}, 404, "TASK_NOT_FOUND"),
        ({"conversion_id": "does-not-exist"}, 404, "TASK_NOT_FOUND"),
        ({"task_id": "x" * 5000}, 404, "TASK_NOT_FOUND"),
        ({"conversion_id": "\u0000"}, 404, "TASK_NOT_FOUND"),
    ],
)
def test_by_id_errors(stack, query, status, code) -> None:
    got_status, body = call(rest_event("GET", "/v1/byId", query=query))
    assert (got_status, body["code"]) == (status, code)
    assert body["success"] is False and body["error"]


def test_by_id_with_another_conversion_type_is_404(stack) -> None:
    queued = submit(stack)
    status, body = call(rest_event("GET", "/v1/byId", query={"conversionType": "FILE_CONVERT",
                                                            "task_id": queued["task_id"]}))
    assert status == 404


# ---- each error status


def test_401_without_an_authorized_key(stack) -> None:
    status, body = call(prepared_event("POST", SEED_URL, key_id=None, data={"audio_url": "https://e.com/a.wav"}))
    assert status == 401 and body == {"success": False, "error": body["error"], "code": "UNAUTHORIZED"}
    status, _ = call(rest_event("GET", "/v1/byId", query={"task_id": "x"}, key_id=None))
    assert status == 401


def test_400_for_missing_audio_and_bad_values(stack) -> None:
    status, body = call(prepared_event("POST", SEED_URL, data={"sonify_midi": True}))
    assert status == 400 and body["code"] == "MISSING_AUDIO"
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav",
                                                               "sonify_midi": "perhaps"}))
    assert status == 400 and "sonify_midi" in body["error"]
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav",
                                                               "frame_threshold": "2"}))
    assert status == 400 and body["code"] == "INVALID_OPTIONS"
    assert queued_task_ids(stack) == []


def test_400_for_a_private_webhook_url(stack) -> None:
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav",
                                                               "webhook_url": "https://127.0.0.1/hook"}))
    assert status == 400 and body["code"] == "INVALID_WEBHOOK_URL" and "loopback" in body["error"]


@pytest.mark.parametrize(("sent", "shown", "stored", "results"), [
    ("練習.wav", "練習.wav", "audio.wav", "audio"), ("Привет мир.wav", "Привет мир.wav", "audio.wav", "audio"),
    ("Für Elise.wav", "Für Elise.wav", "Fur_Elise.wav", "Fur_Elise"),
    ("a\u202egnp.wav", "agnp.wav", "a_gnp.wav", "agnp")])  # a right-to-left override shows 'avw.pnga'
def test_a_task_is_known_by_its_files_own_name(stack, repo, sent, shown, stored, results) -> None:
    """Every name in a script without Latin letters was listed as audio.wav (and Für Elise as Fur_Elise), so
    such tasks could not be told apart in /v1/tasks or the explorer. The key and the results keep ASCII names."""
    status, queued = call(prepared_event("POST", SEED_URL, files={"audio_file": (sent, io.BytesIO(tiny_wav()))}))
    assert status == 200, queued
    conversion = call(rest_event("GET", "/v1/byId", query={"task_id": queued["task_id"]}))[1]["conversion"]
    assert conversion["source_name"] == shown
    task = repo.get(queued["task_id"])
    assert task.source.key.endswith("/" + stored) and task.source.stem == results
    listed = call(rest_event("GET", "/v1/tasks"))[1]["tasks"]
    assert [entry["source_name"] for entry in listed if entry["task_id"] == queued["task_id"]] == [shown]


def test_a_shown_name_is_the_last_path_part_without_control_characters_and_bounded() -> None:
    from midiscribe.domain.tasks import SHOWN_NAME_CHARS, shown_name

    assert shown_name("C:\\takes\\練習.wav") == shown_name("/home/me/練習.wav") == "練習.wav"
    assert shown_name("line\nbreak\t.wav") == "linebreak.wav" and shown_name("\u202egnp.wav") == "gnp.wav"
    assert len(shown_name("x" * 500 + ".wav")) == SHOWN_NAME_CHARS and shown_name("\x00\n") == ""


def test_413_for_a_file_over_the_deployments_limit(stack, monkeypatch) -> None:
    monkeypatch.setenv("MIDISCRIBE_MAX_UPLOAD_MB", "0.001")  # about 1 KB
    status, body = call(prepared_event("POST", SEED_URL, files={"audio_file": ("a.wav", io.BytesIO(tiny_wav()))}))
    assert status == 413 and "/v1/uploads" in body["error"]


def test_415_for_an_unsupported_content_type(stack) -> None:
    event = rest_event("POST", SEED_URL, body="<audio/>", headers={"Content-Type": "application/xml"})
    status, body = call(event)
    assert status == 415 and body["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_429_when_dynamodb_throttles(stack) -> None:
    # DynamoDB itself answers the write with its throttling error.
    with Stubber(client("dynamodb").wrapped) as dynamodb:
        dynamodb.add_client_error("put_item", service_error_code="ThrottlingException", http_status_code=400)
        status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav"}))
    assert status == 429 and body["code"] == "TOO_MANY_REQUESTS"
    assert stack.dynamodb.scan(TableName=stack.tasks_table)["Items"] == [] and queued_task_ids(stack) == []


def test_500_when_the_queue_fails_marks_the_task_failed_and_leaks_nothing(stack, repo, monkeypatch) -> None:
    def broken_send(self, body, *, delay_s=0):
        raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue",
                                     "Message": "arn:aws:sqs:secret-internal"}}, "SendMessage")

    monkeypatch.setattr("midiscribe.aws.queues.MessageQueue.send", broken_send)
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav"}))
    assert status == 500 and body["success"] is False and body["code"] == "INTERNAL_ERROR"
    assert "secret" not in json.dumps(body) and "SimpleQueueService" not in json.dumps(body)
    items = stack.dynamodb.scan(TableName=stack.tasks_table)["Items"]
    assert len(items) == 1
    task = repo.get(items[0]["task_id"]["S"])
    assert task.status is TaskStatus.FAILED and task.error_code == "QUEUE_UNAVAILABLE"


def test_500_for_an_unexpected_error_has_only_the_request_id(stack, monkeypatch) -> None:
    def explode(self, *args, **kwargs):
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(TaskLookup, "find_task", explode)
    status, body = call(rest_event("GET", "/v1/byId", query={"task_id": "x"}))
    assert status == 500 and "hunter2" not in body["error"] and "request id" in body["error"]


# ---- kie.ai


def test_kie_generate_and_record_info(stack, repo) -> None:
    queued = submit(stack)
    stack.receive(stack.transcribe_queue_url)
    status, body = call(prepared_event("POST", "/api/v1/midi/generate",
                                       headers={"Authorization": "Bearer k"},
                                       json={"taskId": queued["task_id"], "callBackUrl": "https://example.callback"}))
    assert status == 200 and body["code"] == 200 and body["msg"] == "success"
    generate_id = body["data"]["taskId"]
    assert queued_task_ids(stack) == [generate_id]
    task = repo.get(generate_id)
    assert task.kind.value == "midi_generate" and task.source.task_id == queued["task_id"]
    assert task.webhook_url == "https://example.callback"
    status, body = call(rest_event("GET", "/api/v1/midi/record-info", query={"taskId": generate_id}))
    assert status == 200 and body["code"] == 200
    record = body["data"]
    assert record["taskId"] == generate_id and record["successFlag"] == 0
    assert record["midiData"] == {"state": "pending", "instruments": []}
    assert record["callbackUrl"] == "https://example.callback" and record["createTime"] > 0


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (lambda: prepared_event("POST", "/api/v1/midi/generate",
                                json={"taskId": "unknown", "callBackUrl": "https://example.callback"}), 404),
        (lambda: prepared_event("POST", "/api/v1/midi/generate", json={"taskId": "x"}), 400),
        (lambda: rest_event("GET", "/api/v1/midi/record-info"), 400),
        (lambda: rest_event("GET", "/api/v1/midi/record-info", query={"taskId": "unknown"}), 404),
        (lambda: rest_event("GET", "/api/v1/midi/record-info", query={"taskId": "x"}, key_id=None), 401),
    ],
)
def test_kie_errors_use_kies_envelope(stack, event, status) -> None:
    got, body = call(event())
    assert got == status and body["code"] == status and body["msg"] and "success" not in body


def test_a_missing_query_parameter_is_named_in_a_sentence(stack) -> None:
    got, body = call(rest_event("GET", "/api/v1/midi/record-info"))
    assert got == 400 and body["msg"] == "Invalid request: taskId is required."


@pytest.mark.parametrize(("path", "name"), [("/v1/byId", "task_id"), ("/api/v1/midi/record-info", "taskId"),
                                            ("/v1/tasks", "limit")])
def test_a_query_parameter_given_twice_is_named_as_such(stack, path, name) -> None:
    event = rest_event("GET", path, query={name: "1"})
    event["multiValueQueryStringParameters"] = {name: ["1", "2"]}
    got, body = call(event)
    assert got == 400
    assert (body.get("error") or body.get("msg")) == f"Invalid request: {name} is given 2 times: give it once."


def test_kie_generate_for_a_failed_task_is_422(stack, repo) -> None:
    queued = submit(stack)
    repo.fail(queued["task_id"], error="not audio", error_code="NOT_AUDIO", status_msg="Audio to Midi Failed")
    status, body = call(prepared_event("POST", "/api/v1/midi/generate",
                                       json={"taskId": queued["task_id"], "callBackUrl": "https://e.com/cb"}))
    assert status == 422 and body["code"] == 422 and "not audio" in body["msg"]


# ---- the transcription options of issues 11, 12 and 14: recorded on the task, refused with a reason


@pytest.mark.parametrize("fields", [
    {"model": "piano"},
    {"instrument": "bass", "quantize": "1/16t", "score": "true"},
    {"instrument": "drums"},
    {"basic_pitch_compat": "true", "midi_tempo": "96"},
    {"tempo_hint": "150", "quantize": "1/8", "time_signature": "6/8"},
])
def test_model_instrument_quantize_and_score_are_recorded_on_the_task(stack, repo, fields) -> None:
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav", **fields}))
    assert_queued(status, body)
    recorded = repo.get(body["task_id"]).options
    expected = {name: (value == "true" if value in ("true", "false") else value) for name, value in fields.items()}
    for number in ("midi_tempo", "tempo_hint"):
        if number in expected:
            expected[number] = float(expected[number])
    assert recorded == expected
    status, body = call(rest_event("GET", "/v1/byId", query={"task_id": body["task_id"]}))
    assert body["conversion"]["instrument"] == fields.get("instrument", "auto")
    assert body["conversion"]["model"] is None  # known once it has run


@pytest.mark.parametrize(("fields", "words"), [
    ({"model": "transkun"}, "model"),
    ({"instrument": "kazoo"}, "instrument"),
    ({"quantize": "1/3"}, "quantize"),
    ({"score": "maybe"}, "score"),
    ({"tempo_hint": "0"}, "tempo_hint"),
    ({"time_signature": "7/8"}, "time_signature"),
    ({"model": "piano", "basic_pitch_compat": "true"}, "basic_pitch_compat"),
    ({"model": "piano", "instrument": "drums"}, "drum transcriber"),
    ({"instrument": "strings", "basic_pitch_compat": "true"}, "basic_pitch_compat"),
])
def test_bad_model_instrument_quantize_and_score_are_400_with_the_reason(stack, fields, words) -> None:
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav", **fields}))
    assert status == 400 and body["code"] == "INVALID_OPTIONS" and words in body["error"], body
    assert queued_task_ids(stack) == []


@pytest.mark.parametrize(("fields", "warning"), [
    ({"model": "piano", "onset_threshold": "0.6", "maximum_frequency": "900"},
     "onset_threshold and maximum_frequency are the general model's; the piano model does not use them."),
    ({"instrument": "piano", "melodia_trick": "false"},
     "melodia_trick is the general model's; the piano model does not use it."),
    ({"instrument": "drums", "frame_threshold": "0.2"},
     "frame_threshold is the general model's; the drum transcriber does not use it."),
    ({"onset_threshold": "0.6"}, None),
    ({"model": "piano"}, None),
])
def test_options_the_chosen_model_does_not_use_are_accepted_and_said(stack, repo, fields, warning) -> None:
    """A client may send the same fields whatever the model, so they are not refused; but not silently either."""
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav", **fields}))
    assert_queued(status, body)
    assert body.get("warnings") == ([warning] if warning else None)
    assert repo.get(body["task_id"]).options["instrument" if "instrument" in fields else next(iter(fields))]


def test_by_id_says_which_model_ran_and_links_the_score_files(stack, repo) -> None:
    queued = submit(stack)
    repo.claim(queued["task_id"])
    outputs = {name: f"results/{queued['task_id']}/a.{ext}"
               for name, ext in (("midi", "mid"), ("quantized_midi", "quantized.mid"), ("musicxml", "musicxml"))}
    repo.complete(queued["task_id"], outputs=outputs, status_msg="Audio to Midi Completed", audio_duration_s=1.0,
                  note_count=3, model="piano", model_name="transkun-2.0.1")
    status, body = call(rest_event("GET", "/v1/byId", query={"task_id": queued["task_id"]}))
    conversion = body["conversion"]
    assert (conversion["model"], conversion["model_name"]) == ("piano", "transkun-2.0.1")
    assert "/results/" in conversion["quantized_midi_file_path"] and ".quantized.mid" in conversion["quantized_midi_file_path"]
    assert conversion["musicxml_file_path"].split("?")[0].endswith("/a.musicxml")


def test_a_stems_task_says_each_stems_instrument_and_source_in_byid(stack, repo) -> None:
    # byId gives what it takes to submit a task again; for stems that is the stems list, and the instrument
    # of the task as a whole means nothing ("auto" was wrong: the stems were drums, bass and winds).
    wav = tiny_wav()
    status, body = call(prepared_event(
        "POST", SEED_URL, data={"stem.lead.instrument": "winds"},
        files={"stem.drums": ("drums.wav", io.BytesIO(wav)), "stem.bass": ("bass.wav", io.BytesIO(wav)),
               "stem.lead": ("lead.wav", io.BytesIO(wav))}))
    assert_queued(status, body)
    status, by_id = call(rest_event("GET", "/v1/byId", query={"task_id": body["task_id"]}))
    conversion = by_id["conversion"]
    assert conversion["instrument"] is None
    stems = conversion["stems"]
    assert [(s["name"], s["instrument"]) for s in stems] == [("drums", "drums"), ("bass", "bass"), ("lead", "winds")]
    task = repo.get(body["task_id"])
    assert [s["audio_path"] for s in stems] == [stem.source.key for stem in task.source.stems]
    assert all(s["audio_path"].startswith("uploads/key_owner/") and s["audio_url"] == "" for s in stems)

    status, url_body = call(prepared_event("POST", SEED_URL, json={"stems": [
        {"name": "keys", "audio_url": "https://e.com/k.wav", "instrument": "organ"}]}))
    assert_queued(status, url_body)
    status, by_id = call(rest_event("GET", "/v1/byId", query={"task_id": url_body["task_id"]}))
    assert by_id["conversion"]["stems"] == [
        {"name": "keys", "instrument": "organ", "audio_path": "", "audio_url": "https://e.com/k.wav"}]
    status, single = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav"}))
    status, by_id = call(rest_event("GET", "/v1/byId", query={"task_id": single["task_id"]}))
    assert by_id["conversion"]["instrument"] == "auto" and by_id["conversion"]["stems"] is None


def test_blank_values_and_huge_numbers_are_refused_in_plain_words(stack) -> None:
    # record-info quoted the "not blank" regular expression; a 5000-digit number gave Python's advice about
    # sys.set_int_max_str_digits; tempo_hint=nan was "less than or equal to 400".
    status, body = call(rest_event("GET", "/api/v1/midi/record-info", query={"taskId": " "}))
    assert status == 400 and "taskId is blank: give its value" in body["msg"] and "pattern" not in body["msg"]
    status, body = call(prepared_event("POST", SEED_URL, data=b'{"audio_url": "https://e.com/a.wav", "midi_tempo": '
                                       + b"9" * 5000 + b"}", headers={"Content-Type": "application/json"}))
    assert status == 400 and body["code"] == "INVALID_JSON"
    assert "has 5000 digits" in body["error"] and "set_int_max_str_digits" not in body["error"]
    status, body = call(prepared_event("POST", SEED_URL, data={"audio_url": "https://e.com/a.wav", "tempo_hint": "nan"}))
    assert status == 400 and "tempo_hint: Input should be a finite number" in body["error"]


@pytest.mark.parametrize("sent", [{}, "x", {"lead": {"file": "x"}}])
def test_the_internal_stem_parts_field_is_an_unknown_field_to_clients(stack, sent) -> None:
    # {"stem_parts": {}} validated and was dropped without a word, while "x" was called unknown.
    status, body = call(prepared_event("POST", SEED_URL, json={"audio_url": "https://e.com/a.wav", "stem_parts": sent}))
    assert status == 400 and body["code"] == "UNKNOWN_FIELD" and "stem_parts" in body["error"], body


def test_choices_are_read_whatever_their_case_and_surrounding_spaces(stack, repo) -> None:
    # A stem's instrument was read so already; the request's instrument=Drums, quantize=1/8T and
    # time_signature="4/4 " were refused.
    status, body = call(prepared_event("POST", SEED_URL, data={
        "audio_url": "https://e.com/a.wav", "instrument": "Bass", "quantize": "1/8T", "time_signature": "4/4 ",
        "model": " General"}))
    assert_queued(status, body)
    assert repo.get(body["task_id"]).options == {"instrument": "bass", "quantize": "1/8t", "time_signature": "4/4",
                                                 "model": "general"}
