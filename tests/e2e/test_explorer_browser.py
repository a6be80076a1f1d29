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
from synthetic_audio import drum_loop, eighths_over_a_bass, wav_bytes
from synthetic_notes import hour_of_notes

from midiscribe.engine import TranscriptionOptions, transcribe_stems
from midiscribe.engine.instruments import Family
from midiscribe.engine.outputs import transcription_dict
from midiscribe.engine.piano.model import MODEL_NAME as PIANO_MODEL_NAME
from midiscribe.engine.transcription import NoteEvent, PedalEvent, Transcription

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 90_000
ROLL = "[data-testid=piano-roll]"
READY_ROLL = f"{ROLL}[data-state=ready]"
FILE_INPUT = "[data-testid=file-input]"
SUBMIT = "[data-testid=submit]"
NOTES_FILE = "[data-testid=notes-file]"
ERROR = "[data-testid=error]"
PLAYHEAD = "[data-testid=playhead]"
LEGEND = "#legend"
PEDALS = "#pedals"
SUBMIT_PATH = "/v1/audio_to_midi"


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
    assert 50 < int(roll.get_attribute("data-beat-lines")) < 100  # half a minute of beats at 120 BPM

    page.focus(ROLL)
    page.keyboard.press("0")  # fit the hour: every note in view, drawn as it is
    page.wait_for_function(f"() => document.querySelector('{ROLL}').dataset.drawnCount === '50000'")
    page.keyboard.press("+")
    page.keyboard.press("End")
    page.wait_for_function(f"() => Number(document.querySelector('{ROLL}').dataset.drawnCount) < 50000")
    assert page.evaluate("() => 1 + 1") == 2  # the tab still answers
    assert roll.get_attribute("data-beat-lines") == "0"  # half an hour of beats would be a grey wash


# ---------------------------------------------------------------------------- options and newer results


def submit_options(document: dict) -> dict:
    """POST /v1/audio_to_midi's JSON body schema from the OpenAPI document, its anyOf-with-null flattened."""
    schemas = document["components"]["schemas"]
    body = document["paths"][SUBMIT_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = schemas[body["$ref"].rsplit("/", 1)[-1]]
    options = {}
    for name, schema in body["properties"].items():
        kept = [choice for choice in schema.get("anyOf", [schema]) if choice.get("type") != "null"]
        options[name] = {**schema, **kept[0], "optional": len(kept) < len(schema.get("anyOf", [schema]))}
    return options


def write_notes(tmp_path, name: str, transcription: Transcription) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(transcription_dict(transcription)), encoding="utf-8")
    return str(path)


def test_the_form_offers_the_apis_options_and_disables_those_the_chosen_model_ignores(page, local_stack) -> None:
    options = submit_options(requests.get(f"{local_stack.api_url}/openapi.json", timeout=30).json())
    open_explorer(page, local_stack, key=False)
    assert page.is_hidden(ERROR)  # the options were built
    for name in ("model", "instrument", "basic_pitch_compat", "quantize", "score"):
        schema = options[name]
        control = page.locator(f"#option-{name}")
        assert schema["description"] in page.text_content(f"#option-{name}-help"), name
        if "enum" in schema:
            offered = control.evaluate("select => [...select.options].map(option => option.value)")
            assert offered == ([""] if schema["optional"] else []) + schema["enum"], name
            assert control.input_value() == schema.get("default", ""), name
        else:
            assert control.is_checked() is schema["default"], name
    assert len(options["instrument"]["enum"]) > 10 and "drums" in options["instrument"]["enum"]
    # An option that may be left unset starts unset, so the instrument's own value applies.
    assert page.input_value("#option-melodia_trick") == ""

    general_only = sorted(name for name, schema in options.items() if schema.get("x-models") == ["general"])
    assert {"onset_threshold", "include_pitch_bends", "basic_pitch_compat"} <= set(general_only)

    def disabled() -> list[str]:
        return sorted(page.eval_on_selector_all("#option-fields [id^=option-]:disabled",
                                                "inputs => inputs.map(input => input.name)"))

    assert disabled() == []
    for name, value in (("model", "piano"), ("model", ""), ("instrument", "drums"), ("instrument", "piano")):
        page.select_option(f"#option-{name}", value)
        expected = [] if (name, value) == ("model", "") else general_only
        assert disabled() == expected, (name, value)
        if expected:
            assert "Not used" in page.text_content("#option-onset_threshold-unused")
    page.select_option("#option-model", "general")  # instrument=piano with the general model
    assert disabled() == []
    assert page.is_enabled("#option-quantize") and page.is_enabled("#option-score")


