"""kie.ai's instruments from the engine's notes JSON: names, numbers and velocities from 0 to 1."""

from __future__ import annotations

import json

from multitrack_band import band

from midiscribe.engine.outputs import transcription_dict
from midiscribe.engine.transcription import NoteEvent, Transcription
from midiscribe.service import kie


def kie_instruments(document: dict) -> list[dict]:
    return kie.instruments_from_notes_document(json.dumps(document).encode("utf-8"))


def test_kie_instruments_have_names_numbers_and_velocities_from_0_to_1():
    instruments = kie_instruments(transcription_dict(band()))
    assert [i["name"] for i in instruments] == ["Drums", "Electric Bass (finger)", "Acoustic Grand Piano"]
    for instrument in instruments:
        assert set(instrument) == {"name", "notes"}
        for note in instrument["notes"]:
            assert set(note) == {"pitch", "start", "end", "velocity"}
            assert isinstance(note["pitch"], int) and 0 <= note["pitch"] <= 127
            assert isinstance(note["start"], float) and isinstance(note["end"], float) and note["start"] < note["end"]
            assert isinstance(note["velocity"], float) and 0.0 < note["velocity"] <= 1.0
    assert instruments[0]["notes"][0] == {"pitch": 36, "start": 0.5, "end": 0.6, "velocity": 1.0}
    assert instruments[0]["notes"][2]["velocity"] == round(32 / 127, 4)  # amplitude 0.25 is MIDI velocity 32


def test_a_single_general_transcription_is_one_kie_instrument_named_after_its_program():
    single = Transcription([NoteEvent(0.5, 1.0, 60, 0.5)], 1.5)
    (instrument,) = kie_instruments(transcription_dict(single))
    assert instrument["name"] == "Electric Piano 1" and instrument["notes"][0]["velocity"] == round(64 / 127, 4)


def test_kie_instruments_read_the_written_json_file(tmp_path):
    path = tmp_path / "notes.json"
    band().write_json(path)
    assert kie_instruments(json.loads(path.read_text())) == kie_instruments(transcription_dict(band()))


def test_stored_documents_round_trip_and_old_midi_velocities_are_read_as_0_to_1():
    instruments = kie_instruments(transcription_dict(band()))
    assert kie.read_midi_data(kie.midi_data_document(instruments)) == instruments
    old = json.dumps({"instruments": [{"name": "Electric Piano 1", "notes": [
        {"pitch": 60, "start": 0.5, "end": 1.0, "velocity": 127}]}]}).encode("utf-8")
    assert kie.read_midi_data(old)[0]["notes"][0]["velocity"] == 1.0


def test_midi_velocity_1_is_the_quietest_not_the_loudest():
    quiet = {"format_version": 1, "instruments": [{"name": "Drums", "notes": [
        {"pitch": 42, "start": 0.5, "end": 0.6, "velocity": velocity} for velocity in (1, 2, 127)]}]}
    expected = [round(1 / 127, 4), round(2 / 127, 4), 1.0]
    assert [n["velocity"] for n in kie_instruments(quiet)[0]["notes"]] == expected
    # A document written before velocities were stored as 0..1 holds MIDI's values, 1 included.
    old = json.dumps({"instruments": quiet["instruments"]}).encode("utf-8")
    assert [n["velocity"] for n in kie.read_midi_data(old)[0]["notes"]] == expected
    # The stored document keeps 0..1 values as they are: a loud note's 1.0 and a quiet one's 0.0079 alike.
    stored = kie.midi_data_document(kie_instruments(quiet))
    assert [n["velocity"] for n in kie.read_midi_data(stored)[0]["notes"]] == expected
