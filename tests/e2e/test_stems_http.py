"""Stems over real HTTP against `midiscribe serve`: multipart and JSON stems, the multi-track MIDI read back,
kie.ai's midi/generate on them (callback and record-info against kie.ai's documented shape), and refusals."""

from __future__ import annotations

import csv
import io
import json
import secrets
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mido
import pytest
import requests
import soundfile
from conftest import SAMPLE_RATE, tone_sequence
from e2e_stack import ServedStack, clean_environment, free_port, start_serve, stop_serve, wait_for_banner
from kie_schema import CALLBACK, GENERATE_ANSWER, RECORD_INFO, validate

from midiscribe.client import MidiscribeClient

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from drum_audio import RATE as DRUM_RATE  # noqa: E402
from drum_audio import render, rock_beat  # noqa: E402

pytestmark = pytest.mark.e2e

BASS_LINE = [(40, 0.5), (43, 0.5), (45, 0.5), (47, 0.75)]
SUBMIT = "/v1/audio_to_midi"


@pytest.fixture(scope="module")
def stems(tmp_path_factory) -> dict[str, Path]:
    """Three stems of one short song, of different rates and formats: drums, a bass line, a melody."""
    folder = tmp_path_factory.mktemp("stems")
    hits = rock_beat(bars=1)
    soundfile.write(folder / "drums.wav", render(hits, hits[-1].start_s + 0.8), DRUM_RATE, subtype="PCM_16")
    soundfile.write(folder / "bass.wav", tone_sequence(BASS_LINE), SAMPLE_RATE, subtype="PCM_16")
    soundfile.write(folder / "lead.flac", tone_sequence(), SAMPLE_RATE)
    return {path.stem: path for path in folder.iterdir()}


