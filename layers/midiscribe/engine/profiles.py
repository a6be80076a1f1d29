"""Note-creation settings per instrument family: what the ``instrument`` hint chooses.

Each :class:`NoteProfile` says how :mod:`.tracking` turns the general model's posteriorgrams into
notes for one kind of sound: which onset peaks start notes, how far an onset is traced back to
where its note begins to rise (slow bows, breaths and voices sound before the onset posterior
peaks), when a repeated note is a new note, where a note ends, how hard harmonics of stronger notes
are suppressed, and the pitch range the family plays in.

``auto`` first listens for how notes start: a walk with :data:`AUTO_PROFILE` finds the notes, and
the median height of their onset peaks tells struck sounds (piano, guitar, plucked and mallet
sounds: sharp peaks, median at or above :data:`STRUCK_ONSET_LEVEL`) from bowed, blown and sung ones
(broad, low peaks). The notes are then made with :data:`STRUCK_PROFILE` or :data:`SUSTAINED_PROFILE`.

The numbers were chosen on the tuning half of the dev set (``bench/tune.py`` searches them and
prints this table; ``bench/quality.py`` reports the held-back half). Explicit options
(``onset_threshold``, ``frame_threshold``, ``minimum_note_length_ms``, ``melodia_trick``,
``minimum_frequency``, ``maximum_frequency``) override the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .instruments import Family
from .options import HIGHEST_MIDI, LOWEST_MIDI, TranscriptionOptions

FRAMES_PER_SECOND = 22050 / 256
# Harmonics 2, 3, 4, 5, 6 and 8 of a note, in semitones above it: where the model's ghosts sit.
HARMONIC_INTERVALS = (12, 19, 24, 28, 31, 36)


@dataclass(frozen=True)
class NoteProfile:
    """How notes are made from the posteriorgrams; frame counts at 86.13 frames per second."""

    onset_threshold: float  # an onset posterior peak at least this high starts a note
    frame_threshold: float  # a note sounds while its note posterior stays at least this high …
    energy_tolerance_frames: int  # … give or take this many frames below it
    min_note_frames: int  # notes this short or shorter are dropped
    rise_onsets: bool  # also start notes where the note posterior jumps (basic-pitch's inferred onsets)
    melodia_threshold: float | None  # notes from strong frames no onset claimed; None: none
    trace_back_frames: int  # an onset may move this far back to where its note begins to rise
    trace_fraction: float  # … to where the rise reaches this fraction of its height
    merge_gap_frames: int  # a same-pitch note starting within this gap after another …
    merge_onset_below: float  # … with an onset weaker than this continues it (0: never) …
    merge_level_above: float  # … if the note posterior stays above this fraction of its level between them
    offset_fraction: float  # a note ends after its last frame at this fraction of its median level (0: off)
    ghost_ratio: float  # a harmonic of a note, weaker than this times it, starting together, is dropped (0: off)
    ghost_onset_frames: int  # "starting together": onsets at most this many frames apart
    ghost_intervals: tuple[int, ...] = HARMONIC_INTERVALS
    lowest_midi: int = LOWEST_MIDI
    highest_midi: int = HIGHEST_MIDI


AUTO_PROFILE = NoteProfile(
    onset_threshold=0.6,
    frame_threshold=0.35,
    energy_tolerance_frames=11,
    min_note_frames=11,
    rise_onsets=False,
    melodia_threshold=0.5,
    trace_back_frames=10,
    trace_fraction=0.3,
    merge_gap_frames=2,
    merge_onset_below=0.6,
    merge_level_above=0.0,
    offset_fraction=0.85,
    ghost_ratio=0.5,
    ghost_onset_frames=3,
)

# Read off the tuning half's per-file medians: piano, electric piano and guitar recordings lie mostly
# above it (0.7-0.97), strings and voices mostly below (0.44-0.71 and 0.52-0.87); winds, brass, synths,
# organs and basses fall on both sides, each file getting the profile that suits its own attacks.
STRUCK_ONSET_LEVEL = 0.76
STRUCK_PROFILE = replace(AUTO_PROFILE, frame_threshold=0.4, energy_tolerance_frames=3, trace_back_frames=5,
                         merge_gap_frames=8)
SUSTAINED_PROFILE = replace(AUTO_PROFILE, onset_threshold=0.4, frame_threshold=0.3, min_note_frames=7,
                            trace_fraction=0.2, offset_fraction=0.95)


# The bass family's settings (FAMILY_PROFILES below). Its range is the instrument's (a five-string's low B to
# the 24th fret of the G string), not searched: above it, the model only hears harmonics.
BASS_PROFILE = replace(SUSTAINED_PROFILE, onset_threshold=0.7, min_note_frames=11, trace_back_frames=5,
                       merge_gap_frames=8, offset_fraction=0.8, ghost_ratio=0.8, lowest_midi=23, highest_midi=67)
# auto reads a recording whose probe notes lie at or below this pitch (nine in ten of them: MIDI 48 is C3) with
# the bass's settings: a bass line, whatever plays it. Chosen on the dev set's tuning half (bench/tune.py
# --low-range): the objective (mean onset F1 plus onset+offset F1, 200 files) is 1.0543 without the choice and
# 1.0718, 1.0778, 1.0765, 1.0745, 1.0750, 1.0768, 1.0731 at 45, 48, 50, 52, 55, 57, 60; at 48 the bass files
# went 0.653 -> 0.774 (onset F1), one organ file lost (organ 0.363 -> 0.361), no other family changed. Held back
# (bench/quality.py): bass 0.673 -> 0.690, organ 0.368 -> 0.366, all 200 files 0.646 -> 0.647 (onset+offset
# 0.419 -> 0.421).
LOW_RANGE_HIGHEST_MIDI = 48
LOW_RANGE_QUANTILE = 0.9


@dataclass(frozen=True)
class AutoProfiles:
    """``instrument=auto``: the probe that finds notes to measure, and the profiles it chooses from: ``low``
    when the probe's notes lie low (a bass line), else struck or sustained by how they start."""

    probe: NoteProfile
    struck: NoteProfile
    sustained: NoteProfile
    struck_onset_level: float = STRUCK_ONSET_LEVEL
    low: NoteProfile | None = None
    low_highest_midi: int = LOW_RANGE_HIGHEST_MIDI

    @property
    def all(self) -> tuple[NoteProfile, ...]:
        return (self.probe, self.struck, self.sustained) + ((self.low,) if self.low is not None else ())

    def with_each(self, change) -> AutoProfiles:
        """These profiles, each passed through ``change`` (the options a caller set)."""
        return replace(self, probe=change(self.probe), struck=change(self.struck), sustained=change(self.sustained),
                       low=change(self.low) if self.low is not None else None)


