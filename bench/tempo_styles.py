"""The second half of the tempo dev set: styles the first 40 pieces lacked, more tempi and instruments.

The first set (bench/tempo_pieces.py ``dev_set``) writes one kind of accompaniment per metre. These
pieces add the textures that mislead a beat tracker about the metrical level or the metre: waltzes
and minuets, marches with dotted rhythms, slow ballads over running eighths (and 12/8 ballads over
running triplets), 6/8 jigs in running eighths, syncopated pop over a drum kit, Alberti basses and
four-part chorales. Each piece is written in beats like the first set's, by the same ``Piece`` and
tempo curves, so the truth comes from the numbers that place the notes.

``second_set`` makes 80 pieces (the first set's generator, with new seeds, for a fifth of them);
``second_set_tuning_half`` splits them by piece into halves that hold every style and tempo curve.
``third_set`` draws 80 more from the same styles with other seeds: tuning material for rules written
after the second set's held-back half had been looked at (the beat's phase, engine/metre.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tempo_pieces import (
    CLOSED_HAT,
    DRUM_CHANNEL,
    ENSEMBLES,
    KICK,
    SNARE,
    Harmony,
    Piece,
    make_piece,
    tempo_curve,
)

# (beats per bar, quarters per beat, written grid in beats); 12/8 counts four dotted quarters.
METRES = {"2/4": (2, 1.0, 0.25), "3/4": (3, 1.0, 0.25), "4/4": (4, 1.0, 0.25), "6/8": (2, 1.5, 1 / 3),
          "12/8": (4, 1.5, 1 / 3)}
# More General MIDI ensembles (0-based programs): (accompaniment, bass, melody).
MORE_ENSEMBLES = {
    "brass": (61, 58, 56),  # brass section, tuba, trumpet
    "harp-cello": (46, 42, 68),  # harp, cello, oboe
    "accordion": (21, 32, 71),  # accordion, acoustic bass, clarinet
    "mallets": (11, 33, 73),  # vibraphone, electric bass, flute
}
ALL_ENSEMBLES = {**ENSEMBLES, **MORE_ENSEMBLES}
PEDAL_HAT = 44
CHANGES = ("steady", "steady", "step", "gradual")
ACCOMPANIMENT, BASS, MELODY = 0, 1, 2


@dataclass(frozen=True)
class Style:
    metres: tuple[str, ...]
    bpm: tuple[float, float]  # range of the notated beat's tempo
    ensembles: tuple[str, ...]
    count: int  # pieces of this style in the second set
    drums: str  # "always", "half" or "never"


STYLES = {
    "classic": Style(("2/4", "3/4", "4/4", "6/8"), (60.0, 180.0), tuple(ALL_ENSEMBLES), 16, "fifth"),
    "waltz": Style(("3/4",), (88.0, 180.0), ("strings", "accordion", "piano", "harp-cello"), 8, "never"),
    "minuet": Style(("3/4",), (96.0, 132.0), ("harp-cello", "strings", "piano", "organ-flute"), 4, "never"),
    "march": Style(("2/4", "4/4"), (100.0, 132.0), ("brass", "band", "piano", "accordion"), 8, "half"),
    "ballad": Style(("4/4", "3/4", "4/4"), (58.0, 84.0), ("piano", "strings", "guitars", "mallets"), 12, "never"),
    "ballad-12-8": Style(("12/8",), (54.0, 76.0), ("piano", "guitars", "organ-flute", "strings"), 4, "half"),
    "jig": Style(("6/8",), (96.0, 132.0), ("accordion", "organ-flute", "guitars", "harp-cello"), 8, "never"),
    "pop": Style(("4/4",), (80.0, 132.0), ("band", "guitars", "mallets", "piano"), 12, "always"),
    "alberti": Style(("4/4",), (60.0, 112.0), ("piano", "harp-cello", "strings", "piano"), 4, "never"),
    "chorale": Style(("4/4", "3/4"), (60.0, 96.0), ("organ-flute", "strings", "brass", "piano"), 4, "never"),
}


def add_chord(piece: Piece, start: float, length: float, pitches, velocity: int, rng) -> None:
    for pitch in pitches:
        piece.add(start, length, ACCOMPANIMENT, pitch, velocity + int(rng.integers(-6, 6)))


def write_melody(piece: Piece, rng, harmony: Harmony, start: float, cells: list[list[float]], state: list[int]) -> None:
    """A bar of melody from rhythm ``cells`` (beats), stepping through the scale; state[0] is the last pitch."""
    position = 0.0
    while position < piece.beats_per_bar - 1e-9:
        fitting = [cell for cell in cells if position + sum(cell) <= piece.beats_per_bar + 1e-9]
        cell = fitting[int(rng.integers(len(fitting)))] if fitting else [piece.beats_per_bar - position]
        for length in cell:
            if rng.random() >= 0.08 or position == 0:
                state[0] = harmony.step(state[0], harmony.tonic + 12, harmony.tonic + 31)
                velocity = 74 + (12 if position == 0 else 0) + int(rng.integers(-8, 8))
                piece.add(start + position, length * 0.9, MELODY, state[0], velocity)
            position += length


def drum_bar(piece: Piece, rng, start: float, style: str) -> None:
    bar = piece.beats_per_bar
    if style == "pop":
        for beat in range(bar):
            piece.add(start + beat, 0.1, DRUM_CHANNEL, SNARE if beat % 2 else KICK, 96 if beat % 2 else 100)
        piece.add(start + 1.5, 0.1, DRUM_CHANNEL, KICK, 84)  # the pushed kick on the "and" of 2
        sixteenths = 60.0 / np.diff(piece.beat_times).mean() < 100
        step = 0.25 if sixteenths else 0.5
        for hit in np.arange(0, bar, step):
            piece.add(start + hit, 0.05, DRUM_CHANNEL, CLOSED_HAT, 58 if hit % 1 == 0 else 44)
    elif style == "march":
        for beat in range(bar):
            piece.add(start + beat, 0.1, DRUM_CHANNEL, KICK, 92 if beat == 0 else 78)
            piece.add(start + beat + 0.5, 0.1, DRUM_CHANNEL, SNARE, 70)
            if rng.random() < 0.3:
                piece.add(start + beat + 0.75, 0.1, DRUM_CHANNEL, SNARE, 56)
    else:  # compound: kick on the dotted quarters, hats on the eighths
        for beat in range(bar):
            piece.add(start + beat, 0.1, DRUM_CHANNEL, KICK if beat % 2 == 0 else SNARE, 90)
            for third in (1 / 3, 2 / 3):
                piece.add(start + beat + third, 0.05, DRUM_CHANNEL, PEDAL_HAT, 50)


def accompany(piece: Piece, rng, style: str, start: float, chord: list[int], root: int) -> None:
    """The style's accompaniment and bass for one bar starting at ``start`` (beats)."""
    bar = piece.beats_per_bar
    low = [pitch - 12 for pitch in chord]
    slow = 60.0 / np.diff(piece.beat_times).mean() < 80
    if style in ("waltz", "minuet"):
        piece.add(start, 0.95, BASS, root, 86)
        if style == "waltz":
            for beat in (1, 2):
                add_chord(piece, start + beat, 0.7, chord, 56, rng)
        elif rng.random() < 0.5:
            piece.add(start + 2, 0.95, BASS, root + 7, 70)
    elif style == "march":
        for beat in range(bar):
            piece.add(start + beat, 0.45, BASS, root if beat % 2 == 0 else root + 7, 88 if beat == 0 else 76)
            add_chord(piece, start + beat + 0.5, 0.4, chord, 60, rng)
    elif style == "ballad":
        piece.add(start, bar * 0.95, BASS, root, 80)
        pattern = [low[0], low[2], chord[1], low[2]]
        for index, eighth in enumerate(np.arange(0, bar, 0.5)):
            piece.add(start + eighth, 0.5, ACCOMPANIMENT, pattern[index % 4] + 12, 52 + (8 if eighth % 1 == 0 else 0)
                      + int(rng.integers(-5, 5)))
    elif style == "ballad-12-8":
        for beat in (0, 2):
            piece.add(start + beat, 1.9, BASS, root, 82 if beat == 0 else 72)
        pattern = [low[0], low[1], low[2], chord[0], low[2], low[1]]
        for index, third in enumerate(np.arange(0, bar, 1 / 3)):
            piece.add(start + third, 1 / 3, ACCOMPANIMENT, pattern[index % 6] + 12,
                      50 + (10 if index % 3 == 0 else 0) + int(rng.integers(-5, 5)))
    elif style == "jig":
        for beat in range(bar):
            piece.add(start + beat, 0.6, BASS, root if beat == 0 else root + 7, 84 if beat == 0 else 74)
            add_chord(piece, start + beat + 2 / 3, 0.3, chord, 56, rng)
    elif style == "pop":
        for onset, length, interval in ((0.0, 1.4, 0), (1.5, 0.9, 0), (2.5, 0.4, 7), (3.0, 0.9, 12)):
            piece.add(start + onset, length, BASS, root + interval, 90 if onset == 0 else 78)
        # Chords pushed an eighth ahead of beats 3 and 1 (the next bar's chord arrives early).
        add_chord(piece, start, 1.4, chord, 62, rng)
        add_chord(piece, start + 1.5, 1.9, chord, 58, rng)
        add_chord(piece, start + 3.5, 0.45, chord, 60, rng)
    elif style == "alberti":
        step = 0.25 if slow else 0.5
        pattern = [low[0], low[2], low[1], low[2]]
        for index, onset in enumerate(np.arange(0, bar, step)):
            piece.add(start + onset, step * 0.9, ACCOMPANIMENT, pattern[index % 4] + 12,
                      54 + (8 if onset % 1 == 0 else 0) + int(rng.integers(-5, 5)))
    elif style == "chorale":
        for beat in range(bar):
            voicing = [root, low[1] + 12, low[2] + 12]
            for pitch, channel in zip(voicing, (BASS, ACCOMPANIMENT, ACCOMPANIMENT), strict=True):
                piece.add(start + beat, 0.95, channel, pitch, 70 + (10 if beat == 0 else 0) + int(rng.integers(-5, 5)))