def test_quantize_and_score_from_the_form_link_both_files_and_the_roll_draws_the_beats(
    page, local_stack, steady_wav
) -> None:
    open_explorer(page, local_stack)
    page.set_input_files(FILE_INPUT, steady_wav)
    page.select_option("#option-quantize", "1/8")
    page.check("#option-score")
    with page.expect_request(lambda request: request.url.endswith(SUBMIT_PATH)) as submitted:
        page.click(SUBMIT)
    body = submitted.value.post_data_json
    # Only what the user changed (and what the page needs) is sent: unset options stay the API's.
    assert body.pop("audio_path").startswith("s3://")
    assert body == {"quantize": "1/8", "score": True, "save_note_events": True}
    roll = page.locator(READY_ROLL)
    roll.wait_for(timeout=WAIT_MS)
    conversion = local_stack.by_id(page.get_attribute("#result", "data-task-id"))
    assert conversion["quantized_midi_file_path"] and conversion["musicxml_file_path"]

    links = dict(page.eval_on_selector_all("[data-testid=downloads] a",
                                           "links => links.map(link => [link.dataset.field, link.href])"))
    for field in ("quantized_midi_file_path", "musicxml_file_path"):  # presigned again, so compare the objects
        assert links[field].split("?")[0] == conversion[field].split("?")[0], field
    assert requests.get(links["quantized_midi_file_path"], timeout=30).content.startswith(b"MThd")
    assert b"<score-partwise" in requests.get(links["musicxml_file_path"], timeout=30).content

    document = requests.get(conversion["notes_json_path"], timeout=30).json()
    assert document["beats"] and document["options"]["quantize"] == "1/8"
    in_view = [beat for beat in document["beats"] if 0 <= beat <= document["duration_s"]]  # a short clip fits
    assert int(roll.get_attribute("data-beat-lines")) == len(in_view) > 0
    facts = page.inner_text("[data-testid=facts]")
    assert f"{conversion['model']} ({conversion['model_name']})" in facts
    assert f"{round(document['tempo_bpm'])}" in page.inner_text("[data-fact=tempo]")
    assert page.inner_text("[data-fact=time-signature]") == document["time_signature"]
    assert page.inner_text("[data-fact=key]") == document["key"]
    assert "Beats and bars" in page.inner_text(LEGEND)


