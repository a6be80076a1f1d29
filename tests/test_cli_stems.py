"""``midiscribe transcribe --stem …`` and ``--instrument drums`` end to end on files the tests make."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import mido
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).parent / "engine"))
from drum_audio import RATE, render, rock_beat  # noqa: E402
from synthesised import PHRASE, PHRASE_DURATION_S, synthesise  # noqa: E402

from midiscribe.cli import transcribe as transcribe_command  # noqa: E402


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="midiscribe")
    transcribe_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transcribe", *argv])
    return args.run(args)


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """A folder as Demucs leaves it: separated/htdemucs/song/{drums,bass}.wav, plus a solo elsewhere."""
    folder = tmp_path_factory.mktemp("separated") / "song"
    folder.mkdir()
    hits = rock_beat(bars=2)
    soundfile.write(folder / "drums.wav", render(hits, hits[-1].start_s + 1.0), RATE)
    soundfile.write(folder / "bass.flac", synthesise(PHRASE, PHRASE_DURATION_S, sample_rate=48000), 48000)
    return folder


def test_stems_make_one_multitrack_set_of_outputs_named_after_their_folder(song, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli(["--stem", f"drums={song / 'drums.wav'}", "--stem", f"low end={song / 'bass.flac'}:bass",
                    "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["song.csv", "song.json", "song.mid", "song.wav"]
    midi = mido.MidiFile(out / "song.mid")
    assert [next(m.name for m in t if m.type == "track_name") for t in midi.tracks[1:]] == ["drums", "low end"]
    drums, bass = midi.tracks[1:]
    assert {m.channel for m in drums if m.type == "note_on"} == {9}
    assert {m.note for m in drums if m.type == "note_on"} >= {36, 38, 42}
    assert [(m.channel, m.program) for m in bass if m.type == "program_change"] == [(0, 33)]
    with open(out / "song.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header[-1] == "instrument" and {row[-1] for row in rows} == {"drums", "low end"}
    document = json.loads((out / "song.json").read_text())
    assert [(i["name"], i["stem"]) for i in document["instruments"]] == [
        ("Drums", "drums"), ("Electric Bass (finger)", "low end")]
    err = capsys.readouterr().err
    assert "2 stems" in err and "drums (Drums):" in err and "low end (Electric Bass (finger)):" in err


def test_name_chooses_the_outputs_name(song, tmp_path):
    out = tmp_path / "out"
    assert run_cli(["--stem", f"drums={song / 'drums.wav'}", "--name", "take 3", "-o", str(out), "-q",
                    "--no-sonify"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["take 3.csv", "take 3.json", "take 3.mid"]


def test_a_blank_name_is_not_given(song, tmp_path):
    """--name " " wrote " .mid", " .csv" and " .json" instead of naming the outputs after the folder."""
    out = tmp_path / "out"
    assert run_cli(["--stem", f"drums={song / 'drums.wav'}", "--name", " ", "-o", str(out), "-q",
                    "--no-sonify"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{song.name}.csv", f"{song.name}.json", f"{song.name}.mid"]


def test_instrument_drums_transcribes_an_input_as_a_drum_recording(song, tmp_path):
    out = tmp_path / "out"
    assert run_cli([str(song / "drums.wav"), "--instrument", "drums", "-o", str(out), "-q"]) == 0
    midi = mido.MidiFile(out / "drums.mid")
    notes = [m for m in midi.tracks[1] if m.type == "note_on"]
    assert notes and {m.channel for m in notes} == {9}
    assert json.loads((out / "drums.json").read_text())["instruments"][0]["name"] == "Drums"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stem", "drums={song}/drums.wav", "--stem", "bass={song}/bass.flac:wind"],
         "--stem bass: no such file: {song}/bass.flac:wind (if 'wind' is meant as the instrument, use one of:"),
        (["--stem", "drums={song}/drums.wav", "--stem", "Drums={song}/bass.flac"],
         "Two stems are named 'drums' and 'Drums' (names are compared ignoring case)"),
        (["{song}/bass.flac", "--stem", "drums={song}/drums.wav"], "Give either INPUT files or --stem, not both"),
        (["--stem", "drums={song}/drums.wav", "--instrument", "drums"], "give each stem's instrument after a colon"),
        ([], "Nothing to transcribe"),
        (["--stem", "drums={song}/drums.wav", "--name", "../up"], "must be a plain file name"),
        # The options must be able to run every pitched stem's family: said before any work, naming the stem.
        (["--stem", "drums={song}/drums.wav", "--stem", "keys={song}/bass.flac:piano", "--basic-pitch-compat"],
         "--stem keys (piano): --basic-pitch-compat reproduces basic-pitch's own notes"),
        # A score notates pitched stems; drums alone would give empty bars.
        (["--stem", "drums={song}/drums.wav", "--stem", "kit={song}/bass.flac:drums", "--score"],
         "every stem is drums, and --score writes pitched notes on staves"),
        (["{song}/drums.wav", "--instrument", "drums", "--score"], "--score writes pitched notes on staves"),
    ],
)
def test_bad_stem_command_lines_are_refused_before_any_work(argv, message, song, tmp_path, capsys, monkeypatch):
    import midiscribe.engine

    monkeypatch.setattr(midiscribe.engine, "transcribe_stems", lambda *a, **k: pytest.fail("work began"),
                        raising=False)
    out = tmp_path / "never"
    assert run_cli([part.format(song=song) for part in argv] + ["-o", str(out)]) == 2
    assert message.format(song=song) in capsys.readouterr().err
    assert not out.exists()


def test_outputs_that_would_overwrite_a_stem_are_refused(song, tmp_path, capsys, monkeypatch):
    import midiscribe.engine

    monkeypatch.setattr(midiscribe.engine, "transcribe_stems", lambda *a, **k: pytest.fail("work began"),
                        raising=False)
    drums = tmp_path / "drums.wav"
    drums.write_bytes((song / "drums.wav").read_bytes())
    assert run_cli(["--stem", f"drums={drums}", "--name", "drums", "-o", str(tmp_path)]) == 2
    assert f"{drums} would overwrite the input {drums}" in capsys.readouterr().err
    assert drums.read_bytes() == (song / "drums.wav").read_bytes()


@pytest.mark.parametrize("text", ["drums", "=x.wav", "drums="])
def test_a_malformed_stem_is_an_argparse_error(text, capsys):
    with pytest.raises(SystemExit) as exited:
        run_cli(["--stem", text])
    assert exited.value.code == 2
    assert "expected NAME=PATH or NAME=PATH:INSTRUMENT" in capsys.readouterr().err


def test_a_path_with_a_colon_is_still_a_path(tmp_path):
    from midiscribe.cli.stems import parse_stem

    assert parse_stem("a=take:2.wav").path == Path("take:2.wav") and parse_stem("a=take:2.wav").instrument is None
    assert parse_stem("lead=solo.wav:Winds").instrument == "winds"


def test_a_stem_that_fails_to_decode_fails_the_run(song, tmp_path, capsys):
    broken = tmp_path / "vocals.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    out = tmp_path / "out"
    assert run_cli(["--stem", f"drums={song / 'drums.wav'}", "--stem", f"vocals={broken}", "-o", str(out)]) == 1
    assert "error: Stem 'vocals':" in capsys.readouterr().err
    assert not list(out.iterdir())