MELODY_CELLS = {
    "waltz": [[2.0, 1.0], [1.0, 1.0, 1.0], [3.0], [1.5, 0.5, 1.0], [1.0, 0.5, 0.5, 1.0]],
    "minuet": [[0.5, 0.5, 1.0, 1.0], [1.0, 1.0, 1.0], [0.5] * 6, [2.0, 1.0], [0.25, 0.25, 0.5, 1.0, 1.0]],
    "march": [[0.75, 0.25], [0.5, 0.5], [1.0], [0.25] * 4, [1.5, 0.5]],
    "ballad": [[2.0], [1.0, 1.0], [1.5, 0.5], [3.0, 1.0], [0.5, 0.5, 1.0], [0.75, 0.25, 1.0]],
    "ballad-12-8": [[1.0], [2 / 3, 1 / 3], [1 / 3] * 3, [2.0]],
    "jig": [[1 / 3] * 3, [1 / 3] * 3, [2 / 3, 1 / 3], [1.0]],
    "pop": [[0.5, 1.0, 0.5], [1.5, 1.5, 1.0], [0.75, 0.75, 0.5], [1.0, 0.5, 0.5], [2.0]],
    "alberti": [[1.0], [0.5, 0.5], [2.0], [0.25] * 4, [0.75, 0.25]],
    "chorale": [[1.0], [1.0], [0.5, 0.5], [2.0]],
}


