"""Issue 10's findings (and the later security review's), one regression test each, against the served local
stack over real HTTP.

Each test is named after the finding it pins down ("finding N"). They talk only to loopback: the
stack, its moto endpoint and the test's own receivers.
"""

from __future__ import annotations

import io
import json
import re
import socket
import struct
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import soundfile
from e2e_stack import MIDISCRIBE, clean_environment

pytestmark = pytest.mark.e2e

JSON_ROUTES = ["/v1/audio_to_midi", "/v1/file_convert", "/v1/uploads", "/api/v1/midi/generate"]
LIBRARY_WORDS = ("pipe", "SF_INFO", "Errno", "struct", "libsndfile", "Traceback", "soundfile", "av.error")
MAX_ERROR_BODY_BYTES = 16 * 1024


# ------------------------------------------------------------------------------------------- helpers


def envelope(response: requests.Response) -> dict:
    """The error envelope every non-2xx answer must be: JSON, success false, a code and a message.

    kie.ai's routes (/api/v1/…) answer in kie.ai's own envelope, {"code": <the status>, "msg"}.
    """
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        response.status_code, response.headers.get("Content-Type"), response.text[:300])
    body = response.json()
    if "/api/v1/" in response.url:
        assert body["code"] == response.status_code and body["msg"], body
        return body
    assert body["success"] is False and body["code"] and body["error"], body
    return body


def wav_bytes(seconds: float = 1.0, sample_rate: int = 22050, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.repeat(mono[:, None], channels, axis=1), sample_rate, format="WAV")
    return buffer.getvalue()


def flac_declaring(seconds: float, sample_rate: int, channels: int) -> bytes:
    """A short FLAC whose STREAMINFO declares ``seconds`` of audio: what a decoder trusts before decoding."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros((sample_rate // 10, channels), dtype=np.int16), sample_rate, format="FLAC")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # the first block is STREAMINFO
    info = 8  # "fLaC" + block header
    # Bytes 10..17 of STREAMINFO: 20 bits rate, 3 bits channels-1, 5 bits bps-1, 36 bits total samples.
    packed = int.from_bytes(data[info + 10:info + 18], "big")
    total = int(seconds * sample_rate)
    packed = (packed & ~((1 << 36) - 1)) | total
    data[info + 10:info + 18] = packed.to_bytes(8, "big")
    return bytes(data)


def wav_with_sample_rate(sample_rate: int) -> bytes:
    """A valid-looking PCM WAV header claiming ``sample_rate``, then a little audio."""
    frames = np.zeros(2000, dtype=np.int16).tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, (sample_rate * 2) & 0xFFFFFFFF, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(frames)) + frames


def second_key(local_stack) -> str:
    """A new API key in the stack's keys table, as `midiscribe keys create` makes one."""
    result = subprocess.run(
        [str(MIDISCRIBE), "keys", "create", "--name", f"second-{uuid.uuid4().hex[:6]}",
         "--endpoint-url", local_stack.aws_endpoint_url],
        env=clean_environment(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                              AWS_DEFAULT_REGION="us-east-1"),
        capture_output=True, text=True, timeout=60, check=True,
    )
    return {
        "key": re.search(r"API key\s+(msk_\S+)", result.stdout).group(1),
        "key_id": re.search(r"\((key_[0-9a-f]+)\)", result.stdout).group(1),
        "secret": re.search(r"Webhook secret\s+(\S+)", result.stdout).group(1),
    }


@pytest.fixture(scope="module")
def other(local_stack):
    return second_key(local_stack)


@pytest.fixture(scope="module")
def finished_task(local_stack):
    """A task of the stack's own key (A), finished, with its upload and results in the bucket."""
    name = f"mine-{uuid.uuid4().hex}.wav"
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             files={"audio_file": (name, wav_bytes(), "audio/wav")}, timeout=60)
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    assert local_stack.wait_for(task_id)["status"] == "COMPLETED"
    keys = [o["Key"] for o in local_stack.s3().list_objects_v2(Bucket=local_stack.bucket)["Contents"]]
    [upload] = [k for k in keys if k.startswith("uploads/") and k.endswith(f"/{name}")]
    result = next(k for k in keys if k.startswith("results/") and task_id in k)
    return {"task_id": task_id, "upload": upload, "result": result}


