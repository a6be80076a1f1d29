import pytest

from midiscribe.engine.instruments import (
    FAMILY_PROGRAM,
    GM_PROGRAM_NAMES,
    Family,
    family_for_stem,
    program_name,
    track_name,
)


def test_every_general_midi_program_has_a_distinct_name():
    assert len(GM_PROGRAM_NAMES) == 128
    assert len(set(GM_PROGRAM_NAMES)) == 128
    assert program_name(0) == "Acoustic Grand Piano"
    assert program_name(33) == "Electric Bass (finger)"
    assert program_name(127) == "Gunshot"


def test_every_family_has_a_program():
    assert set(FAMILY_PROGRAM) == set(Family)


@pytest.mark.parametrize(
    ("stem", "family"),
    [
        ("drums", Family.DRUMS),
        ("Percussion", Family.DRUMS),
        ("bass", Family.BASS),
        ("Bass Guitar", Family.BASS),
        ("vocals", Family.VOCALS),
        ("lead_vox", Family.VOCALS),
        ("Lead Vocal 2", Family.VOCALS),
        ("piano", Family.PIANO),
        ("acoustic piano", Family.PIANO),
        ("keys", Family.ELECTRIC_PIANO),
        ("Rhodes", Family.ELECTRIC_PIANO),
        ("gtr-rhythm", Family.GUITAR),
        ("lead guitar", Family.GUITAR),
        ("Strings", Family.STRINGS),
        ("cello", Family.STRINGS),
        ("horns", Family.BRASS),
        ("flute", Family.WINDS),
        ("synth_pad", Family.SYNTH),
        ("hammond organ", Family.ORGAN),
        ("Kick In", Family.DRUMS),  # a multitrack session's drum channels
        ("snare_top", Family.DRUMS),
        ("Hi-Hat", Family.DRUMS),
        ("OH L", Family.DRUMS),
        ("floor tom", Family.DRUMS),
        ("sub kick", Family.DRUMS),
        ("other", Family.AUTO),
        ("", Family.AUTO),
    ],
)
def test_stem_names_point_at_their_family(stem, family):
    assert family_for_stem(stem) is family


def test_tracks_are_named_after_their_program_or_drums():
    assert track_name(Family.PIANO) == "Acoustic Grand Piano"
    assert track_name(Family.BASS) == "Electric Bass (finger)"
    assert track_name(Family.DRUMS) == "Drums"
    assert track_name(Family.AUTO) == "Electric Piano 1"