def style_piece(seed: int, style: str, metre: str, bpm: float, change: str, ensemble: str, seconds: float,
                jitter_s: float, drums: bool, limits: tuple[float, float] | None = None) -> Piece:
    """A piece of about ``seconds`` in ``style`` and ``metre``, starting at ``bpm`` notated beats per minute
    (a tempo change kept within ``limits``, BPM, when given)."""
    if style == "classic":
        piece = make_piece(seed, metre, bpm, change, ensemble, seconds, jitter_s=jitter_s, drums=drums,
                           ensembles=ALL_ENSEMBLES, limits=limits)
        piece.name = f"{seed:03d}-classic-{piece.name.split('-', 1)[1]}"
        piece.style, piece.change = style, change
        return piece
    rng = np.random.default_rng(seed)
    beats_per_bar, quarters_per_beat, grid = METRES[metre]
    bars = max(8, int(round(seconds * bpm / 60 / beats_per_bar)))
    accompaniment_program, bass_program, melody_program = ALL_ENSEMBLES[ensemble]
    piece = Piece(
        name=f"{seed:03d}-{style}-{metre.replace('/', '')}-{round(bpm)}bpm-{change}-{ensemble}{'-drums' if drums else ''}",
        metre=metre, ensemble=ensemble, beats_per_bar=beats_per_bar, quarters_per_beat=quarters_per_beat, grid=grid,
        beat_times=tempo_curve(rng, change, bpm, bars * beats_per_bar + 1, beats_per_bar, limits), jitter_s=jitter_s,
        style=style, change=change,
    )
    piece.programs = {ACCOMPANIMENT: accompaniment_program, BASS: bass_program or accompaniment_program,
                      MELODY: melody_program or accompaniment_program}
    if drums:
        piece.programs[DRUM_CHANNEL] = 0
    harmony = Harmony(rng)
    piece.key = harmony.key
    state = [harmony.pitch(7)]
    for bar in range(bars):
        start = float(bar * beats_per_bar)
        chord = harmony.chord(bar)
        root = chord[0] - 12 if chord[0] - 12 >= 36 else chord[0]
        accompany(piece, rng, style, start, chord, root)
        write_melody(piece, rng, harmony, start, MELODY_CELLS[style], state)
        if drums:
            drum_bar(piece, rng, start, style if style in ("pop", "march") else "compound")
    return piece