def _normalised(response: requests.Response, named: str) -> tuple[int, str, str]:
    body = envelope(response)
    return response.status_code, body["code"], body["error"].replace(named, "<PATH>")


# ---------------------------------------------------------------- finding 1: one key reads another's files


@pytest.mark.parametrize("route", ["/v1/file_convert", "/v1/audio_to_midi"])
def test_finding_1_another_keys_objects_answer_like_missing_ones(local_stack, other, finished_task, route):
    s3_uri = f"s3://{local_stack.bucket}/"
    local_stack.s3().put_object(Bucket=local_stack.bucket, Key="inbox/someone-elses.wav", Body=wav_bytes())
    presigned = requests.post(f"{local_stack.api_url}/v1/uploads", headers=local_stack.headers(),
                              json={"filename": "presigned.wav"}, timeout=30).json()
    foreign = [finished_task["upload"], s3_uri + finished_task["upload"], finished_task["result"],
               s3_uri + finished_task["result"], "inbox/someone-elses.wav", presigned["audio_path"]]
    missing = f"uploads/{uuid.uuid4()}/nothing-here.wav"
    baseline = requests.post(f"{local_stack.api_url}{route}", headers={"Authorization": other["key"]},
                             json={"audio_path": missing}, timeout=30)
    expected = _normalised(baseline, missing)
    assert expected[0] == 404
    for path in foreign:
        answer = requests.post(f"{local_stack.api_url}{route}", headers={"Authorization": other["key"]},
                               json={"audio_path": path}, timeout=30)
        assert _normalised(answer, path) == expected, (path, answer.text)


def test_finding_1_the_owner_still_reads_its_own_upload(local_stack, finished_task):
    answer = requests.post(f"{local_stack.api_url}/v1/file_convert", headers=local_stack.headers(),
                           json={"audio_path": finished_task["upload"], "target_format": "flac"}, timeout=30)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("method", "route", "params"),
    [
        ("GET", "/v1/byId", lambda t: {"params": {"conversionType": "AUDIO_TO_MIDI", "task_id": t}}),
        ("GET", "/v1/byId", lambda t: {"params": {"conversionType": "AUDIO_TO_MIDI", "conversion_id": t}}),
        ("POST", "/api/v1/midi/generate", lambda t: {"json": {"taskId": t, "callBackUrl": "http://127.0.0.1:9/cb"}}),
        ("GET", "/api/v1/midi/record-info", lambda t: {"params": {"taskId": t}}),
        ("POST", "/v1/tasks/{id}/webhook/redeliver", lambda t: {}),
    ],
)
def test_finding_1_every_route_taking_an_id_answers_another_keys_like_nothing(
    local_stack, other, finished_task, method, route, params
):
    def ask(task_id: str) -> tuple[int, str]:
        response = requests.request(method, f"{local_stack.api_url}{route.replace('{id}', task_id)}",
                                    headers={"Authorization": other["key"]}, timeout=30, **params(task_id))
        # kie.ai's routes answer in kie.ai's own envelope ({code, msg}); compare whatever came back.
        assert response.status_code == 404, response.text
        return response.status_code, response.text.replace(task_id, "<ID>")

    assert ask(finished_task["task_id"]) == ask(str(uuid.uuid4()))


# ------------------------------------------------------------------------- finding 2: 500s from input


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_finding_2_deeply_nested_json_is_a_400(local_stack, route):
    deep = '{"audio_path": ' + "[" * 10_000 + "]" * 10_000 + "}"
    response = requests.post(f"{local_stack.api_url}{route}", data=deep, timeout=30,
                             headers=local_stack.headers(**{"Content-Type": "application/json"}))
    assert response.status_code == 400, response.text[:300]
    envelope(response)


@pytest.mark.parametrize("route", ["/v1/file_convert", "/v1/audio_to_midi"])
def test_finding_2_a_lone_surrogate_in_a_path_is_a_400(local_stack, route):
    response = requests.post(f"{local_stack.api_url}{route}", data='{"audio_path": "\\ud800"}', timeout=30,
                             headers=local_stack.headers(**{"Content-Type": "application/json"}))
    assert response.status_code == 400, response.text[:300]
    envelope(response)


