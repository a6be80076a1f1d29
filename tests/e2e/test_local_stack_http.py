"""End to end over real HTTP against `midiscribe serve`: the seeds' samples, results, webhooks, inbox."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import time

import mido
import pytest
import requests
import soundfile
from e2e_stack import MIDISCRIBE, clean_environment, start_serve
from standardwebhooks.webhooks import Webhook

from midiscribe.client import MidiscribeClient

pytestmark = pytest.mark.e2e

OUTPUT_FIELDS = ("midi_file_path", "sonify_file_path", "notes_file_path", "notes_json_path")


def download(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, f"{url}: HTTP {response.status_code} {response.text[:200]}"
    return response.content


def check_outputs(stack, conversion: dict) -> int:
    """Download every output of a COMPLETED conversion, check each parses, and return the note count."""
    assert conversion["status"] == "COMPLETED", conversion
    for name in OUTPUT_FIELDS:
        assert conversion[name], f"{name} missing from {conversion}"
        assert conversion[name].startswith(stack.aws_endpoint_url), "result links must point at the local moto"

    midi = mido.MidiFile(file=io.BytesIO(download(conversion["midi_file_path"])))
    midi_notes = sum(1 for track in midi.tracks for message in track
                     if message.type == "note_on" and message.velocity > 0)

    audio, sample_rate = soundfile.read(io.BytesIO(download(conversion["sonify_file_path"])))
    assert sample_rate > 0 and len(audio) > sample_rate  # the melody lasts over two seconds

    rows = list(csv.DictReader(io.StringIO(download(conversion["notes_file_path"]).decode("utf-8"))))
    document = json.loads(download(conversion["notes_json_path"]))
    json_notes = [note for instrument in document["instruments"] for note in instrument["notes"]]

    assert len(rows) == len(json_notes) == midi_notes == conversion["note_count"]
    assert conversion["note_count"] >= 3, "the test melody has four clear notes"
    pitches = {int(row["pitch_midi"]) for row in rows}
    assert pitches & {60, 64, 67, 72}, f"none of the melody's pitches found in {sorted(pitches)}"
    assert [int(row["pitch_midi"]) for row in rows] == [note["pitch"] for note in json_notes]
    return conversion["note_count"]


def queued_task_id(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["status"] == "IN_QUEUE"
    assert body["message"] == "MIDI conversion task queued successfully"
    return body["task_id"]


def test_seed_000_python_sample_with_webhook(local_stack, tone_wav, webhook_receiver):
    # Seed 000's "Option 2" exactly as written, with the URL and key pointed at the local stack.
    url = f"{local_stack.api_url}/v1/audio_to_midi"
    headers = {"Authorization": local_stack.api_key}
    payload = {
        "sonify_midi": True,
        "save_note_events": True,
        "webhook_url": webhook_receiver.url,
    }
    with open(tone_wav, "rb") as f:
        files = {"audio_file": f}
        response = requests.post(url, headers=headers, data=payload, files=files)
    task_id = queued_task_id(response)

    conversion = local_stack.wait_for(task_id)
    note_count = check_outputs(local_stack, conversion)

    delivery = webhook_receiver.wait_for(lambda d: (d["json"] or {}).get("task_id") == task_id)
    # Raises if the signature, id or timestamp do not verify with the key's secret.
    Webhook(local_stack.webhook_secret).verify(delivery["body"], delivery["headers"])
    body = delivery["json"]
    assert body["success"] is True and body["conversion_type"] == "Audio to MIDI"
    assert body["note_count"] == note_count
    assert all(body[name] for name in ("midi_file_path", "sonify_file_path", "notes_file_path"))
    assert local_stack.by_id(task_id)["webhook_status"] == "delivered"
    # The webhook's links are signed links on the API itself, which redirects to a fresh presigned URL
    # (requests follows the 302 to moto): they outlive the credentials of whoever sent the webhook.
    for name in OUTPUT_FIELDS:
        assert body[name].startswith(f"{local_stack.api_url}/v1/files/{task_id}/"), body[name]
    followed = requests.get(body["midi_file_path"], timeout=30)
    assert followed.status_code == 200, followed.text[:200]
    assert [r.status_code for r in followed.history] == [302]
    assert followed.url.startswith(local_stack.aws_endpoint_url)
    midi = mido.MidiFile(file=io.BytesIO(followed.content))
    assert sum(1 for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0) == note_count


def test_head_on_a_keyed_path_is_its_get_with_the_key_checked(local_stack):
    # HEAD reached each path's unauthenticated ANY method, so its key was never checked: HEAD /v1/tasks with a
    # good key was 401 "No API key" (on AWS as here), while 405's Allow offered HEAD beside GET.
    headers = {"Authorization": local_stack.api_key}
    for path, params in (("/v1/tasks", {}), ("/v1/byId", {"task_id": "a" * 32}),
                         ("/api/public/v1/byId", {"task_id": "a" * 32}), ("/api/v1/midi/record-info", {"taskId": "x"})):
        got = requests.get(local_stack.api_url + path, headers=headers, params=params, timeout=30)
        head = requests.head(local_stack.api_url + path, headers=headers, params=params, timeout=30)
        assert head.status_code == got.status_code != 401 and head.content == b"", (path, head.status_code)
        assert head.headers["Content-Type"] == got.headers["Content-Type"]
        refused = requests.head(local_stack.api_url + path, params=params, timeout=30)
        assert refused.status_code == 401, (path, refused.status_code)


def test_a_musicgpt_client_changes_only_its_host(local_stack, tone_wav):
    # MusicGPT serves its routes under /api/public/v1: https://api.musicgpt.com/api/public/v1/audio_to_midi
    # with the scheme and host swapped for the local stack's reaches the same operations.
    base = f"{local_stack.api_url}/api/public/v1"
    headers = {"Authorization": local_stack.api_key}
    with open(tone_wav, "rb") as f:
        response = requests.post(f"{base}/audio_to_midi", headers=headers, data={"sonify_midi": True},
                                 files={"audio_file": f}, timeout=60)
    task_id = queued_task_id(response)
    local_stack.wait_for(task_id)
    found = requests.get(f"{base}/byId", headers=headers, timeout=30,
                         params={"conversionType": "AUDIO_TO_MIDI", "task_id": task_id})
    assert found.status_code == 200, found.text
    check_outputs(local_stack, found.json()["conversion"])
    with open(tone_wav, "rb") as f:
        converted = requests.post(f"{base}/file_convert", headers=headers, data={"target_format": "flac"},
                                  files={"audio_file": f}, timeout=60)
    assert converted.status_code == 200 and converted.json()["success"] is True, converted.text
    wrong = requests.put(f"{base}/byId", headers=headers, timeout=30)
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"], wrong.text


def test_json_audio_path_after_a_presigned_upload(local_stack, tone_wav, tmp_path):
    client = MidiscribeClient(local_stack.api_url, local_stack.api_key)
    named = tmp_path / "練習 Für Elise.wav"
    named.write_bytes(tone_wav.read_bytes())
    audio_path = client.upload(named)
    assert audio_path.startswith(f"s3://{local_stack.bucket}/uploads/") and audio_path.endswith("/Fur_Elise.wav")
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             json={"audio_path": audio_path, "sonify_midi": True, "save_note_events": True})
    conversion = local_stack.wait_for(queued_task_id(response))
    check_outputs(local_stack, conversion)
    # Listed by the name the file was uploaded under; its results keep ASCII names.
    assert conversion["source_name"] == "練習 Für Elise.wav"
    assert "/Fur_Elise.mid" in conversion["midi_file_path"]


def test_seed_002_curl_sends_json_without_a_json_content_type(local_stack, tone_wav, curl):
    # The key's own upload (a request may name nothing else), as POST /v1/uploads places it.
    key = requests.post(f"{local_stack.api_url}/v1/uploads", headers=local_stack.headers(),
                        json={"filename": tone_wav.name}, timeout=30).json()["key"]
    local_stack.s3().upload_file(str(tone_wav), local_stack.bucket, key)
    body = json.dumps({"audio_path": f"s3://{local_stack.bucket}/{key}", "sonify_midi": True,
                       "save_note_events": True})
    result = subprocess.run(
        [curl, "-sS", "-X", "POST", f"{local_stack.api_url}/v1/audio_to_midi",
         "-H", "accept: application/json", "-H", f"Authorization: {local_stack.api_key}", "-d", body],
        capture_output=True, text=True, timeout=60, check=True,
    )
    reply = json.loads(result.stdout)
    assert reply["success"] is True, reply
    check_outputs(local_stack, local_stack.wait_for(reply["task_id"]))


def test_a_file_dropped_into_inbox_is_transcribed(local_stack, tone_wav):
    key = f"inbox/dropped {time.time_ns()}.wav"  # a space: S3 notifications URL-encode keys
    local_stack.s3().upload_file(str(tone_wav), local_stack.bucket, key)
    dynamodb = local_stack.dynamodb()
    tables = dynamodb.list_tables()["TableNames"]
    [tasks_table] = [name for name in tables if name.endswith("TasksTable")]
    deadline = time.monotonic() + 120
    item = None
    while time.monotonic() < deadline:
        items = dynamodb.query(TableName=tasks_table, IndexName="by_owner",
                               KeyConditionExpression="owner_id = :o",
                               ExpressionAttributeValues={":o": {"S": "inbox"}})["Items"]
        matching = [i for i in items if i["source"]["M"].get("key", {}).get("S") == key]
        if matching and matching[0]["status"]["S"] in ("COMPLETED", "FAILED"):
            item = matching[0]
            break
        time.sleep(0.3)
    assert item is not None, f"no finished task for {key}:\n{local_stack.output.tail()}"
    assert item["status"]["S"] == "COMPLETED", item
    outputs = {name: value["S"] for name, value in item["outputs"]["M"].items()}
    s3 = local_stack.s3()
    for output_key in outputs.values():
        assert output_key.startswith("results/")
        assert s3.head_object(Bucket=local_stack.bucket, Key=output_key)["ContentLength"] > 0


def test_a_non_audio_upload_ends_failed_with_a_message(local_stack, tmp_path):
    text_file = tmp_path / "notes.wav"
    text_file.write_text("this is a shopping list, not a recording\n" * 20)
    with open(text_file, "rb") as f:
        response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                                 files={"audio_file": f})
    conversion = local_stack.wait_for(queued_task_id(response))
    assert conversion["status"] == "FAILED"
    assert conversion["error"] and "audio" in conversion["error"].lower(), conversion
    assert not conversion["midi_file_path"]


@pytest.mark.parametrize("authorization", [None, "msk_this_key_does_not_exist_0000", "Bearer nope-nope-nope-nope"])
def test_a_wrong_or_missing_key_gets_401(local_stack, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{local_stack.api_url}/v1/byId", headers=headers,
                            params={"conversionType": "AUDIO_TO_MIDI", "task_id": "x"}, timeout=30)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False and body["code"] == "UNAUTHORIZED" and "Authorization" in body["error"]


def test_a_kie_client_without_a_key_reads_msg_too(local_stack):
    # The refusal comes before any route runs, so it is the API-wide envelope; kie.ai's clients read msg.
    response = requests.get(f"{local_stack.api_url}/api/v1/midi/record-info", params={"taskId": "x"}, timeout=30)
    assert response.status_code == 401
    body = response.json()
    assert body["msg"] == body["error"] and "Authorization" in body["msg"]


def test_bearer_key_and_public_routes(local_stack):
    response = requests.get(f"{local_stack.api_url}/v1/byId", headers={"Authorization": f"Bearer {local_stack.api_key}"},
                            params={"conversionType": "AUDIO_TO_MIDI", "task_id": "no-such-task"}, timeout=30)
    assert response.status_code == 404 and response.json()["success"] is False
    assert requests.get(f"{local_stack.api_url}/health", timeout=30).status_code == 200
    spec = requests.get(f"{local_stack.api_url}/openapi.json", timeout=30)
    assert spec.status_code == 200 and "/v1/audio_to_midi" in spec.json()["paths"]
    swagger = requests.get(f"{local_stack.api_url}/swagger", timeout=30)
    assert swagger.status_code == 200 and "swagger" in swagger.text.lower()


def test_a_body_over_10_mb_gets_413_with_the_envelope(local_stack):
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             files={"audio_file": ("big.wav", b"\0" * (10 * 1024 * 1024 + 1), "audio/wav")})
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE" and "/v1/uploads" in response.json()["error"]


def test_submit_cli_waits_and_downloads(local_stack, tone_wav, tmp_path):
    result = subprocess.run(
        [str(MIDISCRIBE), "submit", str(tone_wav), "--wait", "-o", str(tmp_path / "out"),
         "--api-url", local_stack.api_url],
        env=clean_environment(MIDISCRIBE_API_KEY=local_stack.api_key), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    saved = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert saved == ["melody.csv", "melody.json", "melody.mid", "melody.wav"], saved
    assert "COMPLETED" in result.stderr
    # As transcribe says it: a clip under ten seconds in tenths ("3.2 s"), longer ones as m:ss.
    assert re.search(r"^\d+ notes in (0:\d\d|\d\.\d s) of audio$", result.stderr, re.MULTILINE), result.stderr


def test_submit_cli_sends_the_transcription_options_it_is_given(local_stack, tone_wav, tmp_path):
    result = subprocess.run(
        [str(MIDISCRIBE), "submit", str(tone_wav), "--wait", "-o", str(tmp_path / "out"), "--no-sonify",
         "--api-url", local_stack.api_url, "--instrument", "winds", "--quantize", "1/8", "--score",
         "--onset-threshold", "0.4"],
        env=clean_environment(MIDISCRIBE_API_KEY=local_stack.api_key), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    saved = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert saved == ["melody.csv", "melody.json", "melody.mid", "melody.musicxml", "melody.quantized.mid"], saved
    options = json.loads((tmp_path / "out" / "melody.json").read_text())["options"]
    assert (options["instrument"], options["quantize"], options["score"], options["onset_threshold"]) == (
        "winds", "1/8", True, 0.4)
    assert options["model"] is None  # not given: the API's default, not the CLI's


def test_a_second_serve_on_the_same_port_says_it_is_in_use(local_stack):
    process, output = start_serve(local_stack.port, clean_environment())
    assert process.wait(60) != 0
    output.join()
    assert "already in use" in output.text() and "make run PORT=" in output.text()
    # The running stack is unaffected.
    assert requests.get(f"{local_stack.api_url}/health", timeout=30).status_code == 200


def test_the_client_uploads_files_over_the_inline_limit_first(local_stack, tone_wav, tmp_path, monkeypatch):
    import midiscribe.client

    sent: list[str] = []
    monkeypatch.setattr(midiscribe.client, "INLINE_UPLOAD_LIMIT_BYTES", tone_wav.stat().st_size - 1)
    client = MidiscribeClient(local_stack.api_url, local_stack.api_key)
    original_upload = client.upload
    monkeypatch.setattr(client, "upload", lambda path: sent.append(str(path)) or original_upload(path))
    queued = client.submit_file(tone_wav)
    assert sent == [str(tone_wav)]
    conversion = client.wait(queued["task_id"], timeout=120, interval=0.3)
    saved = client.download(conversion, tmp_path)
    assert sorted(saved) == ["midi_file_path", "notes_file_path", "notes_json_path", "sonify_file_path"]
    assert saved["midi_file_path"].read_bytes().startswith(b"MThd")


def test_seed_000_option_1_audio_url_from_a_loopback_server(local_stack, tone_wav):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    audio = tone_wav.read_bytes()

    class AudioFile(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), AudioFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Seed 000's "Option 1", form-encoded as requests sends data=payload; private URLs are allowed locally.
        payload = {
            "audio_url": f"http://127.0.0.1:{server.server_address[1]}/audio_file.wav",
            "sonify_midi": True,
            "save_note_events": True,
        }
        response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi",
                                 headers={"Authorization": local_stack.api_key}, data=payload)
        check_outputs(local_stack, local_stack.wait_for(queued_task_id(response)))
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_webhook_receiver_is_retried_on_the_schedule(local_stack, tone_wav):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    attempts: list[dict] = []

    class FlakyReceiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            attempts.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            self.send_response(503 if len(attempts) <= 2 else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with open(tone_wav, "rb") as f:
            response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                                     data={"webhook_url": f"http://127.0.0.1:{server.server_address[1]}/"},
                                     files={"audio_file": f})
        task_id = queued_task_id(response)
        local_stack.wait_for(task_id)
        # The stack runs with MIDISCRIBE_WEBHOOK_RETRY_SCHEDULE=0,1,1: two failures, then a delivery.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and local_stack.by_id(task_id).get("webhook_status") != "delivered":
            time.sleep(0.3)
        conversion = local_stack.by_id(task_id)
    finally:
        server.shutdown()
        server.server_close()
    assert conversion["webhook_status"] == "delivered", conversion
    assert len(attempts) == 3
    assert len({attempt["headers"]["webhook-id"] for attempt in attempts}) == 1
    for attempt in attempts:
        Webhook(local_stack.webhook_secret).verify(attempt["body"], attempt["headers"])
    assert [a.get("status_code") for a in conversion["webhook_attempts"]] == [503, 503, 200]


def test_the_piano_model_with_quantize_and_score_over_http(local_stack, tone_wav):
    """model=piano, quantize and score as form fields: byId says which model ran and links the extra files."""
    with open(tone_wav, "rb") as f:
        response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers={"Authorization": local_stack.api_key},
                                 data={"model": "piano", "quantize": "1/16", "score": "true", "sonify_midi": "false"},
                                 files={"audio_file": f}, timeout=30)
    conversion = local_stack.wait_for(queued_task_id(response), timeout=300)
    assert conversion["status"] == "COMPLETED", conversion
    assert (conversion["model"], conversion["model_name"], conversion["instrument"]) == ("piano", "transkun-2.0.1", "auto")
    midi = mido.MidiFile(file=io.BytesIO(download(conversion["midi_file_path"])))
    names = [message.name for track in midi.tracks for message in track if message.type == "track_name"]
    programs = {message.program for track in midi.tracks for message in track if message.type == "program_change"}
    assert names == ["tempo", "Acoustic Grand Piano"] and programs == {0}
    quantized = mido.MidiFile(file=io.BytesIO(download(conversion["quantized_midi_file_path"])))
    assert quantized.ticks_per_beat == midi.ticks_per_beat
    score = download(conversion["musicxml_file_path"])
    assert b"<score-partwise" in score and b"<measure" in score
    document = json.loads(download(conversion["notes_json_path"]))
    assert document["model"] == "transkun-2.0.1" and "pedals" in document and "tempo_bpm" in document
    assert conversion["sonify_file_path"] == ""


def test_a_key_created_for_the_local_stack_says_where_its_api_is(local_stack):
    """`keys create --endpoint-url` reads the API's address from the local stack's keys table, and its
    "Try it" line sends the new key there (it printed https://YOUR-API-URL before)."""
    result = subprocess.run(
        [str(MIDISCRIBE), "keys", "create", "--name", "try-it", "--endpoint-url", local_stack.aws_endpoint_url],
        env=clean_environment(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                              AWS_DEFAULT_REGION="us-east-1"),
        capture_output=True, text=True, timeout=60, check=True,
    )
    key = re.search(r"API key\s+(msk_\S+)", result.stdout).group(1)
    command = re.search(r'curl -H "Authorization: (\S+)" -F audio_file=@song.wav "(\S+)"', result.stdout)
    assert command and command.group(1) == key and command.group(2) == f"{local_stack.api_url}/v1/audio_to_midi"
    listed = requests.get(f"{local_stack.api_url}/v1/tasks", headers={"Authorization": key}, timeout=30)
    assert listed.status_code == 200, listed.text


def test_each_functions_log_lines_name_that_function(local_stack, tone_wav):
    # Every function runs in the one `midiscribe serve` process; each line must still name its own function and
    # task, also while byId requests (the submit function) are served during the transcription.
    client = MidiscribeClient(local_stack.api_url, local_stack.api_key)
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             json={"audio_path": client.upload(tone_wav)})
    task_id = queued_task_id(response)
    local_stack.wait_for(task_id)
    deadline = time.monotonic() + 10
    wanted = {"task queued": "SubmitFunction", "task claimed": "TranscribeFunction",
              "task completed": "TranscribeFunction"}
    while True:
        lines = []
        for line in local_stack.output.text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        ours = {line["message"]: line for line in lines if line.get("task_id") == task_id}
        if set(wanted) <= set(ours) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for message, function in wanted.items():
        assert message in ours, f"no {message!r} line for {task_id}:\n{local_stack.output.tail()}"
        assert ours[message]["function_name"] == function, ours[message]
