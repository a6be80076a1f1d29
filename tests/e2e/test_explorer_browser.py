"""The explorer page in a real browser (Debian's Chromium, headless, driven by Playwright) on the local stack.

Each test opens the page the stack serves, pastes the development key and works as a user would. Every
test also checks that the page broke no rule of its Content-Security-Policy, raised no script error,
requested nothing beyond the stack's own loopback addresses, and never sent the key to the bucket.
"""

from __future__ import annotations

import json
import os

import pytest
import requests
from browser import CHROMIUM, INSTALL, launch
from synthetic_notes import hour_of_notes

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 90_000
ROLL = "[data-testid=piano-roll]"
READY_ROLL = f"{ROLL}[data-state=ready]"
FILE_INPUT = "[data-testid=file-input]"
SUBMIT = "[data-testid=submit]"
NOTES_FILE = "[data-testid=notes-file]"
ERROR = "[data-testid=error]"
PLAYHEAD = "[data-testid=playhead]"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = (f"Chromium is not at {CHROMIUM}: install it with `{INSTALL}`" if not CHROMIUM.exists()
               else "Playwright is not installed: `make install` installs the dev extra" if sync_playwright is None
               else "")
    if missing:
        # CI installs both (.ci/run), so there a missing browser is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, local_stack):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    bucket_requests = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text or message.type == "error" else None)

    def check_request(request):
        url = request.url
        if url.startswith(local_stack.aws_endpoint_url):
            bucket_requests.append(request)
        elif not url.startswith((local_stack.api_url, "blob:", "data:")):
            problems.append(f"request beyond the stack: {url}")

    page.on("request", check_request)
    yield page
    leaked = [request.url for request in bucket_requests if "authorization" in request.all_headers()]
    context.close()
    assert not leaked, f"the API key went to the bucket: {leaked}"
    assert not problems, "\n".join(problems)


def open_explorer(page, stack, *, key: bool = True) -> None:
    page.goto(stack.api_url + "/")
    page.wait_for_selector("body[data-ready=true]")
    if key:
        page.fill("[data-testid=api-key]", stack.api_key)
        page.get_by_role("button", name="Save key").click()


def notes_of(conversion: dict) -> list[dict]:
    document = requests.get(conversion["notes_json_path"], timeout=30).json()
    return sorted((note for instrument in document["instruments"] for note in instrument["notes"]),
                  key=lambda note: (note["start"], note["pitch"]))


def playhead_time(page) -> float:
    return float(page.get_attribute(PLAYHEAD, "data-time"))


def test_an_upload_draws_every_note_plays_under_a_moving_playhead_and_sounds_a_clicked_note(
    page, local_stack, tone_wav
) -> None:
    open_explorer(page, local_stack)
    page.set_input_files(FILE_INPUT, tone_wav)
    page.click(SUBMIT)
    roll = page.locator(READY_ROLL)
    roll.wait_for(timeout=WAIT_MS)
    task_id = page.get_attribute("#result", "data-task-id")
    conversion = local_stack.by_id(task_id)
    assert conversion["status"] == "COMPLETED" and conversion["note_count"] > 0
    assert int(roll.get_attribute("data-note-count")) == conversion["note_count"]
    assert int(roll.get_attribute("data-drawn-count")) == conversion["note_count"]  # a short clip fits in view
    links = page.eval_on_selector_all("[data-testid=downloads] a", "links => links.map(link => link.dataset.field)")
    assert set(links) == {"midi_file_path", "sonify_file_path", "notes_file_path", "notes_json_path", "input_file_path"}
    assert page.get_attribute("[data-testid=original-audio]", "src").startswith("blob:")

    page.focus(ROLL)
    page.keyboard.press(" ")  # plays the sonified WAV
    page.wait_for_function(f"() => Number(document.querySelector('{PLAYHEAD}').dataset.time) > 0.2", timeout=20_000)
    first = playhead_time(page)
    page.wait_for_function(f"() => Number(document.querySelector('{PLAYHEAD}').dataset.time) > {first + 0.2}",
                           timeout=20_000)
    assert page.evaluate("() => !document.querySelector('[data-testid=sonified-audio]').paused")
    page.keyboard.press(" ")

    earliest = notes_of(conversion)[0]
    box = page.evaluate("async () => (await import('./explorer/app.js')).roll.noteBox(0)")
    frame = roll.bounding_box()
    page.mouse.click(frame["x"] + box["x"] + min(box["width"] / 2, 4), frame["y"] + box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.querySelector('[data-testid=note-info]').textContent !== ''")
    assert f"MIDI {earliest['pitch']}" in page.inner_text("[data-testid=note-info]")


def test_a_task_from_the_recent_list_reopens_with_its_original_audio(page, local_stack, tone_wav) -> None:
    with open(tone_wav, "rb") as audio:
        queued = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                               files={"audio_file": ("reopened.wav", audio)}, timeout=30).json()
    conversion = local_stack.wait_for(queued["task_id"])
    open_explorer(page, local_stack)
    entry = page.locator(f"[data-testid=task-list] button[data-task-id='{queued['task_id']}']")
    assert "reopened.wav" in entry.inner_text()
    entry.click()
    page.locator(f"#result[data-task-id='{queued['task_id']}'] {READY_ROLL}").wait_for(timeout=WAIT_MS)
    assert int(page.get_attribute(ROLL, "data-note-count")) == conversion["note_count"]
    assert page.get_attribute("[data-testid=original-audio]", "src").startswith(local_stack.aws_endpoint_url)
    assert "reopened.wav" in page.inner_text("[data-testid=result-summary]")