def test_the_other_count_of_the_tempo_is_one_click_with_the_same_audio_and_options(page, local_stack, tmp_path) -> None:
    """Music countable at two speeds may be read at the one the user does not count: the tempo's ½× and 2×
    buttons transcribe the same upload again with the same options and a tempo_hint there."""
    audio = tmp_path / "ballad.wav"
    audio.write_bytes(wav_bytes(eighths_over_a_bass(), 22_050))
    open_explorer(page, local_stack)
    page.set_input_files(FILE_INPUT, str(audio))
    page.select_option("#option-quantize", "1/8")
    with page.expect_request(lambda request: request.url.endswith(SUBMIT_PATH)) as submitted:
        page.click(SUBMIT)
    upload = submitted.value.post_data_json["audio_path"]
    page.locator(READY_ROLL).wait_for(timeout=WAIT_MS)
    first = local_stack.by_id(page.get_attribute("#result", "data-task-id"))
    tempo = requests.get(first["notes_json_path"], timeout=30).json()["tempo_bpm"]
    assert page.locator("[data-recount]").count() == 2
    other = "half" if tempo > 90 else "double"  # the ballad's other reading: 60 for 120, 120 for 60
    hint = round(tempo * (0.5 if other == "half" else 2), 1)
    resubmitted = []
    page.on("request", lambda request: resubmitted.append(request.post_data_json)
            if request.url.endswith(SUBMIT_PATH) else None)
    page.dblclick(f"[data-recount={other}]")  # one task for a double click
    page.wait_for_function("() => [...document.querySelectorAll('[data-recount]')].every(button => button.disabled)"
                           " || document.querySelector('#result').dataset.taskId === ''")
    page.wait_for_function("id => !['', id].includes(document.querySelector('#result').dataset.taskId)",
                           arg=first["task_id"])
    page.locator(READY_ROLL).wait_for(timeout=WAIT_MS)
    assert resubmitted == [{"audio_path": upload.removeprefix(f"s3://{local_stack.bucket}/"), "quantize": "1/8",
                            "tempo_hint": hint, "save_note_events": True}]
    second = local_stack.by_id(page.get_attribute("#result", "data-task-id"))
    assert second["status"] == "COMPLETED" and second["options"] == {"quantize": "1/8", "tempo_hint": hint}
    recounted = requests.get(second["notes_json_path"], timeout=30).json()["tempo_bpm"]
    assert recounted == pytest.approx(hint, rel=0.04)
    shown = page.inner_text("[data-fact=tempo]")
    assert shown.endswith(" BPM") and float(shown.removesuffix(" BPM")) == pytest.approx(recounted, abs=0.06)


def test_a_recount_of_a_task_reopened_from_the_list_plays_that_tasks_audio(page, local_stack, tone_wav) -> None:
    """The page keeps the file submitted last to play it at once; a recount of another task, reopened from the
    list, played that file as the other task's original audio."""
    queued = requests.post(f"{local_stack.api_url}/v1/audio_to_midi", headers=local_stack.headers(),
                           files={"audio_file": ("ballad.wav", wav_bytes(eighths_over_a_bass(), 22_050))},
                           timeout=30).json()
    local_stack.wait_for(queued["task_id"])
    open_explorer(page, local_stack)
    page.set_input_files(FILE_INPUT, tone_wav)  # the file the page keeps in memory
    page.click(SUBMIT)
    page.locator(READY_ROLL).wait_for(timeout=WAIT_MS)
    assert page.get_attribute("[data-testid=original-audio]", "src").startswith("blob:")
    page.click("#refresh-tasks")
    page.locator(f"[data-testid=task-list] button[data-task-id='{queued['task_id']}']").click()
    page.locator(f"#result[data-task-id='{queued['task_id']}'] {READY_ROLL}").wait_for(timeout=WAIT_MS)
    page.locator("[data-recount]").first.click()
    page.wait_for_function("id => !['', id].includes(document.querySelector('#result').dataset.taskId)",
                           arg=queued["task_id"])
    page.locator(READY_ROLL).wait_for(timeout=WAIT_MS)
    again = local_stack.by_id(page.get_attribute("#result", "data-task-id"))
    assert again["source_name"] == "ballad.wav" and again["options"]["tempo_hint"]
    assert page.get_attribute("[data-testid=original-audio]", "src").startswith(local_stack.aws_endpoint_url)