AUTO_PROFILES = AutoProfiles(AUTO_PROFILE, STRUCK_PROFILE, SUSTAINED_PROFILE, low=BASS_PROFILE)

# The sustained families' own settings: slow bows and breaths traced further back, repeated notes merged.
STRINGS_PROFILE = replace(SUSTAINED_PROFILE, frame_threshold=0.4, trace_back_frames=30, trace_fraction=0.1,
                          merge_gap_frames=8, merge_onset_below=0.8, offset_fraction=0.98)
BRASS_PROFILE = replace(SUSTAINED_PROFILE, melodia_threshold=None, trace_fraction=0.1, merge_level_above=0.85)
ORGAN_PROFILE = replace(SUSTAINED_PROFILE, frame_threshold=0.25, merge_level_above=0.9)
VOCALS_PROFILE = replace(SUSTAINED_PROFILE, frame_threshold=0.4)


def heard_attacks(family_profile: NoteProfile) -> AutoProfiles:
    """A sustained family's hint that still listens to how the recording starts: its own settings where auto's
    probe hears soft onsets, auto's struck settings where it hears sharp ones. The hint says what plays, not how
    each recording of it sounds: with the family's settings alone, string, brass and organ recordings with sharp
    attacks (the two General MIDI fonts outside the dev set play them so) lost against auto. On the tuning half,
    in the dev set's three fonts / csound's / the OPL3 font's (bench/tune.py --hint-routing; objective: mean
    onset F1 + mean onset+offset F1), the family's settings alone -> routed so:
    strings 0.817 / 1.118 / 0.976 -> 0.817 / 1.248 / 1.135 (auto 0.631 / 1.232 / 1.093),
    brass 0.945 / 1.187 / 1.244 -> 0.973 / 1.243 / 1.294 (auto 0.917 / 1.226 / 1.316),
    organ 0.612 / 0.727 / 0.902 -> 0.608 / 0.761 / 0.979 (auto 0.571 / 0.673 / 0.955),
    vocals 0.945 / 1.258 / 1.486 -> 0.950 / 1.262 / 1.509 (auto 0.934 / 1.248 / 1.508).
    The struck families' hints (piano, electric piano, guitar, winds) gained nothing from the same routing (their
    own settings in auto's struck place), and the bass hint, routed so, lost on the dev fonts (1.407 -> 1.404;
    MuseScore's files 1.214 -> 1.160) and would drop the bass's pitch range on sharp attacks: both as they were. No
    bass-line choice here: the hint already names the family."""
    return AutoProfiles(AUTO_PROFILE, STRUCK_PROFILE, family_profile)


