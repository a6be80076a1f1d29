"""Writers for multi-track transcriptions: CSV's instrument column, per-stem JSON, kie.ai's instruments, drums in WAV."""

from __future__ import annotations

import csv
import io
import json

import mido
import numpy as np
import pytest
from multitrack_band import band

from midiscribe.engine import sonify
from midiscribe.engine.instruments import Family
from midiscribe.engine.options import TranscriptionOptions
from midiscribe.engine.outputs import CSV_COLUMNS, channel_pools, transcription_dict
from midiscribe.engine.transcription import NoteEvent, Track, Transcription


def csv_rows(transcription: Transcription) -> list[list[str]]:
    buffer = io.BytesIO()
    transcription.write_csv(buffer)
    return list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8"))))


def test_multitrack_csv_adds_the_instrument_column_after_basic_pitchs_five():
    header, *rows = csv_rows(band())
    assert header == [*CSV_COLUMNS, "instrument"]
    assert [(row[0], row[2], row[5]) for row in rows] == [
        ("0.5", "36", "drums"), ("0.5", "40", "bass"), ("0.75", "64", "keys"), ("0.75", "67", "keys"),
        ("1.0", "38", "drums"), ("1.0", "42", "drums"), ("1.5", "43", "bass"),
    ]
    assert all(len(row) == 6 for row in rows)
    assert rows[1][4] == "0 1 2" and rows[0][3] == "127"


def test_single_track_csv_keeps_basic_pitchs_five_columns():
    single = Transcription([NoteEvent(0.5, 1.0, 60, 0.5)], 1.5)
    header, row = csv_rows(single)
    assert header == list(CSV_COLUMNS) and len(row) == 5


def test_json_has_one_instrument_per_stem_with_its_program_and_family():
    document = json.loads(json.dumps(transcription_dict(band())))
    assert document["model"] == "basic-pitch-0.4.0-icassp2022+drums-model"
    assert [(i["name"], i["stem"], i["family"], i["program"], i["is_drum"], len(i["notes"]))
            for i in document["instruments"]] == [
        ("Drums", "drums", "drums", 0, True, 3),
        ("Electric Bass (finger)", "bass", "bass", 33, False, 2),
        ("Acoustic Grand Piano", "keys", "piano", 0, False, 2),
    ]
    assert document["instruments"][1]["notes"][0] == {"pitch": 40, "start": 0.5, "end": 0.9, "velocity": 102,
                                                      "pitch_bends": [0, 1, 2]}


def test_pitched_tracks_get_channels_of_their_own_and_drums_channel_10():
    tracks = band().instrument_tracks()
    assert channel_pools(tracks) == [(9,), (0, 1, 2, 3, 4, 5, 6), (7, 8, 10, 11, 12, 13, 14)]
    many = tuple(Track.for_family(f"t{i}", Family.GUITAR, []) for i in range(15))
    assert sorted(pool[0] for pool in channel_pools(many)) == [c for c in range(16) if c != 9]


def test_multiple_pitch_bends_spread_within_a_tracks_own_channels():
    options = TranscriptionOptions(multiple_pitch_bends=True)
    chords = [NoteEvent(0.1, 1.0, 60 + i, 0.5, (1, 2)) for i in range(4)]
    tracks = [Track.for_family("a", Family.GUITAR, chords), Track.for_family("b", Family.STRINGS, chords)]
    buffer = io.BytesIO()
    Transcription.from_tracks(tracks, 1.5, options).write_midi(buffer)
    buffer.seek(0)
    midi = mido.MidiFile(file=buffer)
    channels = [{m.channel for m in track if m.type == "note_on"} for track in midi.tracks[1:]]
    assert len(channels[0]) == 4 and len(channels[1]) == 4 and not channels[0] & channels[1]


def test_the_wav_plays_the_drums_too():
    rendered = sonify.render(band())
    rate = sonify.SONIFY_SAMPLE_RATE

    def loudness(start_s: float, stop_s: float) -> float:
        return float(np.sqrt(np.mean(rendered[int(start_s * rate):int(stop_s * rate)] ** 2)))

    drums_only = Transcription.from_tracks([band().instrument_tracks()[0]], 2.5, TranscriptionOptions())
    drum_audio = sonify.render(drums_only)
    assert len(drum_audio) == int(2.5 * rate)
    assert float(np.sqrt(np.mean(drum_audio[int(0.5 * rate):int(0.6 * rate)] ** 2))) > 0.05
    assert float(np.abs(drum_audio[: int(0.45 * rate)]).max()) == 0.0  # silent before the first hit
    assert loudness(0.5, 0.6) > 0.05 and np.abs(rendered).max() < 1.0
    assert low_share(sonify.drum_sound(36)) > 0.5  # a kick thumps
    assert low_share(sonify.drum_sound(42)) < 0.01  # a hi-hat hisses


def low_share(sound: np.ndarray) -> float:
    """The share of a sound's energy below 200 Hz."""
    power = np.abs(np.fft.rfft(sound)) ** 2
    frequencies = np.fft.rfftfreq(len(sound), 1 / sonify.SONIFY_SAMPLE_RATE)
    return float(power[frequencies < 200].sum() / power.sum())


@pytest.mark.parametrize("family", [Family.AUTO, Family.PIANO])
def test_an_implicit_single_track_is_named_after_its_family(family):
    transcription = Transcription([NoteEvent(0.5, 1.0, 60, 0.5)], 1.5, family=family)
    (track,) = transcription.instrument_tracks()
    assert track.name == track.instrument_name == ("Electric Piano 1" if family is Family.AUTO else "Acoustic Grand Piano")


def test_a_stem_named_outside_latin_1_is_written_as_utf_8_in_the_midi_file():
    # mido writes meta text as Latin-1: a stem named in Japanese or Russian made write_midi raise
    # UnicodeEncodeError, so `midiscribe transcribe --stem ドラム=drums.wav` ended in a traceback.
    tracks = [Track.for_family("ドラム", Family.DRUMS, [NoteEvent(0.5, 0.6, 36, 1.0)]),
              Track.for_family("бас", Family.BASS, [NoteEvent(0.5, 0.9, 40, 0.8)]),
              Track.for_family("café", Family.PIANO, [NoteEvent(0.5, 0.9, 60, 0.8)])]
    buffer = io.BytesIO()
    Transcription.from_tracks(tracks, 1.5, TranscriptionOptions()).write_midi(buffer)
    buffer.seek(0)
    names = [message.name for track in mido.MidiFile(file=buffer).tracks[1:] for message in track
             if message.type == "track_name"]
    assert [name.encode("latin-1").decode("utf-8") for name in names[:2]] == ["ドラム", "бас"]
    assert names[2] == "café"  # Latin-1 text is written as before
