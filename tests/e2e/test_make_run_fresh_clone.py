"""`make run` from a fresh clone: what a newcomer does first, on a machine with only Python and make.

The clone is of the committed state (`git clone` of this repository), so the test proves that what
is committed is enough. It builds the clone's own .venv through the Makefile, as a newcomer would;
the model comes from the user's cache (~/.cache/midiscribe), which `make run` verifies by SHA-256
instead of downloading it again. Set MIDISCRIBE_WHEELHOUSE to a directory of wheels
(`pip download -d DIR --no-deps -r requirements.lock` once) to build the venv offline from it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import requests
from e2e_stack import REPOSITORY, OutputLog, clean_environment, free_port, wait_for_banner

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Creating the venv downloads the dependencies unless a wheelhouse is given; allow for a slow index.
INSTALL_AND_START_TIMEOUT_S = 1200


@pytest.mark.timeout(INSTALL_AND_START_TIMEOUT_S + 120)
def test_make_run_works_from_a_fresh_clone(tmp_path):
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.fail("this test needs git and make on PATH")
    clone = tmp_path / "midiscribe"
    subprocess.run(["git", "clone", "--quiet", str(REPOSITORY), str(clone)], check=True, timeout=120)
    assert not (clone / ".venv").exists()

    port = free_port()
    environment = clean_environment(PORT=str(port), PYTHONUNBUFFERED="1")
    environment.pop("VIRTUAL_ENV", None)
    wheelhouse = os.environ.get("MIDISCRIBE_WHEELHOUSE")
    if wheelhouse:
        environment.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=wheelhouse)
    started = time.monotonic()
    # Its own session, so Ctrl-C can go to make and the server together, as a terminal sends it.
    process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = OutputLog(process.stdout)
    try:
        banner = wait_for_banner(process, output, timeout=INSTALL_AND_START_TIMEOUT_S)
        ready_after = time.monotonic() - started
        assert banner["api_url"] == f"http://127.0.0.1:{port}"
        health = requests.get(f"{banner['api_url']}/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        unauthorized = requests.get(f"{banner['api_url']}/v1/byId", params={"task_id": "x"}, timeout=30)
        assert unauthorized.status_code == 401
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"make run did not stop within 60 s of Ctrl-C:\n{output.tail()}") from None
        output.join()
    text = output.text()
    # make itself reports the interrupt; the server must have stopped cleanly before that.
    assert "stopped" in text and "Traceback" not in text, output.tail()
    print(f"make run in a fresh clone: API ready after {ready_after:.0f} s")
