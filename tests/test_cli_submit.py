"""``midiscribe submit``'s downloads, with the API replaced by a finished conversion."""

from __future__ import annotations

import argparse
import io

import pytest

from midiscribe.cli import submit as submit_command
from midiscribe.client import MidiscribeClient, MidiscribeError


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="midiscribe")
    submit_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["submit", *argv])
    return args.run(args)


def finished(stem: str) -> dict:
    links = {"midi_file_path": "mid", "sonify_file_path": "wav", "notes_file_path": "csv"}
    return {"task_id": "t", "status": "COMPLETED", "note_count": 3, "audio_duration_s": 1.0,
            **{field: f"http://127.0.0.1:9/results/t/{stem}.{extension}?X-Amz-Signature=x"
               for field, extension in links.items()}}


def test_a_download_that_would_overwrite_the_input_is_refused_before_anything_is_sent(tmp_path, capsys, monkeypatch):
    """Results are named after the input: take.wav's sonified WAV is take.wav, and downloading into the
    input's own folder replaced the recording with its sonification. The command knows it from the name
    alone, so it says so before queueing a task it would then wait for in vain."""
    sent = []
    monkeypatch.setattr(MidiscribeClient, "submit_file", lambda *a, **k: sent.append(a) or {"task_id": "t"})
    monkeypatch.setattr(MidiscribeClient, "wait", lambda *a, **k: finished("take"))
    recording = tmp_path / "take.wav"
    recording.write_bytes(b"RIFF original")
    assert run_cli([str(recording), "--wait", "-o", str(tmp_path), "--api-key", "msk_test"]) == 2
    assert f"the sonified WAV would overwrite {recording}" in capsys.readouterr().err
    assert sent == [] and recording.read_bytes() == b"RIFF original"
    # Without the sonified WAV nothing is in the way, and the task is sent. (This fake finished task links a WAV
    # all the same, which the download then refuses: the guard that stays behind the name check.)
    assert run_cli([str(recording), "--wait", "-o", str(tmp_path), "--no-sonify", "--api-key", "msk_test"]) == 1
    assert len(sent) == 1 and "would overwrite" in capsys.readouterr().err
    assert recording.read_bytes() == b"RIFF original"


def test_the_download_itself_keeps_the_input_whatever_the_results_are_named(tmp_path):
    recording = tmp_path / "take.wav"
    recording.write_bytes(b"RIFF original")
    with pytest.raises(MidiscribeError, match=f"the sonified WAV would overwrite {recording}"):
        MidiscribeClient("http://127.0.0.1:9", "msk_test").download(finished("take"), tmp_path, keep=[recording])
    assert recording.read_bytes() == b"RIFF original"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["take.wav"]  # nothing fetched


@pytest.mark.parametrize("recording_name", ["練習.wav", "Für Elise.wav", "my take.wav"])
def test_a_name_the_service_writes_otherwise_is_guarded_and_saved_as_it_is(tmp_path, capsys, monkeypatch,
                                                                           recording_name):
    """The service names 練習.wav's results audio.*, Für Elise.wav's Fur_Elise.*. Saved under those names, the
    sonified audio.wav replaced a recording called audio.wav that happened to be in the folder, unannounced;
    the guard did not apply to such names. The results now keep the input's own name."""
    service_stem = {"練習.wav": "audio", "Für Elise.wav": "Fur_Elise", "my take.wav": "my_take"}[recording_name]
    fetched = []

    def fake_open(link, timeout):
        fetched.append(link)
        return io.BytesIO(b"result " + link.encode())

    monkeypatch.setattr("midiscribe.client._open", fake_open)
    monkeypatch.setattr(MidiscribeClient, "submit_file", lambda *a, **k: {"task_id": "t"})
    monkeypatch.setattr(MidiscribeClient, "wait", lambda *a, **k: finished(service_stem))
    recording = tmp_path / recording_name
    recording.write_bytes(b"RIFF original")
    unrelated = tmp_path / f"{service_stem}.wav"
    unrelated.write_bytes(b"RIFF another recording")

    assert run_cli([str(recording), "--wait", "-o", str(tmp_path), "--api-key", "msk_test"]) == 2
    assert f"the sonified WAV would overwrite {recording}" in capsys.readouterr().err and fetched == []

    assert run_cli([str(recording), "--wait", "-o", str(tmp_path / "out"), "--api-key", "msk_test"]) == 0
    stem = recording_name.removesuffix(".wav")
    saved = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert saved == sorted(f"{stem}.{extension}" for extension in ("mid", "wav", "csv"))
    assert (tmp_path / "out" / f"{stem}.mid").read_bytes().startswith(b"result http://127.0.0.1:9/results/t/")
    assert recording.read_bytes() == b"RIFF original" and unrelated.read_bytes() == b"RIFF another recording"