def test_a_piano_result_shows_its_pedals_in_a_lane_under_the_roll(page, local_stack, tmp_path) -> None:
    """A notes file the engine's own writer made from piano notes and pedal presses given here.

    The piano model itself takes a minute or more for a few seconds of audio on these machines (and needs a
    longer clip to press a pedal), so this test opens the file the model's result is written as instead."""
    notes = [NoteEvent(0.5, 1.0, 60, 0.6, model_velocity=90), NoteEvent(1.5, 2.5, 64, 0.3, model_velocity=40)]
    pedals = [PedalEvent(64, 0.4, 1.2), PedalEvent(64, 1.4, 2.8), PedalEvent(67, 0.2, 2.0)]
    transcription = Transcription(notes=notes, duration_s=3.0, options=TranscriptionOptions(model="piano"),
                                  model_name=PIANO_MODEL_NAME, pedals=pedals, family=Family.PIANO)
    open_explorer(page, local_stack, key=False)
    page.set_input_files(NOTES_FILE, write_notes(tmp_path, "piano.json", transcription))
    page.locator(READY_ROLL).wait_for(timeout=WAIT_MS)
    assert page.is_visible(PEDALS)
    page.wait_for_function(f"() => document.querySelector('{PEDALS}').dataset.drawnCount === '3'")
    assert "Pedals (2 sustain presses, 1 soft press)" in page.inner_text(LEGEND)
    assert PIANO_MODEL_NAME in page.inner_text("[data-fact=model]")

    page.set_input_files(NOTES_FILE, write_notes(tmp_path, "no-pedals.json", Transcription(
        notes=notes, duration_s=3.0, options=TranscriptionOptions(model="piano"), model_name=PIANO_MODEL_NAME)))
    page.wait_for_function("() => document.querySelector('[data-testid=result-summary]').textContent"
                           ".startsWith('no-pedals.json')")
    assert not page.is_visible(PEDALS)
    assert "Pedals" not in page.inner_text(LEGEND)


def test_a_multitrack_result_colours_each_track_and_names_it_in_the_legend(
    page, local_stack, tmp_path, tone_wav, steady_wav
) -> None:
    """A notes file from the engine's transcribe_stems on clips made here: the API takes one recording a task,
    so a multi-track result reaches the page as a notes file (as `midiscribe transcribe` with stems writes it)."""
    transcription = transcribe_stems([("drums", wav_bytes(drum_loop(), 44_100), "drums"),
                                      ("guitar", tone_wav.read_bytes(), "guitar"),
                                      ("lead", steady_wav.read_bytes(), "winds")])
    document = transcription_dict(transcription)
    tracks = document["instruments"]
    assert [track["stem"] for track in tracks] == ["drums", "guitar", "lead"] and tracks[0]["is_drum"]
    assert all(track["notes"] for track in tracks), [len(track["notes"]) for track in tracks]

    open_explorer(page, local_stack, key=False)
    page.set_input_files(NOTES_FILE, write_notes(tmp_path, "band.json", transcription))
    roll = page.locator(READY_ROLL)
    roll.wait_for(timeout=WAIT_MS)
    assert int(roll.get_attribute("data-note-count")) == sum(len(track["notes"]) for track in tracks)
    items = page.eval_on_selector_all(f"{LEGEND} li", """items => items.map(item => ({
        text: item.textContent, colour: item.querySelector('.swatch')?.style.background || '',
        drum: Boolean(item.querySelector('.swatch.drum')) }))""")
    for track, item in zip(tracks, items, strict=False):
        assert item["text"].startswith(f"{track['stem']}: {track['name']}"), (track["name"], item)
        assert item["drum"] is track["is_drum"]
    assert len({item["colour"] for item in items[:3]}) == 3  # a colour of its own for each track
    assert "3 tracks" in page.inner_text("[data-testid=result-summary]")

    # A drum hit, clicked, says which General MIDI drum it is, its key and its track.
    hit = page.evaluate("""async () => {
        const { roll } = await import('./explorer/app.js');
        const index = roll.notes.instrumentOf.findIndex((track) => roll.notes.instruments[track].isDrum);
        return { index, box: roll.noteBox(index), key: roll.notes.pitches[index] };
    }""")
    frame = roll.bounding_box()
    page.mouse.click(frame["x"] + hit["box"]["x"] + 1, frame["y"] + hit["box"]["y"] + hit["box"]["height"] / 2)
    page.wait_for_function("() => document.querySelector('[data-testid=note-info]').textContent !== ''")
    info = page.inner_text("[data-testid=note-info]")
    names = {36: "Bass Drum 1", 38: "Acoustic Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat", 45: "Low Tom",
             46: "Open Hi-Hat", 48: "Hi-Mid Tom", 49: "Crash Cymbal 1", 51: "Ride Cymbal 1"}  # the keys it writes
    assert info.startswith(f"{names[hit['key']]} (drum key {hit['key']}), velocity ") and info.endswith("drums: Drums"), info