@pytest.mark.parametrize("field", ["webhook_url", "audio_url"])
def test_finding_2_a_url_of_450_kb_is_refused_naming_the_limit(local_stack, field):
    url = "http://127.0.0.1/" + "a" * 450_000
    payload = {field: url} if field == "audio_url" else {field: url, "audio_url": "http://127.0.0.1/a.wav"}
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             json=payload, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert "2048" in envelope(response)["error"] or "2 KB" in envelope(response)["error"]


# -------------------------------------------------------------------- finding 3: unbounded work at submit


def test_finding_3_a_sample_rate_beyond_the_limit_is_refused_from_the_header(local_stack):
    bomb = flac_declaring(60, 384_000, 8)
    assert len(bomb) < 300_000
    response = requests.post(f"{local_stack.api_url}/v1/file_convert", headers=local_stack.headers(),
                             files={"audio_file": ("bomb.flac", bomb, "audio/flac")},
                             data={"target_format": "wav"}, timeout=60)
    assert response.status_code in (400, 413), response.text[:300]
    assert "sample rate" in envelope(response)["error"].lower()


def test_finding_3_a_conversion_whose_output_would_be_too_large_is_refused_at_submit(local_stack):
    declared_hour = flac_declaring(3600, 48_000, 8)
    response = requests.post(f"{local_stack.api_url}/v1/file_convert", headers=local_stack.headers(),
                             files={"audio_file": ("long.flac", declared_hour, "audio/flac")},
                             data={"target_format": "wav", "target_sr": "192000", "target_bit_depth": "32"},
                             timeout=60)
    assert response.status_code == 413, response.text[:300]
    assert "MB" in envelope(response)["error"]


# ------------------------------------------------------------------------ finding 4: Idempotency-Key


def test_finding_4_concurrent_submissions_with_one_idempotency_key_make_one_task(local_stack):
    key = f"idem-{uuid.uuid4()}"
    body = {"audio_url": "http://127.0.0.1:9/never-fetched.wav", "sonify_midi": "False"}

    def submit(_):
        return requests.post(f"{local_stack.api_url}/v1/audio_to_midi", timeout=60, data=body,
                             headers=local_stack.headers(**{"Idempotency-Key": key}))

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(submit, range(40)))
    succeeded = [a for a in answers if a.status_code == 200]
    assert succeeded, [a.text for a in answers[:3]]
    assert {a.json()["task_id"] for a in succeeded} == {succeeded[0].json()["task_id"]}
    # Requests that raced the first one may be told to retry, never given a second task.
    assert all(a.status_code in (200, 409) for a in answers), {a.status_code for a in answers}
    later = submit(None)
    assert later.status_code == 200 and later.json()["task_id"] == succeeded[0].json()["task_id"]


def test_finding_4_the_same_key_with_another_body_is_a_clear_conflict(local_stack):
    key = f"idem-{uuid.uuid4()}"
    headers = local_stack.headers(**{"Idempotency-Key": key})
    first = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=headers, timeout=30,
                          json={"audio_url": "http://127.0.0.1:9/a.wav"})
    assert first.status_code == 200, first.text
    second = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=headers, timeout=30,
                           json={"audio_url": "http://127.0.0.1:9/b.wav"})
    assert second.status_code in (409, 422), second.text
    assert "Idempotency-Key" in envelope(second)["error"]


# -------------------------------------------------------------------- finding 5: signed links and keys


def _webhook_links(local_stack, webhook_receiver, api_key: str) -> dict:
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers={"Authorization": api_key},
                             files={"audio_file": ("linked.wav", wav_bytes(), "audio/wav")},
                             data={"webhook_url": webhook_receiver.url}, timeout=60)
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    return webhook_receiver.wait_for(lambda d: (d["json"] or {}).get("task_id") == task_id, timeout=120)["json"]


