"""``midiscribe.client.MidiscribeClient``'s requests, with the HTTP call replaced by a recorder."""

from __future__ import annotations

import json

import pytest

from midiscribe.client import MidiscribeClient


@pytest.fixture
def sent(monkeypatch):
    requests = []

    def record(self, method, path, body=None, content_type=None):
        requests.append((method, path, content_type, body))
        return {"task_id": "t"}

    monkeypatch.setattr(MidiscribeClient, "_request", record)
    return requests


@pytest.mark.parametrize(("method", "source"), [("submit_url", {"audio_url": "http://127.0.0.1:9/take.wav"}),
                                                ("submit_path", {"audio_path": "uploads/take.wav"})])
def test_every_option_given_reaches_the_api(sent, method, source):
    """submit_url and submit_path kept only the arguments they knew and dropped the rest unseen: quantize and
    score asked for nothing, and a mistyped webhook_url meant no webhook. Everything now goes to the API,
    which refuses a name it does not know (400 UNKNOWN_FIELD)."""
    client = MidiscribeClient("http://127.0.0.1:9", "msk_test")
    getattr(client, method)(*source.values(), quantize="1/16", score=True, webhok_url="http://127.0.0.1:9/hook",
                            options={"model": "piano"}, sonify_midi=False)
    (verb, path, content_type, body), = sent
    assert (verb, path, content_type) == ("POST", "/v1/audio_to_midi", "application/json")
    assert json.loads(body) == {**source, "sonify_midi": False, "save_note_events": True, "model": "piano",
                                "quantize": "1/16", "score": True, "webhok_url": "http://127.0.0.1:9/hook"}


def test_a_file_takes_options_as_keyword_arguments_too(sent, tmp_path):
    take = tmp_path / "take.wav"
    take.write_bytes(b"RIFF")
    client = MidiscribeClient("http://127.0.0.1:9", "msk_test")
    client.submit_file(take, quantize="1/8", webhook_url="http://127.0.0.1:9/h")
    (_, _, content_type, body), = sent
    assert content_type.startswith("multipart/form-data")
    for field, value in (("quantize", b"1/8"), ("webhook_url", b"http://127.0.0.1:9/h"), ("sonify_midi", b"true")):
        assert f'name="{field}"'.encode() in body and value in body
