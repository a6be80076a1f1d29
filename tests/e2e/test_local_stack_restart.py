"""--data-dir: a task finished before Ctrl-C is still there, with working links, after a restart."""

from __future__ import annotations

import base64
import secrets

import pytest
import requests
from e2e_stack import ServedStack, clean_environment, free_port, start_serve, stop_serve, wait_for_banner

pytestmark = pytest.mark.e2e


def start(port, aws_port, data_dir, api_key, secret):
    environment = clean_environment(MIDISCRIBE_DEV_API_KEY=api_key, MIDISCRIBE_DEV_WEBHOOK_SECRET=secret,
                                    PYTHONUNBUFFERED="1")
    port_option = ("--aws-port", str(aws_port)) if aws_port else ()
    process, output = start_serve(port, environment, "--workers", "1", "--data-dir", str(data_dir), *port_option)
    banner = wait_for_banner(process, output)
    return ServedStack(api_url=banner["api_url"], api_key=api_key, webhook_secret=secret,
                      aws_endpoint_url=banner["endpoint"], bucket=banner["bucket"], process=process,
                      output=output, port=port)


def test_state_survives_a_restart(tmp_path, tone_wav):
    data_dir = tmp_path / "data"
    port, aws_port = free_port(), free_port()
    api_key = "msk_restart_" + secrets.token_urlsafe(16)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()

    first = start(port, aws_port, data_dir, api_key, secret)
    try:
        with open(tone_wav, "rb") as f:
            response = requests.post(f"{first.api_url}/v1/audio_to_midi", headers=first.headers(),
                                     files={"audio_file": f}, timeout=60)
        task_id = response.json()["task_id"]
        before = first.wait_for(task_id)
        assert before["status"] == "COMPLETED"
    finally:
        assert stop_serve(first.process) == 0, first.output.tail()
    first.output.join()
    assert "saved" in first.output.text()

    # Without --aws-port, as `make run DATA_DIR=…` starts it: the data dir's port is taken again.
    second = start(port, None, data_dir, api_key, secret)
    try:
        assert "loaded" in second.output.text()
        assert second.aws_endpoint_url == first.aws_endpoint_url
        after = second.wait_for(task_id, timeout=10)
        assert after["status"] == "COMPLETED" and after["note_count"] == before["note_count"]
        # The moto port is the same, so a link handed out before the restart still downloads (it pointed at a
        # new free port each start unless --aws-port was given, which `make run` does not).
        old_link = requests.get(before["midi_file_path"], timeout=30)
        assert old_link.status_code == 200 and old_link.content.startswith(b"MThd")
    finally:
        assert stop_serve(second.process) == 0, second.output.tail()
