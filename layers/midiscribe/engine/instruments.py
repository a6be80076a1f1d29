"""Instrument families and General MIDI programs: the ``instrument`` hint, stem names, MIDI tracks.

One family names what kind of sound a recording (or a stem of one) holds. It chooses the note
creation settings for the general model, the General MIDI program of the track the notes are
written to, and the name that track carries (kie.ai's callbacks name instruments by GM program name,
or "Drums").
"""

from __future__ import annotations

import re
from enum import StrEnum


class Family(StrEnum):
    AUTO = "auto"
    PIANO = "piano"
    ELECTRIC_PIANO = "electric_piano"
    GUITAR = "guitar"
    BASS = "bass"
    STRINGS = "strings"
    WINDS = "winds"
    BRASS = "brass"
    VOCALS = "vocals"
    ORGAN = "organ"
    SYNTH = "synth"
    DRUMS = "drums"


# General MIDI level 1 program names, program 0..127.
GM_PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bag pipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
    "Gunshot",
)
DRUMS_NAME = "Drums"  # what GM files and kie.ai call the channel-10 kit, which has no program

# The program a family's track gets. AUTO keeps the general engine's historic "Electric Piano 1":
# a neutral, percussive-but-sustained voice that renders any pitched material recognisably.
FAMILY_PROGRAM: dict[Family, int] = {
    Family.AUTO: 4,
    Family.PIANO: 0,
    Family.ELECTRIC_PIANO: 4,
    Family.GUITAR: 25,
    Family.BASS: 33,
    Family.STRINGS: 48,
    Family.WINDS: 73,
    Family.BRASS: 61,
    Family.VOCALS: 52,
    Family.ORGAN: 16,
    Family.SYNTH: 81,
    Family.DRUMS: 0,  # ignored: drums go to channel 10, where the program does not choose the sound
}

# Words in a stem's name (as Demucs, DAWs and multitrack sessions write them) and the family they mean.
# Checked in this order, so "bass_guitar" is a bass and "keys_organ" an organ.
_STEM_WORDS: tuple[tuple[Family, tuple[str, ...]], ...] = (
    # A multitrack session names its drum channels by the piece they mic: kick in, snare top, OH L.
    (Family.DRUMS, ("drum", "drums", "percussion", "perc", "kit", "beat", "beats", "kick", "kicks", "snare",
                    "snares", "hat", "hats", "hihat", "hihats", "tom", "toms", "overhead", "overheads", "oh",
                    "cymbal", "cymbals", "ride", "crash", "clap", "claps", "shaker", "tambourine", "conga",
                    "congas", "bongo", "bongos", "cajon")),
    (Family.BASS, ("bass", "sub")),
    (Family.VOCALS, ("vocal", "vocals", "vox", "voice", "voices", "singer", "choir", "lead_vocal", "bv", "bvs")),
    (Family.ORGAN, ("organ", "hammond")),
    (Family.ELECTRIC_PIANO, ("epiano", "electric_piano", "rhodes", "wurli", "wurlitzer", "keys")),
    (Family.PIANO, ("piano", "grand")),
    (Family.GUITAR, ("guitar", "guitars", "gtr", "acoustic")),
    (Family.STRINGS, ("strings", "string", "violin", "viola", "cello", "fiddle", "orchestra")),
    (Family.BRASS, ("brass", "trumpet", "trombone", "horn", "horns", "tuba", "sax", "saxophone")),
    (Family.WINDS, ("winds", "woodwinds", "flute", "clarinet", "oboe", "bassoon", "whistle", "recorder")),
    (Family.SYNTH, ("synth", "synths", "lead", "pad", "arp")),
)


def family_for_stem(name: str) -> Family:
    """The family a stem's name points at ("drums", "Bass Guitar", "lead_vox"…), AUTO when none does."""
    words = [word for word in re.split(r"[^a-z]+", name.lower()) if word]
    joined = "_".join(words)
    for family, keys in _STEM_WORDS:
        if any(key in words or ("_" in key and key in joined) for key in keys):
            return family
    return Family.AUTO


def program_name(program: int) -> str:
    """The General MIDI name of ``program`` (0..127)."""
    return GM_PROGRAM_NAMES[program]


def track_name(family: Family) -> str:
    """The name a family's track carries: its GM program's name, or "Drums"."""
    return DRUMS_NAME if family is Family.DRUMS else GM_PROGRAM_NAMES[FAMILY_PROGRAM[family]]


def duplicate_stem_message(first: str, second: str) -> str:
    """What two stems with one name are told, by the API and by the command alike (names match ignoring case)."""
    both = f"{first!r}" + (f" and {second!r}" if first != second else "")
    return f"Two stems are named {both} (names are compared ignoring case): give each stem its own name."