def test_finding_5_a_disabled_keys_links_stop_working(local_stack, webhook_receiver):
    key = second_key(local_stack)
    link = _webhook_links(local_stack, webhook_receiver, key["key"])["midi_file_path"]
    assert requests.get(link, allow_redirects=False, timeout=30).status_code == 302
    subprocess.run(
        [str(MIDISCRIBE), "keys", "disable", key["key_id"], "--endpoint-url", local_stack.aws_endpoint_url],
        env=clean_environment(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                              AWS_DEFAULT_REGION="us-east-1"),
        capture_output=True, text=True, timeout=60, check=True,
    )
    after = requests.get(link, allow_redirects=False, timeout=30)
    assert after.status_code in (403, 404), after.status_code
    envelope(after)


def test_finding_5_a_link_does_not_tell_whether_a_task_exists(local_stack, webhook_receiver):
    link = _webhook_links(local_stack, webhook_receiver, local_stack.api_key)["midi_file_path"]
    task_id = link.split("/v1/files/")[1].split("/")[0]
    tampered = link.replace("signature=", "signature=0")
    unknown = link.replace(task_id, str(uuid.uuid4())).replace("signature=", "signature=0")
    first, second = (requests.get(url, allow_redirects=False, timeout=30) for url in (tampered, unknown))
    assert (first.status_code, envelope(first)) == (second.status_code, envelope(second))


# ------------------------------------------------------------------- finding 6: statuses and envelopes


def test_finding_6_a_wrong_method_is_405_with_allow(local_stack):
    response = requests.delete(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(), timeout=30)
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")
    envelope(response)


def test_finding_6_head_on_health_answers_like_get_without_a_body(local_stack):
    response = requests.head(f"{local_stack.api_url}/health", timeout=30)
    assert response.status_code == 200 and response.content == b""


def test_finding_6_an_unknown_route_is_404_whether_or_not_a_key_is_sent(local_stack):
    without = requests.get(f"{local_stack.api_url}/v1/no-such-route", timeout=30)
    with_key = requests.get(f"{local_stack.api_url}/v1/no-such-route", headers=local_stack.headers(), timeout=30)
    assert without.status_code == with_key.status_code == 404
    assert envelope(without)["code"] == envelope(with_key)["code"]


def test_finding_6_trace_gets_the_envelope(local_stack):
    response = requests.request("TRACE", f"{local_stack.api_url}/health", timeout=30)
    assert response.status_code in (405, 501)
    envelope(response)


def test_finding_6_too_many_headers_get_431_in_the_envelope(local_stack):
    port = int(local_stack.api_url.rsplit(":", 1)[1])
    request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"X-{i}: {i}\r\n" for i in range(150)) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request.encode())
        reply = _read_reply(connection)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"application/json" in head
    assert json.loads(body)["success"] is False


def _read_reply(connection: socket.socket, timeout: float = 30) -> bytes:
    connection.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
        head, separator, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        if separator and length and len(body) >= int(length.group(1)):
            break
    return data


# -------------------------------------------------------------------- finding 7: silently accepted input


def test_finding_7_two_audio_file_parts_are_refused(local_stack):
    files = [("audio_file", ("a.wav", wav_bytes(), "audio/wav")), ("audio_file", ("b.wav", wav_bytes(), "audio/wav"))]
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             files=files, timeout=60)
    assert response.status_code == 400, response.text[:300]
    assert "audio_file" in envelope(response)["error"]


def test_finding_7_a_boolean_is_not_a_number(local_stack):
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(), timeout=30,
                             json={"audio_url": "http://127.0.0.1:9/a.wav", "onset_threshold": True})
    assert response.status_code == 400, response.text[:300]
    assert "onset_threshold" in envelope(response)["error"]


# ------------------------------------------------------------ finding 8: messages in our words, not libraries'


@pytest.mark.parametrize(
    ("name", "content"),
    [("noise.mp3", bytes(np.random.default_rng(8).integers(0, 256, 50_000, dtype=np.uint8))),
     ("huge-rate.wav", wav_with_sample_rate(4_000_000_000))],
)
@pytest.mark.parametrize("route", ["/v1/audio_to_midi", "/v1/file_convert"])
def test_finding_8_undecodable_audio_is_described_without_library_text(local_stack, name, content, route):
    response = requests.post(f"{local_stack.api_url}{route}", headers=local_stack.headers(), timeout=60,
                             files={"audio_file": (name, content, "application/octet-stream")})
    if response.status_code == 200:
        message = _wait_for_error(local_stack, response.json()["task_id"], route)
    else:
        message = envelope(response)["error"]
    assert message, response.text
    assert not [word for word in LIBRARY_WORDS if word.lower() in message.lower()], message