def test_a_text_file_ends_in_the_tasks_failure_message(page, local_stack, tmp_path) -> None:
    text = tmp_path / "lyrics.txt"
    text.write_text("la la la, this is not audio\n" * 40, encoding="utf-8")
    open_explorer(page, local_stack)
    page.set_input_files(FILE_INPUT, text)
    page.click(SUBMIT)
    error = page.locator(ERROR)
    error.wait_for(state="visible", timeout=WAIT_MS)
    task_id = page.get_attribute("#result", "data-task-id")
    conversion = local_stack.by_id(task_id)
    assert conversion["status"] == "FAILED" and conversion["error"]
    assert conversion["error"] in error.inner_text() and conversion["error_code"] in error.inner_text()
    assert page.get_attribute(ROLL, "data-state") == "empty"


def test_submitting_without_a_key_or_a_file_says_what_is_missing(page, local_stack, tone_wav) -> None:
    open_explorer(page, local_stack, key=False)
    page.click(SUBMIT)
    assert "audio file" in page.locator(ERROR).inner_text()
    page.set_input_files(FILE_INPUT, tone_wav)
    page.click(SUBMIT)
    page.wait_for_function("() => document.querySelector('[data-testid=error]').textContent.includes('API key')")


def test_an_hour_of_notes_opens_and_draws_only_what_is_in_view(page, local_stack, tmp_path) -> None:
    path = tmp_path / "hour.json"
    path.write_text(json.dumps(hour_of_notes()), encoding="utf-8")
    open_explorer(page, local_stack, key=False)
    page.set_input_files(NOTES_FILE, path)
    roll = page.locator(READY_ROLL)
    roll.wait_for(timeout=WAIT_MS)
    assert roll.get_attribute("data-note-count") == "50000"
    page.wait_for_function(f"() => document.querySelector('{ROLL}').dataset.drawnCount > 0")
    opening = int(roll.get_attribute("data-drawn-count"))
    assert 0 < opening < 1_000  # about half a minute of an hour
    legend = page.inner_text("#legend")
    assert "Acoustic Grand Piano" in legend and "Electric Bass" in legend and "Pedals" in legend
    assert page.is_visible("#pedals")

    page.focus(ROLL)
    page.keyboard.press("0")  # fit the hour: every note in view, drawn as it is
    page.wait_for_function(f"() => document.querySelector('{ROLL}').dataset.drawnCount === '50000'")
    page.keyboard.press("+")
    page.keyboard.press("End")
    page.wait_for_function(f"() => Number(document.querySelector('{ROLL}').dataset.drawnCount) < 50000")
    assert page.evaluate("() => 1 + 1") == 2  # the tab still answers