def test_download_names_each_output_after_the_name_it_is_given(tmp_path, monkeypatch):
    monkeypatch.setattr("midiscribe.client._open", lambda link, timeout: io.BytesIO(b"x"))
    conversion = {**finished("audio"), "quantized_midi_file_path": "http://127.0.0.1:9/results/t/audio.quantized.mid",
                  "musicxml_file_path": "http://127.0.0.1:9/results/t/audio.musicxml",
                  "notes_json_path": "http://127.0.0.1:9/results/t/audio.json"}
    saved = MidiscribeClient("http://127.0.0.1:9", "msk_test").download(conversion, tmp_path, name="練習")
    assert {field: path.name for field, path in saved.items()} == {
        "midi_file_path": "練習.mid", "sonify_file_path": "練習.wav", "notes_file_path": "練習.csv",
        "notes_json_path": "練習.json", "quantized_midi_file_path": "練習.quantized.mid",
        "musicxml_file_path": "練習.musicxml"}
    default = MidiscribeClient("http://127.0.0.1:9", "msk_test").download(conversion, tmp_path / "as-served")
    assert default["quantized_midi_file_path"].name == "audio.quantized.mid"


def test_download_refuses_only_the_files_it_is_told_to_keep(tmp_path, monkeypatch):
    def unreachable(link, timeout):
        raise OSError("unreachable")

    monkeypatch.setattr("midiscribe.client._open", unreachable)
    with pytest.raises(MidiscribeError, match="cannot download midi_file_path"):  # fetching began
        MidiscribeClient("http://127.0.0.1:9", "msk_test").download(finished("take"), tmp_path, keep=[tmp_path / "x"])


@pytest.mark.parametrize("timeout", ["-1", "0", "nan"])
def test_a_timeout_that_cannot_be_waited_is_refused_before_anything_is_sent(timeout, capsys, monkeypatch):
    """--timeout -1 queued the task, then gave up on it at once ("still PROCESSING after -1 s")."""
    def must_not_submit(*args, **kwargs):
        raise AssertionError("submitted")
    monkeypatch.setattr(MidiscribeClient, "submit_file", must_not_submit)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["take.wav", "--wait", "--timeout", timeout, "--api-key", "msk_test"])
    assert exit_info.value.code == 2
    assert f"argument --timeout: must be more than 0 (got {timeout})" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:3000", "ftp://127.0.0.1:3000"])
def test_an_api_url_that_is_not_http_is_refused_in_words(url, tmp_path, capsys, monkeypatch):
    """MIDISCRIBE_API_URL=notaurl ended in urllib's "unknown url type" ValueError traceback."""
    recording = tmp_path / "take.wav"
    recording.write_bytes(b"RIFF")
    monkeypatch.setenv("MIDISCRIBE_API_URL", url)
    assert run_cli([str(recording), "--api-key", "msk_test"]) == 1
    assert f"The API URL {url!r} is not an http:// or https:// URL" in capsys.readouterr().err


def test_no_note_events_says_it_skips_the_json_too(capsys):
    """save_note_events=false skips the notes JSON as well as the CSV; the help named only the CSV."""
    with pytest.raises(SystemExit):
        run_cli(["--help"])
    assert "skip the note events (.csv and .json)" in " ".join(capsys.readouterr().out.split())


def test_the_services_warnings_are_shown(tmp_path, capsys, monkeypatch):
    warning = "onset_threshold is the general model's; the piano model does not use it."
    monkeypatch.setattr(MidiscribeClient, "submit_file", lambda *a, **k: {"task_id": "t", "warnings": [warning]})
    recording = tmp_path / "take.wav"
    recording.write_bytes(b"RIFF original")
    assert run_cli([str(recording), "--model", "piano", "--onset-threshold", "0.6", "--api-key", "msk_test"]) == 0
    captured = capsys.readouterr()
    assert f"midiscribe submit: note: {warning}" in captured.err and captured.out.strip() == "t"