@pytest.fixture(scope="module")
def file_server(stems):
    """The stems over HTTP on 127.0.0.1 (the local stack allows loopback audio_url)."""

    class Files(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            path = next((p for p in stems.values() if p.name == self.path.rsplit("/", 1)[-1]), None)
            data = path.read_bytes() if path else b""
            self.send_response(200 if path else 404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def queued(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


def download(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text[:200]
    return response.content


def track_summary(midi: mido.MidiFile) -> list[tuple[str, set[int], set[int]]]:
    """(name, channels of its notes, programs) of each track that has notes."""
    summary = []
    for track in midi.tracks:
        channels = {m.channel for m in track if m.type == "note_on" and m.velocity > 0}
        if channels:
            name = next((m.name for m in track if m.type == "track_name"), "")
            summary.append((name, channels, {m.program for m in track if m.type == "program_change"}))
    return summary


def test_multipart_stems_make_one_named_track_each_with_drums_on_channel_10(local_stack, stems, webhook_receiver):
    files = {f"stem.{name}": (path.name, path.read_bytes()) for name, path in stems.items()}
    response = requests.post(f"{local_stack.api_url}{SUBMIT}", headers=local_stack.headers(), files=files,
                             data={"stem.lead.instrument": "winds", "sonify_midi": "True"})
    conversion = local_stack.wait_for(queued(response))
    assert conversion["status"] == "COMPLETED", conversion
    midi = mido.MidiFile(file=io.BytesIO(download(conversion["midi_file_path"])))
    assert midi.type == 1
    tracks = {name: (channels, programs) for name, channels, programs in track_summary(midi)}
    assert set(tracks) == {"drums", "bass", "lead"}
    assert tracks["drums"][0] == {9}
    assert tracks["bass"][1] == {33} and 9 not in tracks["bass"][0]  # Electric Bass (finger)
    assert tracks["lead"][1] == {73} and 9 not in tracks["lead"][0]  # Flute: the winds family
    rows = list(csv.DictReader(io.StringIO(download(conversion["notes_file_path"]).decode())))
    assert {row["instrument"] for row in rows} == {"drums", "bass", "lead"}
    document = json.loads(download(conversion["notes_json_path"]))
    assert sorted(i["name"] for i in document["instruments"]) == ["Drums", "Electric Bass (finger)", "Flute"]
    audio, rate = soundfile.read(io.BytesIO(download(conversion["sonify_file_path"])))
    assert rate > 0 and len(audio) > 2 * rate

    # kie.ai: seed 003's request as written (Bearer key, JSON body), but for the base URL, the key and a real
    # taskId and callback; the answer, callback and record-info validated against kie.ai's documented shape.
    callback = f"{webhook_receiver.url}?kie={uuid.uuid4()}"
    answer = requests.post(f"{local_stack.api_url}/api/v1/midi/generate",
                           headers={"Authorization": f"Bearer {local_stack.api_key}",
                                    "Content-Type": "application/json"},
                           json={"taskId": conversion["task_id"], "callBackUrl": callback})
    assert answer.status_code == 200, answer.text
    validate(answer.json(), GENERATE_ANSWER)
    generate_id = answer.json()["data"]["taskId"]
    delivery = webhook_receiver.wait_for(lambda d: d["json"].get("task_id") == generate_id, timeout=120)
    validate(delivery["json"], CALLBACK)
    instruments = delivery["json"]["data"]["instruments"]
    assert sorted(i["name"] for i in instruments) == ["Drums", "Electric Bass (finger)", "Flute"]
    assert all(0 < note["velocity"] <= 1 for i in instruments for note in i["notes"])
    drums = next(i for i in instruments if i["name"] == "Drums")
    assert {note["pitch"] for note in drums["notes"]} & {35, 36, 38, 40, 42, 44, 46}
    record = requests.get(f"{local_stack.api_url}/api/v1/midi/record-info", params={"taskId": generate_id},
                          headers={"Authorization": f"Bearer {local_stack.api_key}"}).json()
    validate(record, RECORD_INFO)
    assert record["data"]["successFlag"] == 1 and record["data"]["midiData"]["instruments"] == instruments


def test_json_stems_from_an_upload_and_a_loopback_url(local_stack, stems, file_server):
    audio_path = MidiscribeClient(local_stack.api_url, local_stack.api_key).upload(stems["bass"])
    body = {"stems": [{"name": "low", "audio_path": audio_path, "instrument": "bass"},
                      {"name": "tune", "audio_url": f"{file_server}/lead.flac"}],
            "save_note_events": True}
    conversion = local_stack.wait_for(queued(requests.post(f"{local_stack.api_url}{SUBMIT}",
                                                           headers=local_stack.headers(), json=body)))
    assert conversion["status"] == "COMPLETED", conversion
    midi = mido.MidiFile(file=io.BytesIO(download(conversion["midi_file_path"])))
    summary = track_summary(midi)
    assert [name for name, _, _ in summary] == ["low", "tune"]
    assert summary[0][2] == {33} and summary[1][2] == {4}  # bass; "tune" says nothing: auto (Electric Piano 1)
    notes = {row["instrument"]: int(row["pitch_midi"])
             for row in csv.DictReader(io.StringIO(download(conversion["notes_file_path"]).decode()))}
    assert set(notes) == {"low", "tune"}


def test_a_single_piano_task_is_one_kie_instrument_named_acoustic_grand_piano(local_stack, tone_wav,
                                                                              webhook_receiver):
    response = requests.post(f"{local_stack.api_url}{SUBMIT}", headers=local_stack.headers(),
                             files={"audio_file": tone_wav.open("rb")}, data={"instrument": "piano"})
    task_id = queued(response)
    assert local_stack.wait_for(task_id)["status"] == "COMPLETED"
    answer = requests.post(f"{local_stack.api_url}/api/v1/midi/generate",
                           headers={"Authorization": f"Bearer {local_stack.api_key}"},
                           json={"taskId": task_id, "callBackUrl": f"{webhook_receiver.url}?kie={uuid.uuid4()}"})
    generate_id = answer.json()["data"]["taskId"]
    delivery = webhook_receiver.wait_for(lambda d: d["json"].get("task_id") == generate_id, timeout=120)
    validate(delivery["json"], CALLBACK)
    assert [i["name"] for i in delivery["json"]["data"]["instruments"]] == ["Acoustic Grand Piano"]


def refusal(local_stack, **request) -> tuple[int, dict]:
    response = requests.post(f"{local_stack.api_url}{SUBMIT}", headers=local_stack.headers(), timeout=30, **request)
    body = response.json()
    assert body["success"] is False and body["error"], body
    return response.status_code, body


def test_stem_requests_that_cannot_work_are_refused_with_what_to_change(local_stack, stems):
    wav = stems["bass"].read_bytes()
    url = "http://127.0.0.1:9/a.wav"
    status, body = refusal(local_stack, json={"stems": [{"name": "bass", "audio_url": url},
                                                        {"name": "Bass", "audio_url": url}]})
    assert (status, body["code"]) == (400, "DUPLICATE_STEM") and "own name" in body["error"]
    status, body = refusal(local_stack, files={"audio_file": ("a.wav", wav), "stem.bass": ("b.wav", wav)})
    assert (status, body["code"]) == (400, "AMBIGUOUS_AUDIO_SOURCE") and "not both" in body["error"]
    status, body = refusal(local_stack, files={"stem.bass guitar": ("b.wav", wav)})
    assert (status, body["code"]) == (400, "INVALID_STEM_NAME") and "letters, digits" in body["error"]
    status, body = refusal(local_stack, json={"stems": [{"name": "../up", "audio_url": url}]})
    assert (status, body["code"]) == (400, "INVALID_STEM_NAME")
    status, body = refusal(local_stack, json={"stems": [{"name": f"s{i}", "audio_url": url} for i in range(9)]})
    assert (status, body["code"]) == (400, "TOO_MANY_STEMS") and "at most 8" in body["error"]
    status, body = refusal(local_stack, files={**{f"stem.s{i}": ("s.wav", wav) for i in range(9)}})
    assert (status, body["code"]) == (400, "TOO_MANY_STEMS")
    status, body = refusal(local_stack, json={"stems": [{"name": "bass"}]})
    assert (status, body["code"]) == (400, "INVALID_STEMS") and "audio_url or audio_path" in body["error"]
    # Someone else's upload answers exactly like a missing object, and names the stem.
    other_key = f"uploads/key_someone_else/{uuid.uuid4()}/bass.wav"
    local_stack.s3().put_object(Bucket=local_stack.bucket, Key=other_key, Body=wav)
    status, body = refusal(local_stack, json={"stems": [
        {"name": "drums", "audio_url": url}, {"name": "bass", "audio_path": f"s3://{local_stack.bucket}/{other_key}"}]})
    assert (status, body["code"]) == (404, "AUDIO_NOT_FOUND") and body["error"].startswith("Stem 'bass':")


def test_stems_that_would_not_fit_in_the_workers_scratch_space_are_refused_at_submit(tmp_path):
    """A stack with 66 MB of worker scratch and a 10-second limit (64.8 MB kept for the outputs): three uploaded
    stems of 0.5 MB are refused at once with what to do; two of them are transcribed."""
    api_key = "msk_scratch_" + secrets.token_urlsafe(16)
    environment = clean_environment(MIDISCRIBE_DEV_API_KEY=api_key, MIDISCRIBE_WORKER_SCRATCH_MB="66",
                                    MIDISCRIBE_MAX_DURATION_S="10", PYTHONUNBUFFERED="1")
    port = free_port()
    process, output = start_serve(port, environment, "--workers", "1")
    try:
        banner = wait_for_banner(process, output)
        stack = ServedStack(api_url=banner["api_url"], api_key=api_key, webhook_secret="",
                            aws_endpoint_url=banner["endpoint"], bucket=banner["bucket"], process=process,
                            output=output, port=port)
        client = MidiscribeClient(stack.api_url, api_key)
        paths = {}
        for index, name in enumerate(("bass", "keys", "lead")):
            wav = tmp_path / f"{name}.wav"  # 6 s of mono 16-bit 44.1 kHz: 529 kB
            soundfile.write(wav, tone_sequence([(45 + 12 * index, 5.75)], 44100), 44100, subtype="PCM_16")
            paths[name] = client.upload(wav)
        stems = [{"name": name, "audio_path": path} for name, path in paths.items()]
        status, body = refusal(stack, json={"stems": stems})
        assert (status, body["code"]) == (413, "FILE_TOO_LARGE")
        assert body["error"].startswith("The 3 stems add up to 1.5 MB, more than fits in the worker's scratch space")
        assert "leaves 1.2 MB for the audio" in body["error"] and "WorkerScratchMB (now 66;" in body["error"]
        response = requests.post(f"{stack.api_url}{SUBMIT}", headers=stack.headers(), json={"stems": stems[:2]},
                                 timeout=60)
        assert response.status_code == 200, response.text
        assert stack.wait_for(response.json()["task_id"])["status"] == "COMPLETED"
    finally:
        assert stop_serve(process) == 0, output.tail()