def second_set(seconds: float = 40.0, first_seed: int = 3000, limits: tuple[float, float] | None = None) -> list[Piece]:
    """80 pieces over the styles, each style cycling through its metres, tempo curves and ensembles (deterministic).

    With ``limits`` (BPM) every piece's notated beat stays inside them from start to end: each style's range is
    cut to them and a tempo change that would leave them goes the other way."""
    pieces = []
    index = 0
    for style, spec in STYLES.items():
        for within in range(spec.count):
            seed = first_seed + index
            rng = np.random.default_rng(seed + 50_000)
            metre = spec.metres[within % len(spec.metres)]
            low, high = spec.bpm
            if style == "classic" and metre == "6/8":
                low, high = 60.0, 120.0
            if limits is not None:
                low, high = max(low, limits[0]), min(high, limits[1])
            bpm = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            change = CHANGES[(within // len(spec.metres)) % len(CHANGES)] if style == "classic" else \
                CHANGES[within % len(CHANGES)]
            ensemble = spec.ensembles[within % len(spec.ensembles)]
            drums = {"always": True, "never": False, "half": within % 2 == 1, "fifth": within % 5 == 2}[spec.drums]
            jitter_s = (0.0, 0.008, 0.012)[index % 3]
            pieces.append(style_piece(seed, style, metre, bpm, change, ensemble, seconds, jitter_s, drums, limits))
            index += 1
    return pieces


def third_set(seconds: float = 40.0) -> list[Piece]:
    """80 pieces drawn as ``second_set``'s are, with seeds from 5000: all of them tuning material."""
    return second_set(seconds, first_seed=5000)


# The issue's range for the dev set: "known, varied tempos 60-180 BPM". The first three sets' tempo changes
# (x0.8 or x1.25) and two styles' ranges take some pieces out of it: 14 of their 200 have a median beat below 60
# or above 180 BPM (47 to 221).
ISSUE_BPM_RANGE = (60.0, 180.0)


def fourth_set(seconds: float = 40.0) -> list[Piece]:
    """80 pieces drawn as ``second_set``'s are, with seeds from 7000, every notated beat within ISSUE_BPM_RANGE from
    start to end. Held back whole: no setting is chosen on it (bench/tempo.py --set fourth)."""
    return second_set(seconds, first_seed=7000, limits=ISSUE_BPM_RANGE)


def fifth_set(seconds: float = 40.0, first_seed: int = 9000) -> list[Piece]:
    """80 pieces whose notated beat is drawn uniformly in BPM over ISSUE_BPM_RANGE (compound metres' dotted
    quarter over 60-120), whatever the style, and stays in that range from start to end.

    The other sets draw each style's tempo from its own range, so they hold few pieces at 135-180 BPM (20 of the
    160 tuning pieces, 8 of the fourth set's 80) and many below 90: settings chosen on them fit slow music, and
    a set spread evenly over 60-180 BPM holds 37.5 % of its simple-metre pieces there. This one holds 19 of 80
    (its compound metres stop at 120, and tempo changes move some). Every other piece is a "classic" one (any
    metre, any ensemble), the rest cycle through the other styles, their textures played at tempos they are not
    usually played at. Halves as ``second_set_tuning_half``."""
    pieces = []
    others = [style for style in STYLES if style != "classic"]
    for index in range(80):
        seed = first_seed + index
        rng = np.random.default_rng(seed + 50_000)
        style = "classic" if index % 2 == 0 else others[(index // 2) % len(others)]
        spec = STYLES[style]
        within = index // 2 if style == "classic" else index // (2 * len(others))
        metre = spec.metres[(within + index // 7) % len(spec.metres)]
        high = 120.0 if METRES[metre][1] == 1.5 else ISSUE_BPM_RANGE[1]
        bpm = float(rng.uniform(ISSUE_BPM_RANGE[0], high))
        change = CHANGES[(index // 2) % len(CHANGES)]
        ensemble = spec.ensembles[(within + index // 3) % len(spec.ensembles)]
        drums = {"always": True, "never": False, "half": within % 2 == 1, "fifth": index % 5 == 2}[spec.drums]
        jitter_s = (0.0, 0.008, 0.012)[index % 3]
        pieces.append(style_piece(seed, style, metre, bpm, change, ensemble, seconds, jitter_s, drums,
                                  ISSUE_BPM_RANGE))
    return pieces


def sixth_set(seconds: float = 40.0) -> list[Piece]:
    """80 pieces drawn as ``fifth_set``'s are, with seeds from 11000: held back whole, drawn after the onset-density
    prior had been chosen and checked on the other held-back sets, for a first reading of where it stands."""
    return fifth_set(seconds, first_seed=11000)


def seventh_set(seconds: float = 40.0) -> list[Piece]:
    """160 tuning pieces for the second look (engine/metre.py ``second_look``), which has more weights to fit than
    the 200 tuning pieces of the first, second, third and fifth sets would bear alone: 80 drawn as ``fifth_set``'s
    (seeds from 20000) and 80 as ``second_set``'s (seeds from 22000, each style in its own tempo range)."""
    return fifth_set(seconds, first_seed=20000) + second_set(seconds, first_seed=22000)


def fourteenth_set(seconds: float = 40.0) -> list[Piece]:
    """320 more tuning pieces, to see whether the second look's fit on the 360 before them was short of data (it was
    not: engine/metre.py LOOK_WEIGHTS): 160 drawn as ``fifth_set``'s (seeds from 40000 and 40100) and 160 as
    ``second_set``'s (seeds from 42000 and 42100, each style in its own tempo range)."""
    return (fifth_set(seconds, first_seed=40000) + fifth_set(seconds, first_seed=40100)
            + second_set(seconds, first_seed=42000) + second_set(seconds, first_seed=42100))


def eighth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn after the second look had been fitted, for its first check: 80 as
    ``fifth_set``'s (seeds from 13000) and 80 as ``fourth_set``'s (seeds from 15000, every beat within
    ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=13000) + second_set(seconds, first_seed=15000, limits=ISSUE_BPM_RANGE)


def ninth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn after the compound look (engine/metre.py ``compound_look``) had been chosen,
    for its first check: 80 as ``fifth_set``'s (seeds from 17000) and 80 as ``fourth_set``'s (seeds from 19000,
    every beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=17000) + second_set(seconds, first_seed=19000, limits=ISSUE_BPM_RANGE)


def tenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn for the first check of the tempo's running median (engine/rhythm.py
    ``Rhythm.tempo_bpm``): rendered before its setting was chosen and scored only after. 80 as ``fifth_set``'s
    (seeds from 24000) and 80 as ``fourth_set``'s (seeds from 26000, every beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=24000) + second_set(seconds, first_seed=26000, limits=ISSUE_BPM_RANGE)


def eleventh_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn after the tempo curve's fold into one octave (engine/beats.py
    ``folded``) had been chosen, for its first check: 80 as ``fifth_set``'s (seeds from 28000) and 80 as
    ``fourth_set``'s (seeds from 30000, every beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=28000) + second_set(seconds, first_seed=30000, limits=ISSUE_BPM_RANGE)


def twelfth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn before the beat ceiling (engine/metre.py ``below_the_ceiling``) was chosen
    and scored only after, for its first check: 80 as ``fifth_set``'s (seeds from 32000) and 80 as ``fourth_set``'s
    (seeds from 34000, every beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=32000) + second_set(seconds, first_seed=34000, limits=ISSUE_BPM_RANGE)


def thirteenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn once a refit of the second look with every 20-BPM band weighed alike had
    been chosen on the tuning pieces, for its check (scored once with it and once without; it lost, and was not
    kept: docs/tempo.md): 80 as ``fifth_set``'s (seeds from 36000) and 80 as ``fourth_set``'s (seeds from 38000, every beat
    within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=36000) + second_set(seconds, first_seed=38000, limits=ISSUE_BPM_RANGE)


def fifteenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, rendered to check a refit of the second look on the fourteenth set's tuning
    pieces too; the refit gained nothing on the tuning pieces and was not made, so the set was scored once, with the
    tracker as it is. 80 as ``fifth_set``'s (seeds from 44000) and 80 as ``fourth_set``'s (seeds from 46000, every
    beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=44000) + second_set(seconds, first_seed=46000, limits=ISSUE_BPM_RANGE)


def sixteenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn and rendered before the second look's harmonic-rhythm feature
    (engine/metre.py LOOK_FEATURES) was chosen, and scored only after, for its check: 80 as ``fifth_set``'s (seeds
    from 48000) and 80 as ``fourth_set``'s (seeds from 50000, every beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=48000) + second_set(seconds, first_seed=50000, limits=ISSUE_BPM_RANGE)


def seventeenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn and rendered at the start of stop 58, before the beat's floor was chosen,
    scored after it once each way, and again for the closing tempo at a step (never used to choose either): 80 as
    ``fifth_set``'s (seeds from 52000) and 80 as ``fourth_set``'s (seeds from 54000, every beat within
    ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=52000) + second_set(seconds, first_seed=54000, limits=ISSUE_BPM_RANGE)


def eighteenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn and rendered during stop 58, after the beat's floor had been chosen and
    checked and before the closing tempo at a step (engine/rhythm.py TEMPO_STEP_GAP) had been checked, and scored
    only after both: 80 as ``fifth_set``'s (seeds from 56000) and 80 as ``fourth_set``'s (seeds from 58000, every beat
    within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=56000) + second_set(seconds, first_seed=58000, limits=ISSUE_BPM_RANGE)


def nineteenth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn at the end of stop 58 and scored with the tracker as it was left (and once
    with both of that stop's changes off, for the record; no setting was chosen or checked on it): a fresh reading of
    where it stands. 80 as ``fifth_set``'s (seeds from 60000) and 80 as ``fourth_set``'s (seeds from 62000, every beat
    within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=60000) + second_set(seconds, first_seed=62000, limits=ISSUE_BPM_RANGE)


def twentieth_set(seconds: float = 40.0) -> list[Piece]:
    """160 pieces held back whole, drawn at stop 59 with no change to the tracker since the nineteenth and scored
    once: a second fresh reading of where the tracker stands. 80 as ``fifth_set``'s (seeds from 64000) and 80 as
    ``fourth_set``'s (seeds from 66000, every beat within ISSUE_BPM_RANGE)."""
    return fifth_set(seconds, first_seed=64000) + second_set(seconds, first_seed=66000, limits=ISSUE_BPM_RANGE)


def second_set_tuning_half(pieces: list[Piece]) -> list[bool]:
    """Which pieces settings are chosen on: the pieces sorted by (style, tempo curve, metre, name) and taken
    alternately, so each half holds every style with every kind of tempo curve, 40 pieces each."""
    order = sorted(range(len(pieces)), key=lambda i: (pieces[i].style, pieces[i].change, pieces[i].metre, pieces[i].name))
    tuning = [False] * len(pieces)
    for rank, index in enumerate(order):
        tuning[index] = rank % 2 == 0
    return tuning
