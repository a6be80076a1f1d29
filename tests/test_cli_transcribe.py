"""``midiscribe transcribe`` end to end on tiny generated files, plus its argument handling."""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import re
import subprocess
import sys
import wave
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from midiscribe.cli import transcribe as transcribe_command
from midiscribe.engine.transcription import NoteEvent, Transcription

RATE = 22_050


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="midiscribe")
    transcribe_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transcribe", *argv])
    return args.run(args)


def tones(path: Path, pitches: list[int], note_s: float = 0.4) -> Path:
    """Piano-like plucked tones, one after another: easy for the model to hear."""
    pieces = []
    for pitch in pitches:
        t = np.arange(int(note_s * RATE)) / RATE
        frequency = 440.0 * 2 ** ((pitch - 69) / 12)
        envelope = np.minimum(t / 0.005, 1.0) * np.exp(-t * 3.0)
        pieces.append(0.5 * envelope * sum(np.sin(2 * np.pi * k * frequency * t) / k for k in (1, 2, 3)))
    pieces.append(np.zeros(int(0.3 * RATE)))
    soundfile.write(path, np.concatenate(pieces).astype(np.float32), RATE)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    bad = folder / "notes.wav"
    bad.write_text("this is a shopping list, not audio\n")
    return {
        "melody": tones(folder / "melody.wav", [60, 64, 67]),
        "broken": bad,
        "low": tones(folder / "low.flac", [45, 52]),
    }