# Each family starts from the auto profile most of its tuning files get and differs from it only where
# its own files showed a gain (bench/tune.py).
FAMILY_PROFILES: dict[Family, NoteProfile | AutoProfiles] = {
    Family.PIANO: STRUCK_PROFILE,
    Family.ELECTRIC_PIANO: replace(STRUCK_PROFILE, onset_threshold=0.7, frame_threshold=0.25),
    Family.ORGAN: heard_attacks(ORGAN_PROFILE),
    Family.GUITAR: STRUCK_PROFILE,
    Family.BASS: BASS_PROFILE,
    Family.STRINGS: heard_attacks(STRINGS_PROFILE),
    Family.WINDS: replace(STRUCK_PROFILE, frame_threshold=0.35, trace_back_frames=10),
    Family.BRASS: heard_attacks(BRASS_PROFILE),
    Family.VOCALS: heard_attacks(VOCALS_PROFILE),
    # Synths run from plucks to pads: one setting for them all did worse than auto's choice per recording.
    Family.SYNTH: AUTO_PROFILES,
}
def note_profile(options: TranscriptionOptions) -> NoteProfile | AutoProfiles:
    """The family's profile (or auto's three) with the options the caller set explicitly laid over it."""
    chosen = AUTO_PROFILES if options.instrument == Family.AUTO else FAMILY_PROFILES[Family(options.instrument)]
    if isinstance(chosen, AutoProfiles):
        return chosen.with_each(lambda profile: _with_options(profile, options))
    return _with_options(chosen, options)


def _with_options(profile: NoteProfile, options: TranscriptionOptions) -> NoteProfile:
    changes: dict = {}
    if options.onset_threshold is not None:
        changes["onset_threshold"] = float(options.onset_threshold)
    if options.frame_threshold is not None:
        changes["frame_threshold"] = float(options.frame_threshold)
    if options.minimum_note_length_ms is not None:
        changes["min_note_frames"] = int(np.round(options.minimum_note_length_ms / 1000 * FRAMES_PER_SECOND))
    if options.melodia_trick is not None:
        changes["melodia_threshold"] = (
            (profile.melodia_threshold or changes.get("frame_threshold", profile.frame_threshold))
            if options.melodia_trick else None
        )
    if options.minimum_frequency is not None:
        changes["lowest_midi"] = max(profile.lowest_midi, _midi_at_or_above(options.minimum_frequency))
    if options.maximum_frequency is not None:
        changes["highest_midi"] = min(profile.highest_midi, _midi_at_or_below(options.maximum_frequency))
    return replace(profile, **changes) if changes else profile


def _midi_at_or_above(hz: float) -> int:
    return int(np.ceil(69 + 12 * np.log2(hz / 440.0) - 1e-9))


def _midi_at_or_below(hz: float) -> int:
    return int(np.floor(69 + 12 * np.log2(hz / 440.0) + 1e-9))