def _wait_for_error(local_stack, task_id: str, route: str) -> str:
    kind = "FILE_CONVERT" if route == "/v1/file_convert" else "AUDIO_TO_MIDI"
    for _ in range(400):
        conversion = requests.get(f"{local_stack.api_url}/v1/byId", headers=local_stack.headers(), timeout=30,
                                  params={"conversionType": kind, "task_id": task_id}).json()["conversion"]
        if conversion["status"] in ("COMPLETED", "FAILED"):
            return conversion.get("error") or ""
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} did not finish")


# --------------------------------------------------------------------------- finding 9: late failures


def test_finding_9_a_1_hz_wav_is_refused_at_submit(local_stack):
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(), timeout=60,
                             files={"audio_file": ("slow.wav", wav_with_sample_rate(1), "audio/wav")})
    assert response.status_code == 400, response.text[:300]
    assert "sample rate" in envelope(response)["error"].lower()


def test_finding_9_audio_over_the_duration_limit_is_refused_at_submit(local_stack):
    two_hours = flac_declaring(7200, 22050, 1)
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(), timeout=60,
                             files={"audio_file": ("long.flac", two_hours, "audio/flac")})
    assert response.status_code == 413, response.text[:300]
    assert envelope(response)["code"] == "AUDIO_TOO_LONG"


def test_finding_9_an_error_about_many_unknown_fields_stays_small(local_stack):
    fields = {f"unknown_field_{i:07d}": "x" for i in range(400_000)}
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                             json={"audio_url": "http://127.0.0.1:9/a.wav", **fields}, timeout=120)
    assert response.status_code in (400, 413), response.text[:300]
    assert len(response.content) <= MAX_ERROR_BODY_BYTES, len(response.content)
    envelope(response)


# ---------------------------------------------------------------- finding 10: the local server's body reader


def _raw_post(local_stack, head_and_body: bytes, timeout: float = 30) -> bytes:
    port = int(local_stack.api_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(head_and_body)
        return _read_reply(connection, timeout)


def _chunked_head(local_stack) -> bytes:
    return (f"POST /v1/audio_to_midi HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {local_stack.api_key}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()


@pytest.mark.parametrize(("size_line", "status"), [(b"zz", b"400"), (b"%x" % (1 << 62), b"413")])
def test_finding_10_a_bad_or_huge_chunk_size_gets_an_answer(local_stack, size_line, status):
    reply = _raw_post(local_stack, _chunked_head(local_stack) + size_line + b"\r\n{}\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 " + status), reply[:200]
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["success"] is False


def test_finding_10_a_chunk_over_the_limit_is_refused_before_it_is_read(local_stack):
    # Only the chunk's size line is sent: the server must answer from it, not wait for 11 MB.
    reply = _raw_post(local_stack, _chunked_head(local_stack) + b"%x\r\n" % (11 * 1024 * 1024), timeout=20)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


# ------------------------------------------------------ security review: the local stack's own AWS endpoint


@pytest.mark.parametrize("field", ["webhook_url", "audio_url"])
def test_review_a_url_to_the_stacks_own_moto_is_refused(local_stack, field):
    """The stack allows loopback URLs, and moto answers anyone on loopback: a webhook to /moto-api/reset wiped
    every key, task, queue and object of the stack (every later request was a 500)."""
    port = local_stack.aws_endpoint_url.rsplit(":", 1)[1].strip("/")
    fields = {"audio_url": "http://127.0.0.1:9/a.wav", field: f"http://localhost:{port}/moto-api/reset"}
    response = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(), json=fields,
                             timeout=30)
    assert response.status_code == 400, response.text
    body = envelope(response)
    assert "AWS endpoint this deployment itself uses" in body["error"] and port in body["error"]
    assert requests.get(f"{local_stack.api_url}/v1/tasks", headers=local_stack.headers(), timeout=30).status_code == 200