def test_transcribes_each_input_to_four_files_and_reports_the_bad_one(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli([str(inputs["melody"]), str(inputs["broken"]), str(inputs["low"]), "-o", str(out)])
    err = capsys.readouterr().err

    assert code == 1
    assert "error: " in err and str(inputs['broken']) in err
    assert "2 of 3 files transcribed, 1 failed" in err
    assert not list(out.glob("notes.*"))
    for stem, pitches in (("melody", {60, 64, 67}), ("low", {45, 52})):
        names = sorted(p.name for p in out.glob(f"{stem}.*"))
        assert names == [f"{stem}.csv", f"{stem}.json", f"{stem}.mid", f"{stem}.wav"]
        midi = mido.MidiFile(out / f"{stem}.mid")
        played = {m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity}
        assert pitches <= played
        document = json.loads((out / f"{stem}.json").read_text())
        with open(out / f"{stem}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [int(r["pitch_midi"]) for r in rows] == [n["pitch"] for n in document["instruments"][0]["notes"]]
        with wave.open(str(out / f"{stem}.wav")) as sonified:
            assert sonified.getframerate() == 44_100
            assert sonified.getnframes() == pytest.approx(document["duration_s"] * 44_100, abs=1)


def test_skipped_outputs_are_not_written_and_non_terminal_output_is_one_line_per_file(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli([str(inputs["melody"]), "-o", str(out), "--no-sonify", "--no-json", "--midi-tempo", "90"])
    err = capsys.readouterr().err
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["melody.csv", "melody.mid"]
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "\r" not in err
    assert lines[0].startswith(f"{inputs['melody']}: ") and "notes" in lines[0]
    assert lines[1].startswith("1 of 1 file transcribed;")
    assert [m.tempo for m in mido.MidiFile(out / "melody.mid").tracks[0] if m.type == "set_tempo"] == [666_667]


def test_quiet_prints_nothing_when_all_is_well(inputs, tmp_path, capsys):
    assert run_cli([str(inputs["low"]), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_a_missing_input_fails_alone(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli([str(tmp_path / "nowhere.wav"), str(inputs["low"]), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: {tmp_path / 'nowhere.wav'}: no such file\n" in err and "1 of 2 files transcribed, 1 failed" in err
    assert (out / "low.mid").is_file()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--onset-threshold", "1.5"], "--onset-threshold: must be at least 0 and at most 1 (got 1.5)"),
        (["--frame-threshold", "abc"], "--frame-threshold: expected a number, got 'abc'"),
        (["--midi-tempo", "0"], "--midi-tempo: must be at least 3.58 and at most 1000 (got 0)"),
        # MIDI stores tempo as 24-bit microseconds per beat: nothing slower than ~3.58 BPM fits.
        (["--midi-tempo", "2"], "--midi-tempo: must be at least 3.58 and at most 1000 (got 2)"),
        (["--max-duration", "-3"], "--max-duration: must be more than 0 (got -3)"),
        (["--instrument", "kazoo"], "--instrument: invalid choice: 'kazoo' (choose from 'auto', 'piano',"),
        (["--instrument", "Organ"], "--instrument: invalid choice: 'Organ'"),
    ],
)
def test_out_of_range_values_name_the_flag_and_the_range(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        run_cli([str(tmp_path / "x.wav"), *flags])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--minimum-frequency", "800", "--maximum-frequency", "200"],
         "--minimum-frequency (800.0 Hz) must be below --maximum-frequency (200.0 Hz)"),
        (["--no-midi", "--no-sonify", "--no-csv", "--no-json"], "Nothing to write"),
        (["--basic-pitch-compat", "--instrument", "strings"],
         "--basic-pitch-compat reproduces basic-pitch's own notes, which know no --instrument"),
    ],
)
def test_bad_combinations_are_refused_before_any_work(flags, message, inputs, tmp_path, capsys, monkeypatch):
    import midiscribe.engine

    monkeypatch.setattr(midiscribe.engine, "transcribe", lambda *a, **k: pytest.fail("work began"), raising=False)
    out = tmp_path / "never"
    assert run_cli([str(inputs["melody"]), "-o", str(out), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("flags", [["--instrument", "organ"], ["--basic-pitch-compat"]])
def test_instrument_and_compat_reach_the_engine_and_the_json(flags, inputs, tmp_path):
    out = tmp_path / "out"
    assert run_cli([str(inputs["melody"]), "-o", str(out), "-q", "--no-midi", "--no-sonify", *flags]) == 0
    document = json.loads((out / "melody.json").read_text())
    options = document["options"]
    assert (options["instrument"], options["basic_pitch_compat"]) == (
        ("organ", False) if "--instrument" in flags else ("auto", True))
    # compat reproduces basic-pitch, which estimates no tuning; the default reports the recording's.
    assert (document["tuning_cents"] is None) == ("--basic-pitch-compat" in flags)
    assert {n["pitch"] for n in document["instruments"][0]["notes"]} >= {60, 64, 67}


def test_two_inputs_with_one_stem_are_refused(tmp_path, capsys):
    assert run_cli([str(tmp_path / "a" / "song.wav"), str(tmp_path / "b" / "song.mp3")]) == 2
    assert "would both be written as song.*" in capsys.readouterr().err


def test_an_output_that_would_overwrite_its_input_is_refused(inputs, tmp_path, capsys, monkeypatch):
    """The sonified WAV of song.wav is song.wav: written next to the input (the default -o is the current
    folder), it would replace the recording with its sonification."""
    import midiscribe.engine

    monkeypatch.setattr(midiscribe.engine, "transcribe", lambda *a, **k: pytest.fail("work began"), raising=False)
    recording = inputs["melody"].read_bytes()
    monkeypatch.chdir(inputs["melody"].parent)
    assert run_cli(["melody.wav"]) == 2
    err = capsys.readouterr().err
    assert "melody.wav would overwrite the input melody.wav" in err and "--output-dir" in err and "--no-sonify" in err
    assert inputs["melody"].read_bytes() == recording
    assert not list(inputs["melody"].parent.glob("melody.[!w]*"))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_follows_the_engine(tmp_path, monkeypatch):
    import midiscribe.engine

    def fake_transcribe(source, options, *, max_duration_s=None, progress=None):
        for done in (0.0, 30.0, 60.0, 90.0):
            progress(done, 90.0)
        return Transcription([NoteEvent(1.0, 2.0, 60, 0.5)], 90.0, options)

    monkeypatch.setattr(midiscribe.engine, "transcribe", fake_transcribe, raising=False)
    monkeypatch.setattr(transcribe_command.Progress, "REDRAW_INTERVAL_S", 0.0)
    audio = tmp_path / "take.wav"
    audio.write_bytes(b"RIFF")  # never decoded: the engine is replaced
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_cli([str(audio), "-o", str(tmp_path / "out"), "--no-sonify"]) == 0
    shown = terminal.getvalue()
    assert "[1/1] take.wav" in shown and "\r" in shown
    assert " 33% 0:30/1:30" in shown and "100% 1:30/1:30 writing" in shown
    assert "1 of 1 file transcribed; 1 note from 1:30 of audio" in shown


def option_help_blocks(help_text: str) -> dict[str, str]:
    """Each option's invocation mapped to its (joined) help text."""
    blocks: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        if line.startswith("  -"):
            invocation, _, rest = line.strip().partition("  ")
            current = invocation
            blocks[current] = rest.strip()
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


@functools.cache
def transcribe_help_blocks() -> dict[str, str]:
    """`midiscribe transcribe --help`'s text per option, from a process of its own."""
    result = subprocess.run([sys.executable, "-m", "midiscribe.cli.transcribe", "--help"],
                            capture_output=True, text=True, check=True)
    return option_help_blocks(result.stdout)


def test_help_lists_every_engine_option_with_its_default():
    blocks = transcribe_help_blocks()
    expected = {
        "--instrument NAME": "auto",
        "--basic-pitch-compat, --no-basic-pitch-compat": "False",
        "--quantize NAME": "off",
        "--score, --no-score": "False",
        "--multiple-pitch-bends, --no-multiple-pitch-bends": "False",
        "--include-pitch-bends, --no-include-pitch-bends": "True",
        "-o OUTPUT_DIR, --output-dir OUTPUT_DIR": ".",
    }
    for invocation, default in expected.items():
        assert f"(default: {default})" in blocks[invocation]
    # Unset thresholds follow the instrument; the help says what basic-pitch's would be.
    for invocation, compat in (("--onset-threshold P", "0.5"), ("--frame-threshold P", "0.3"),
                               ("--minimum-note-length-ms MS", "127.7"), ("--melodia-trick, --no-melodia-trick", "on")):
        assert f"{compat} in compat" in blocks[invocation] and "(default:" not in blocks[invocation]
    for invocation in ("--minimum-frequency HZ", "--maximum-frequency HZ", "--midi-tempo BPM", "--max-duration SECONDS",
                       "--no-midi", "--no-sonify", "--no-csv", "--no-json", "-q, --quiet"):
        assert invocation in blocks


def test_help_states_each_numeric_option_range():
    """The README promises that --help lists the options "with their defaults and ranges"; the ranges
    were only told after a refusal."""
    blocks = transcribe_help_blocks()
    expected = {
        "--onset-threshold P": "Range: at least 0 and at most 1.",
        "--frame-threshold P": "Range: at least 0 and at most 1.",
        "--minimum-note-length-ms MS": "Range: at least 0 and at most 10000.",
        "--minimum-frequency HZ": "Range: more than 0 and at most 20000.",
        "--maximum-frequency HZ": "Range: more than 0 and at most 20000.",
        "--midi-tempo BPM": "Range: at least 3.58 and at most 1000.",
        "--tempo-hint BPM": "Range: at least 20 and at most 400.",
    }
    for invocation, text in expected.items():
        assert text in blocks[invocation], (invocation, blocks[invocation])


def test_the_midiscribe_command_offers_transcribe(capsys):
    from midiscribe.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["transcribe", "--help"])
    assert exited.value.code == 0
    assert "--onset-threshold" in capsys.readouterr().out


def test_an_unexpected_failure_on_one_input_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    import midiscribe.engine

    def fake_transcribe(source, options, *, max_duration_s=None, progress=None):
        if Path(source).stem == "first":
            raise RuntimeError("decoder exploded")
        return Transcription([NoteEvent(0.1, 0.5, 64, 0.5)], 1.0, options)

    monkeypatch.setattr(midiscribe.engine, "transcribe", fake_transcribe, raising=False)
    for name in ("first.wav", "second.wav"):
        (tmp_path / name).write_bytes(b"RIFF")
    out = tmp_path / "out"
    assert run_cli([str(tmp_path / "first.wav"), str(tmp_path / "second.wav"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: decoder exploded" in err
    assert sorted(p.name for p in out.iterdir()) == ["second.csv", "second.json", "second.mid", "second.wav"]


def test_max_duration_refuses_longer_inputs(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli([str(inputs["melody"]), "-o", str(out), "--max-duration", "0.5", "-q"]) == 1
    err = capsys.readouterr().err
    assert str(inputs['melody']) in err and "0 of 1 file transcribed, 1 failed" in err
    assert not out.exists() or not list(out.iterdir())


def beat_rhythm(path: Path, bpm: float, bars: int) -> tuple[Path, np.ndarray]:
    """Four-four bars at ``bpm``: a low note on each downbeat, a higher one on the other beats."""
    period = 60.0 / bpm
    beats = 0.5 + period * np.arange(4 * bars)
    samples = np.zeros(int((beats[-1] + 1.5) * RATE))
    for index, beat in enumerate(beats):
        pitch = 43 if index % 4 == 0 else 67 + (index % 4) * 2
        t = np.arange(int(period * 0.8 * RATE)) / RATE
        frequency = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = np.minimum(t / 0.005, 1.0) * np.exp(-t * 3.0) * sum(np.sin(2 * np.pi * k * frequency * t) / k for k in (1, 2, 3))
        first = int(beat * RATE)
        samples[first : first + len(tone)] += 0.4 * tone
    soundfile.write(path, samples.astype(np.float32), RATE)
    return path, beats


@pytest.mark.slow
def test_quantize_and_score_write_two_more_files_on_the_music_s_grid(tmp_path, capsys):
    audio, beats = beat_rhythm(tmp_path / "rhythm.wav", 112.0, bars=8)
    out = tmp_path / "out"
    assert run_cli([str(audio), "-o", str(out), "--quantize", "1/16", "--score", "--no-sonify"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "rhythm.csv", "rhythm.json", "rhythm.mid", "rhythm.musicxml", "rhythm.quantized.mid"]
    document = json.loads((out / "rhythm.json").read_text())
    assert document["tempo_bpm"] == pytest.approx(112.0, rel=0.04)
    assert document["time_signature"] == "4/4"
    assert document["options"]["quantize"] == "1/16" and document["options"]["score"] is True
    assert np.min(np.abs(np.array(document["downbeats"])[:, None] - beats[::4]), axis=0).max() < 0.05
    assert isinstance(document["key"], str) and document["key"].split()[1] in ("major", "minor")
    quantized = mido.MidiFile(out / "rhythm.quantized.mid")
    sixteenth = quantized.ticks_per_beat // 4
    tick, onsets = 0, []
    for message in quantized.tracks[1]:
        tick += message.time
        if message.type == "note_on" and message.velocity:
            onsets.append(tick)
    assert onsets and all(tick % sixteenth == 0 for tick in onsets)
    assert b"<score-partwise" in (out / "rhythm.musicxml").read_bytes()



def tone(pitch: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    frequency = 440.0 * 2 ** ((pitch - 69) / 12)
    return np.minimum(t / 0.005, 1.0) * np.exp(-t * 3.0) * sum(np.sin(2 * np.pi * k * frequency * t) / k for k in (1, 2, 3))


@pytest.mark.slow
def test_a_tempo_hint_and_a_time_signature_choose_a_ballads_beat_and_bars(tmp_path, capsys):
    """A bass note a beat at 60 BPM under an arpeggio in even eighths reads as well at 120: --tempo-hint
    says which the user counts, and the MIDI file's tempo map follows."""
    beats = 0.5 + np.arange(32) * 1.0
    samples = np.zeros(int((beats[-1] + 2.0) * RATE))
    for index, eighth in enumerate(0.5 + np.arange(63) * 0.5):
        first = int(eighth * RATE)
        samples[first : first + int(0.45 * RATE)] += 0.25 * tone((60, 64, 67, 72)[index % 4], 0.45)
    for beat in beats:
        first = int(beat * RATE)
        samples[first : first + int(0.9 * RATE)] += 0.35 * tone(40, 0.9)
    audio = tmp_path / "ballad.wav"
    soundfile.write(audio, samples.astype(np.float32), RATE)
    for hint, expected in (("60", 60.0), ("150", 120.0)):
        out = tmp_path / f"hint-{hint}"
        assert run_cli([str(audio), "-o", str(out), "--tempo-hint", hint, "--no-sonify", "-q"]) == 0
        document = json.loads((out / "ballad.json").read_text())
        assert document["options"]["tempo_hint"] == float(hint)
        assert document["tempo_bpm"] == pytest.approx(expected, rel=0.03)
        midi = mido.MidiFile(out / "ballad.mid")
        tempi = [message.tempo for message in midi.tracks[0] if message.type == "set_tempo"]
        assert mido.tempo2bpm(int(np.median(tempi))) == pytest.approx(expected, rel=0.03)
    # --time-signature sets the bars, the beat stays the hinted one.
    out = tmp_path / "three"
    capsys.readouterr()
    assert run_cli([str(audio), "-o", str(out), "--tempo-hint", "60", "--time-signature", "3/4", "--no-sonify"]) == 0
    assert " notes, 60 BPM in 3/4, " in capsys.readouterr().err  # the file's line says what was found
    document = json.loads((out / "ballad.json").read_text())
    assert document["time_signature"] == "3/4" and document["tempo_bpm"] == pytest.approx(60.0, rel=0.03)
    signatures = {(m.numerator, m.denominator) for m in mido.MidiFile(out / "ballad.mid").tracks[0]
                  if m.type == "time_signature"}
    assert (3, 4) in signatures
    assert run_cli([str(audio), "-o", str(tmp_path / "forced"), "--midi-tempo", "90", "--no-sonify"]) == 0
    # A forced tempo counts quarter notes (MIDI's unit), and the line still gives the key.
    assert re.search(r" notes, quarter = 90 \(--midi-tempo\) in 4/4, [A-G][-a-z]* (major|minor), ",
                     capsys.readouterr().err)

def test_a_plain_transcription_never_imports_music21(inputs, tmp_path):
    """music21 (and what it pulls in) costs start-up time that only a score needs."""
    out = tmp_path / "out"
    code = ("import sys; from midiscribe.cli import main; "
            f"code = main(['transcribe', {str(inputs['melody'])!r}, '-o', {str(out)!r}, '-q']); "
            "print(sorted(name for name in ('music21', 'matplotlib') if name in sys.modules)); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (out / "melody.mid").exists()


@pytest.mark.parametrize(("given", "expected"), [(None, 1), ("2", 2)])
def test_the_command_runs_numpys_blas_on_one_thread_unless_told_otherwise(given, expected):
    import os

    environment = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        environment["OPENBLAS_NUM_THREADS"] = given
    probe = ("import midiscribe.cli, numpy\n"
             "from threadpoolctl import threadpool_info\n"
             "print(sorted({lib['num_threads'] for lib in threadpool_info() if lib['user_api'] == 'blas'}))")
    shown = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True,
                           check=True).stdout.strip()
    if shown == "[]":
        pytest.skip("numpy here has no BLAS library that threadpoolctl can see")
    assert shown == f"[{expected}]"


def test_a_clip_shorter_than_ten_seconds_is_not_zero_minutes():
    from midiscribe.cli.transcribe import format_duration

    assert [format_duration(s) for s in (0.5, 9.94, 12.4, 75, 3725, 0)] == ["0.5 s", "9.9 s", "0:12", "1:15", "1:02:05",
                                                                            "0:00"]


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_transcription(inputs, tmp_path, capsys,
                                                                                    monkeypatch):
    import tempfile

    from midiscribe import engine

    calls = []
    monkeypatch.setattr(engine, "transcribe", lambda *a, **k: calls.append(a))

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    locked = tmp_path / "locked"
    locked.mkdir()
    assert run_cli([str(inputs["melody"]), "-o", str(locked)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write in --output-dir {locked}: Permission denied" in err and "--output-dir" in err
    assert calls == [] and list(locked.iterdir()) == []


@pytest.mark.parametrize("stems", [False, True])
def test_an_output_that_fails_to_write_is_named_and_the_files_before_it_removed(inputs, tmp_path, capsys,
                                                                               monkeypatch, stems):
    from midiscribe.engine.transcription import Transcription

    def disk_full(self, destination):
        raise OSError(28, "No space left on device", str(destination))

    monkeypatch.setattr(Transcription, "write_csv", disk_full)  # written after the MIDI and the WAV
    out = tmp_path / "out"
    argv = ["--stem", f"lead={inputs['melody']}"] if stems else [str(inputs["melody"])]
    assert run_cli([*argv, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    name = "in" if stems else "melody"  # stems are named after their folder
    assert f"{out / name}.csv could not be written: No space left on device" in err
    assert "transcribed, but" in err
    assert list(out.iterdir()) == []  # the MIDI and WAV written before it are gone: nothing half done is left


def test_a_file_given_twice_is_transcribed_once(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    melody = inputs["melody"]
    assert run_cli([str(melody), str(melody.parent / "." / melody.name), "-o", str(out), "--no-sonify"]) == 0
    assert "1 of 1 file transcribed" in capsys.readouterr().err


def test_general_model_options_given_with_the_piano_model_are_said_to_be_unused(inputs, tmp_path, capsys,
                                                                                 monkeypatch):
    from midiscribe import engine
    from midiscribe.engine.transcription import Transcription

    monkeypatch.setattr(engine, "transcribe", lambda path, options, **kwargs: Transcription([], 1.0, options))
    argv = [str(inputs["melody"]), "-o", str(tmp_path / "out"), "--model", "piano", "--no-sonify"]
    assert run_cli([*argv, "--onset-threshold", "0.9", "--minimum-note-length-ms", "500"]) == 0
    assert ("note: --onset-threshold and --minimum-note-length-ms are the general model's; the piano model does not "
            "use them.") in capsys.readouterr().err
    assert run_cli(argv) == 0
    assert "note:" not in capsys.readouterr().err
    drums = [str(inputs["melody"]), "-o", str(tmp_path / "drums"), "--instrument", "drums", "--no-sonify"]
    assert run_cli([*drums, "--frame-threshold", "0.2"]) == 0
    assert "note: --frame-threshold is the general model's; the drum transcriber does not use it." in (
        capsys.readouterr().err)


def test_what_the_engine_notices_about_an_input_is_printed_even_when_quiet(inputs, tmp_path, capsys, monkeypatch):
    from midiscribe import engine

    said = "The drums are sampled at 22050 Hz, … Send drums sampled at 44.1 kHz or more."
    monkeypatch.setattr(engine, "transcribe",
                        lambda path, options, **kwargs: Transcription([], 1.0, options, notices=(said,)))
    assert run_cli([str(inputs["melody"]), "-o", str(tmp_path / "out"), "--instrument", "drums", "-q"]) == 0
    assert f"{inputs['melody']}: note: {said}" in capsys.readouterr().err
    written = json.loads((tmp_path / "out" / f"{inputs['melody'].stem}.json").read_text())
    assert written["notices"] == [said]
