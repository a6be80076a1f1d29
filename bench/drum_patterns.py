"""Drum patterns for the drum transcription bench, written as General MIDI channel-10 files with mido.

Each pattern is a style (rock, funk, shuffle, half-time, 6/8, disco, ride groove, punk, ballad,
sixteenth-note rock) played for a number of bars at a tempo, with a fill every few bars (tom runs,
snare rolls) and a crash on the bar after it; the seed varies the kick placement, open hats, ghost
notes, tempo and dynamics. Timing is humanised by a few milliseconds and velocities vary, so the
reference onsets are not on a grid.

The reference is what was played, as (seconds, GM key, velocity); :data:`KEY_CLASS` maps each key
to the class the bench scores it in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mido
import numpy as np

TICKS_PER_BEAT = 960
DRUM_CHANNEL = 9

KICK, SNARE, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 38, 42, 44, 46
TOM_FLOOR, TOM_LOW, TOM_MID, TOM_HIGH = 41, 45, 47, 50
CRASH, CRASH_2, RIDE, RIDE_BELL = 49, 57, 51, 53
TOMS_DOWN = (TOM_HIGH, TOM_MID, TOM_LOW, TOM_FLOOR)

# The class each GM key is scored in (the classes the transcriber writes).
KEY_CLASS = {
    35: "kick", 36: "kick",
    38: "snare", 40: "snare",
    42: "hihat", 44: "hihat", 46: "hihat",
    41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom",
    49: "crash", 52: "crash", 55: "crash", 57: "crash",
    51: "ride", 53: "ride", 59: "ride",
}
CLASSES = ("kick", "snare", "hihat", "tom", "crash", "ride")


@dataclass(frozen=True)
class Hit:
    beat: float  # in quarter notes from the start
    key: int
    velocity: int


@dataclass(frozen=True)
class Pattern:
    style: str
    variant: int

    @property
    def name(self) -> str:
        return f"{self.style}-{self.variant}"

    @property
    def seed(self) -> int:
        return 1000 * (list(STYLES).index(self.style) + 1) + self.variant


class Bars:
    """Hits collected bar by bar; a bar is ``beats_per_bar`` quarter notes long."""

    def __init__(self, rng: np.random.Generator, beats_per_bar: float):
        self.rng = rng
        self.beats_per_bar = beats_per_bar
        self.hits: list[Hit] = []
        self.bar = 0

    def hit(self, beat_in_bar: float, key: int, velocity: float) -> None:
        velocity = int(np.clip(round(velocity + self.rng.normal(0, 5)), 1, 127))
        self.hits.append(Hit(self.bar * self.beats_per_bar + beat_in_bar, key, velocity))

    def next_bar(self) -> None:
        self.bar += 1


def _fill(bars: Bars, start_beat: float) -> None:
    """A fill from ``start_beat`` to the bar's end: toms high to low, or a snare run into the toms."""
    rng = bars.rng
    steps = int(round((bars.beats_per_bar - start_beat) / 0.25))
    kind = rng.integers(3)
    for step in range(steps):
        beat = start_beat + step * 0.25
        if kind == 0:  # sixteenths down the toms
            key = TOMS_DOWN[min(len(TOMS_DOWN) - 1, step * len(TOMS_DOWN) // steps)]
        elif kind == 1:  # snare then toms
            key = SNARE if step < steps // 2 else TOMS_DOWN[(step - steps // 2) % len(TOMS_DOWN)]
        else:  # eighth notes alternating snare and a tom, with kicks under them
            if step % 2:
                continue
            key = SNARE if step % 4 == 0 else TOMS_DOWN[(step // 4) % len(TOMS_DOWN)]
            bars.hit(beat, KICK, 85)
        bars.hit(beat, key, 90 + 20 * (step % 4 == 0))


def _bar_then_fill(bars: Bars, groove: Callable[[Bars, bool, float], None], fill_every: int, count: int) -> None:
    """``count`` bars of ``groove``; every ``fill_every``-th bar ends in a fill, the next starts on a crash."""
    crash_next = True
    for index in range(count):
        fill = index % fill_every == fill_every - 1
        fill_from = bars.beats_per_bar - (2.0 if bars.rng.random() < 0.5 else 1.0) if fill else bars.beats_per_bar
        if crash_next:
            bars.hit(0.0, CRASH if bars.rng.random() < 0.7 else CRASH_2, 105)
        groove(bars, crash_next, fill_from)
        if fill:
            _fill(bars, fill_from)
        crash_next = fill
        bars.next_bar()
    bars.hit(0.0, CRASH, 110)
    bars.hit(0.0, KICK, 110)


def _hats(bars: Bars, step: float, fill_from: float, skip_first: bool, accent_every: float = 1.0,
          open_chance: float = 0.0, velocity: float = 70) -> None:
    for beat in np.arange(0.0, fill_from - 1e-9, step):
        if skip_first and beat == 0.0:
            continue
        accent = abs(beat / accent_every - round(beat / accent_every)) < 1e-9
        key = OPEN_HAT if bars.rng.random() < open_chance and not accent else CLOSED_HAT
        bars.hit(beat, key, velocity + (15 if accent else 0))


def _play(bars: Bars, beats, key: int, velocity: float, fill_from: float) -> None:
    """``key`` on each of ``beats`` that comes before the bar's fill."""
    for beat in beats:
        if beat < fill_from:
            bars.hit(beat, key, velocity)


def rock(rng: np.random.Generator, bars: Bars, count: int) -> None:
    kicks = [(0.0, 2.0), (0.0, 2.0, 2.5), (0.0, 1.5, 2.0), (0.0, 0.5, 2.0, 3.5)][rng.integers(4)]

    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        _hats(b, 0.5, fill_from, crashed, open_chance=0.08)
        _play(b, kicks, KICK, 100, fill_from)
        _play(b, (1.0, 3.0), SNARE, 105, fill_from)

    _bar_then_fill(bars, groove, 4, count)


def rock16(rng: np.random.Generator, bars: Bars, count: int) -> None:
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        _hats(b, 0.25, fill_from, crashed, accent_every=0.5, velocity=55)
        _play(b, (0.0, 0.75, 2.0, 2.5) if b.rng.random() < 0.5 else (0.0, 1.75, 2.25), KICK, 100, fill_from)
        _play(b, (1.0, 3.0), SNARE, 105, fill_from)

    _bar_then_fill(bars, groove, 8, count)


def funk(rng: np.random.Generator, bars: Bars, count: int) -> None:
    kicks = [(0.0, 0.75, 2.5), (0.0, 1.75, 2.25, 3.5), (0.0, 0.5, 2.75)][rng.integers(3)]

    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        for beat in np.arange(0.0, fill_from - 1e-9, 0.25):
            if crashed and beat == 0.0:
                continue
            if beat in (1.0, 3.0):
                continue  # the hand is on the snare
            open_hat = beat % 1.0 == 0.5 and b.rng.random() < 0.15
            b.hit(beat, OPEN_HAT if open_hat else CLOSED_HAT, 75 if beat % 0.5 == 0 else 50)
        _play(b, kicks, KICK, 100, fill_from)
        _play(b, (1.0, 3.0), SNARE, 110, fill_from)
        for beat in (1.75, 2.25, 3.25, 3.75):  # ghost notes
            if beat < fill_from and b.rng.random() < 0.6 and beat not in kicks:
                b.hit(beat, SNARE, 32)

    _bar_then_fill(bars, groove, 4, count)


def shuffle(rng: np.random.Generator, bars: Bars, count: int) -> None:
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        for beat in range(4):
            for offset in (0.0, 2 / 3):
                position = beat + offset
                if position < fill_from and not (crashed and position == 0.0):
                    b.hit(position, CLOSED_HAT, 80 if offset == 0 else 60)
        for beat in (0.0, 2.0, 2.0 + 2 / 3):
            if beat < fill_from and (beat != 2.0 + 2 / 3 or b.rng.random() < 0.5):
                b.hit(beat, KICK, 100)
        _play(b, (1.0, 3.0), SNARE, 105, fill_from)
        for beat in (1 + 2 / 3, 3 + 2 / 3):  # ghost triplets before the backbeat
            if beat < fill_from and b.rng.random() < 0.5:
                b.hit(beat, SNARE, 35)

    _bar_then_fill(bars, groove, 4, count)


def halftime(rng: np.random.Generator, bars: Bars, count: int) -> None:
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        _hats(b, 0.25 if b.rng.random() < 0.5 else 0.5, fill_from, crashed, accent_every=1.0, open_chance=0.05,
              velocity=60)
        _play(b, (0.0, 0.75, 1.5, 3.25) if b.rng.random() < 0.5 else (0.0, 1.0, 3.5), KICK, 100, fill_from)
        if 2.0 < fill_from:
            b.hit(2.0, SNARE, 112)
        if 3.75 < fill_from and b.rng.random() < 0.4:
            b.hit(3.75, SNARE, 30)

    _bar_then_fill(bars, groove, 4, count)


def six_eight(rng: np.random.Generator, bars: Bars, count: int) -> None:
    # A 6/8 bar is three quarter notes: six eighths.
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        _hats(b, 0.5, fill_from, crashed, accent_every=1.5, velocity=65)
        _play(b, (0.0, 2.5) if b.rng.random() < 0.6 else (0.0, 1.0, 2.5), KICK, 100, fill_from)
        if 1.5 < fill_from:
            b.hit(1.5, SNARE, 105)

    _bar_then_fill(bars, groove, 4, count)


def disco(rng: np.random.Generator, bars: Bars, count: int) -> None:
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        for beat in range(4):
            if beat < fill_from:
                b.hit(beat, KICK, 105)
                if not (crashed and beat == 0):
                    b.hit(beat, CLOSED_HAT, 60)
            if beat + 0.5 < fill_from:
                b.hit(beat + 0.5, OPEN_HAT, 80)
        _play(b, (1.0, 3.0), SNARE, 105, fill_from)

    _bar_then_fill(bars, groove, 8, count)


def ride_groove(rng: np.random.Generator, bars: Bars, count: int) -> None:
    swing = rng.random() < 0.5

    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        positions = (0.0, 1.0, 1 + 2 / 3, 2.0, 3.0, 3 + 2 / 3) if swing else tuple(np.arange(0.0, 4.0, 0.5))
        for beat in positions:
            if beat < fill_from and not (crashed and beat == 0.0):
                key = RIDE_BELL if beat % 1.0 == 0 and b.rng.random() < 0.1 else RIDE
                b.hit(beat, key, 80)
        for beat in (1.0, 3.0):
            if beat < fill_from:
                b.hit(beat, PEDAL_HAT, 70)
                b.hit(beat, SNARE, 95 if not swing else 60)
        _play(b, (0.0, 2.5) if not swing else (0.0,), KICK, 95, fill_from)

    _bar_then_fill(bars, groove, 4, count)


def punk(rng: np.random.Generator, bars: Bars, count: int) -> None:
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        _hats(b, 0.5, fill_from, crashed, velocity=85)
        for beat in np.arange(0.0, 4.0, 1.0):
            if beat < fill_from:
                b.hit(beat, KICK if beat % 2 == 0 else SNARE, 110)
            if beat + 0.5 < fill_from and b.rng.random() < 0.3:
                b.hit(beat + 0.5, KICK, 95)

    _bar_then_fill(bars, groove, 8, count)


def ballad(rng: np.random.Generator, bars: Bars, count: int) -> None:
    def groove(b: Bars, crashed: bool, fill_from: float) -> None:
        _hats(b, 0.25, fill_from, crashed, accent_every=1.0, velocity=45, open_chance=0.03)
        _play(b, (0.0, 1.5, 2.5) if b.rng.random() < 0.5 else (0.0, 2.0), KICK, 90, fill_from)
        _play(b, (1.0, 3.0), SNARE, 95, fill_from)

    _bar_then_fill(bars, groove, 4, count)


# style -> (groove, tempo range in BPM, quarter notes per bar)
STYLES: dict[str, tuple[Callable, tuple[int, int], float]] = {
    "rock": (rock, (96, 140), 4.0),
    "rock16": (rock16, (80, 112), 4.0),
    "funk": (funk, (88, 112), 4.0),
    "shuffle": (shuffle, (80, 130), 4.0),
    "halftime": (halftime, (70, 90), 4.0),
    "six_eight": (six_eight, (100, 150), 3.0),
    "disco": (disco, (110, 128), 4.0),
    "ride": (ride_groove, (100, 170), 4.0),
    "punk": (punk, (160, 180), 4.0),
    "ballad": (ballad, (70, 84), 4.0),
}


def all_patterns(variants: int) -> list[Pattern]:
    return [Pattern(style, variant) for style in STYLES for variant in range(variants)]


def split(patterns: list[Pattern]) -> tuple[list[Pattern], list[Pattern]]:
    """(tuning, held back): every style in both halves, no pattern in both."""
    return [p for p in patterns if p.variant % 2 == 0], [p for p in patterns if p.variant % 2 == 1]


@dataclass
class Played:
    onsets: list[tuple[float, int, int]]  # (seconds, key, velocity): the reference
    tempo_bpm: float
    reverb: int  # CC 91, the reverb send
    seconds: float
    kit_program: int = 0  # the GM drum kit (program change on channel 10): 0 is the Standard kit

    @property
    def midi(self) -> mido.MidiFile:
        return concatenate([(0.0, self)])


def play(pattern: Pattern, seconds: float = 24.0) -> Played:
    """The pattern played for about ``seconds``, as its reference onsets."""
    rng = np.random.default_rng(pattern.seed)
    groove, (slowest, fastest), beats_per_bar = STYLES[pattern.style]
    tempo = float(rng.integers(slowest, fastest + 1))
    bar_s = beats_per_bar * 60.0 / tempo
    count = max(4, int(round(seconds / bar_s)))
    bars = Bars(rng, beats_per_bar)
    groove(rng, bars, count)
    lead_in = 0.5  # seconds of silence before the first hit
    # Humanised timing: each hit a few milliseconds off the grid, never before the start.
    jitter = rng.normal(0.0, 0.004, len(bars.hits))
    onsets = sorted(
        (max(0.0, lead_in + hit.beat * 60.0 / tempo + float(offset)), hit.key, hit.velocity)
        for hit, offset in zip(bars.hits, jitter, strict=True)
    )
    return Played(onsets, tempo, int(rng.integers(0, 70)), onsets[-1][0] + 2.5)


def concatenate(takes: list[tuple[float, Played]]) -> mido.MidiFile:
    """One channel-10 MIDI file playing each take from its start time (seconds), with its reverb."""
    tempo_us = mido.bpm2tempo(120)
    ticks_per_second = TICKS_PER_BEAT * 1e6 / tempo_us
    events = []
    for start, take in takes:
        first = round(start * ticks_per_second)
        events.append((first, 0, mido.Message("control_change", channel=DRUM_CHANNEL, control=91, value=take.reverb)))
        events.append((first, 0, mido.Message("program_change", channel=DRUM_CHANNEL, program=take.kit_program)))
        for seconds, key, velocity in take.onsets:
            on = round((start + seconds) * ticks_per_second)
            events.append((on, 2, mido.Message("note_on", channel=DRUM_CHANNEL, note=key, velocity=velocity)))
            events.append((on + TICKS_PER_BEAT // 8, 1, mido.Message("note_off", channel=DRUM_CHANNEL, note=key)))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=tempo_us, time=0))
    track.append(mido.Message("control_change", channel=DRUM_CHANNEL, control=93, value=0, time=0))
    last = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - last))
        last = tick
    end = max((start + take.seconds for start, take in takes), default=0.0)
    track.append(mido.MetaMessage("end_of_track", time=max(0, round(end * ticks_per_second) - last)))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    return midi
