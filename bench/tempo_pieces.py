"""Dev-set music for the tempo benchmark: pieces with a known metre, tempo (curve) and beat grid.

Each piece is written in beats on a grid (16ths, or 8ths in 6/8), then laid out in seconds by its
tempo curve: steady, a step change at a bar line, or a gradual accelerando/ritardando. The truth
the benchmark scores against (every beat's and downbeat's time, the written grid) comes from the
same numbers that place the notes, so it cannot drift from the audio. The musical material follows
the habits of real accompaniment (a bass note on the downbeat, a chord per bar, the metre's own
accompaniment figure) and a melody whose note values suit the tempo: more subdivision when slow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mido
import numpy as np
from pieces import TICKS_PER_BEAT as TICKS_PER_QUARTER
from pieces import one_track_midi

DRUM_CHANNEL = 9
KICK, SNARE, CLOSED_HAT = 36, 38, 42
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 4, 5, 3), (1, 4, 0, 0))

# Metre: (beats per bar, quarters per beat, the written grid in beats). 6/8 counts dotted quarters.
METRES = {"2/4": (2, 1.0, 0.25), "3/4": (3, 1.0, 0.25), "4/4": (4, 1.0, 0.25), "6/8": (2, 1.5, 1 / 3)}
# General MIDI programs (0-based) per ensemble: (accompaniment, bass, melody); None: the accompaniment's.
ENSEMBLES = {
    "piano": (0, None, None),
    "guitars": (25, 32, 24),
    "strings": (48, 42, 40),
    "band": (4, 33, 73),
    "organ-flute": (19, 32, 73),
}


@dataclass
class Piece:
    """A piece in beats plus the tempo curve that puts the beats in seconds."""

    name: str
    metre: str
    ensemble: str
    beats_per_bar: int
    quarters_per_beat: float
    grid: float  # the written grid, in beats
    beat_times: np.ndarray  # seconds of beat 0, 1, 2, ... (one past the last note)
    notes: list[tuple[float, float, int, int, int]] = field(default_factory=list)  # start, length (beats), channel, pitch, velocity
    programs: dict[int, int] = field(default_factory=dict)
    jitter_s: float = 0.0
    style: str = "classic"  # the accompaniment and melody habits (bench/tempo_styles.py)
    change: str = "steady"  # the tempo curve: steady, step or gradual
    key: tuple[int, str] | None = None  # (tonic pitch class, "major" or "minor") its harmony is written in

    def add(self, start: float, length: float, channel: int, pitch: int, velocity: int) -> None:
        if 21 <= pitch <= 108 and length > 0:
            self.notes.append((start, length, channel, int(pitch), int(np.clip(velocity, 1, 127))))

    def seconds(self, beats) -> np.ndarray:
        """Beat positions to seconds along the tempo curve (linear within a beat)."""
        return np.interp(beats, np.arange(len(self.beat_times)), self.beat_times)

    @property
    def downbeat_times(self) -> np.ndarray:
        return self.beat_times[:: self.beats_per_bar]

    @property
    def median_tempo_bpm(self) -> float:
        return float(60.0 / np.median(np.diff(self.beat_times)))

    def to_midi(self, rng: np.random.Generator) -> mido.MidiFile:
        """A MIDI file whose tempo map is the tempo curve (one set_tempo per beat)."""
        ticks_per_beat = round(TICKS_PER_QUARTER * self.quarters_per_beat)
        events: list[tuple[int, int, mido.Message]] = []
        for index, seconds in enumerate(np.diff(self.beat_times)):
            tempo = round(seconds / self.quarters_per_beat * 1e6)
            events.append((index * ticks_per_beat, 0, mido.MetaMessage("set_tempo", tempo=tempo)))
        numerator, denominator = (int(part) for part in self.metre.split("/"))
        events.append((0, 0, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)))
        for start, length, channel, pitch, velocity in self.notes:
            # Human timing, applied in beats so that the tempo map stays the truth.
            shift = rng.normal(0.0, self.jitter_s) / np.diff(self.beat_times).mean() if self.jitter_s else 0.0
            on = max(0, round((start + shift) * ticks_per_beat))
            off = max(on + 1, round((start + shift + length) * ticks_per_beat))
            events.append((on, 2, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
            events.append((off, 1, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        return one_track_midi(events, self.programs, tail_ticks=ticks_per_beat)


def tempo_curve(rng: np.random.Generator, kind: str, start_bpm: float, beats: int, beats_per_bar: int,
                limits: tuple[float, float] | None = None) -> np.ndarray:
    """Seconds of each beat for a steady tempo, a step change at a bar line, or a gradual change.

    The change is to 0.8 or 1.25 times the start. With ``limits`` (BPM), a change that would leave them goes
    the other way, so the whole curve stays inside (the first three sets have none: their beats reach 47-221 BPM).
    """
    bpm = np.full(beats, start_bpm)
    if kind != "steady":
        factor = float(rng.choice([0.8, 1.25]))
        if limits is not None and not limits[0] <= start_bpm * factor <= limits[1]:
            factor = 1.0 / factor
        bar = int(rng.integers(4, max(5, beats // beats_per_bar - 4)))
        where = bar * beats_per_bar
        if kind == "step":
            bpm[where:] = start_bpm * factor
        else:  # over four bars
            span = 4 * beats_per_bar
            ramp = np.clip((np.arange(beats) - where) / span, 0.0, 1.0)
            bpm = start_bpm * factor**ramp
    return np.concatenate(([0.0], np.cumsum(60.0 / bpm)))


class Harmony:
    """A key and a chord per bar from a short progression."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.tonic = 48 + int(rng.integers(0, 12))
        self.scale = MAJOR if rng.random() < 0.7 else MINOR
        self.progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]

    @property
    def key(self) -> tuple[int, str]:
        return self.tonic % 12, "major" if self.scale == MAJOR else "minor"

    def chord(self, bar: int) -> list[int]:
        degree = self.progression[bar % len(self.progression)]
        return [self.pitch(degree + 2 * step) for step in range(3)]

    def pitch(self, degree: int) -> int:
        octave, index = divmod(degree, len(self.scale))
        return self.tonic + 12 * octave + self.scale[index]

    def step(self, pitch: int, low: int, high: int) -> int:
        degrees = [d for d in range(-14, 22) if low <= self.pitch(d) <= high]
        current = min(degrees, key=lambda d: abs(self.pitch(d) - pitch))
        move = int(self.rng.choice([-2, -1, -1, 1, 1, 2, -3, 3, 0]))
        return self.pitch(min(max(current + move, degrees[0]), degrees[-1]))


def accompaniment(piece: Piece, rng: np.random.Generator, bar_start: float, chord: list[int], channel: int) -> None:
    """The metre's own figure: oom-pah, waltz, broken chords or 6/8's rocking eighths."""
    low = [pitch - 12 for pitch in chord]
    if piece.metre == "6/8":
        for beat in range(2):
            for third in range(3):
                pitch = low[(third + 1) % 3] if third else low[0]
                piece.add(bar_start + beat + third / 3, 1 / 3 * 0.9, channel, pitch + 12 * (third == 2),
                          62 + 10 * (third == 0) + rng.integers(-6, 6))
        return
    figure = rng.random() < 0.5
    for beat in range(piece.beats_per_bar):
        if beat == 0:
            continue
        if figure:  # broken chord in eighths
            for half in range(2):
                piece.add(bar_start + beat + half / 2, 0.45, channel, low[(beat + half) % 3] + 12, 55 + rng.integers(-6, 6))
        else:  # block chord on the off-beats (the "pah" of oom-pah, the "pah-pah" of a waltz)
            for pitch in chord:
                piece.add(bar_start + beat, 0.8, channel, pitch, 58 + rng.integers(-6, 6))


def melody_lengths(rng: np.random.Generator, piece: Piece, bpm: float) -> list[float]:
    """A bar of note values in beats; slower tempos use more subdivision, as written music does."""
    if piece.metre == "6/8":
        cells = [[1 / 3] * 3, [2 / 3, 1 / 3], [1.0], [1 / 3, 2 / 3], [1 / 6, 1 / 6, 1 / 3, 1 / 3]]
        if bpm > 90:
            cells = cells[:4]
    else:
        cells = [[1.0], [0.5, 0.5], [1.5, 0.5], [2.0], [0.75, 0.25], [0.25] * 4, [0.5, 0.25, 0.25]]
        if bpm > 140:
            cells = cells[:4]
        elif bpm > 100:
            cells = cells[:5]
    lengths: list[float] = []
    while sum(lengths) < piece.beats_per_bar - 1e-9:
        cell = cells[int(rng.integers(len(cells)))]
        if sum(lengths) + sum(cell) <= piece.beats_per_bar + 1e-9:
            lengths.extend(cell)
        elif sum(lengths) + 1 <= piece.beats_per_bar + 1e-9:
            lengths.append(1.0)
        else:
            lengths.append(piece.beats_per_bar - sum(lengths))
    return lengths


def make_piece(seed: int, metre: str, bpm: float, change: str, ensemble: str, seconds: float = 40.0,
               jitter_s: float = 0.0, drums: bool = False, ensembles: dict = ENSEMBLES,
               limits: tuple[float, float] | None = None) -> Piece:
    """A piece of about ``seconds`` in ``metre`` starting at ``bpm`` (notated beats per minute)."""
    rng = np.random.default_rng(seed)
    beats_per_bar, quarters_per_beat, grid = METRES[metre]
    bars = max(8, int(round(seconds * bpm / 60 / beats_per_bar)))
    beats = bars * beats_per_bar
    accompaniment_program, bass_program, melody_program = ensembles[ensemble]
    piece = Piece(
        name=f"{seed:03d}-{metre.replace('/', '')}-{round(bpm)}bpm-{change}-{ensemble}{'-drums' if drums else ''}",
        metre=metre, ensemble=ensemble, beats_per_bar=beats_per_bar, quarters_per_beat=quarters_per_beat,
        grid=grid, beat_times=tempo_curve(rng, change, bpm, beats + 1, beats_per_bar, limits), jitter_s=jitter_s,
        change=change,
    )
    channels = {0: accompaniment_program, 1: bass_program or accompaniment_program,
                2: melody_program or accompaniment_program}
    piece.programs = dict(channels)
    harmony = Harmony(rng)
    piece.key = harmony.key
    melody = harmony.pitch(7)
    for bar in range(bars):
        start = float(bar * beats_per_bar)
        chord = harmony.chord(bar)
        root = chord[0] - 12 if chord[0] - 12 >= 36 else chord[0]
        piece.add(start, beats_per_bar * 0.5 if beats_per_bar > 2 else 0.9, 1, root, 88)
        if beats_per_bar == 4 and rng.random() < 0.5:
            piece.add(start + 2, 1.8, 1, root + 7, 74)
        if metre == "6/8" and rng.random() < 0.5:
            piece.add(start + 1, 0.9, 1, root + 7, 74)
        accompaniment(piece, rng, start, chord, 0)
        position = 0.0
        for length in melody_lengths(rng, piece, bpm):
            if rng.random() < 0.1 and position > 0:  # a rest
                position += length
                continue
            melody = harmony.step(melody, harmony.tonic + 12, harmony.tonic + 31)
            accent = 12 if position == 0 else 0
            piece.add(start + position, length * 0.92, 2, melody, 78 + accent + rng.integers(-8, 8))
            position += length
        if drums:
            piece.programs[DRUM_CHANNEL] = 0
            for beat in range(beats_per_bar):
                piece.add(start + beat, 0.1, DRUM_CHANNEL, KICK if beat == 0 else SNARE, 95 if beat == 0 else 70)
                for sub in (1 / 3, 2 / 3) if metre == "6/8" else (0.5,):
                    piece.add(start + beat + sub, 0.1, DRUM_CHANNEL, CLOSED_HAT, 50)
    return piece


def dev_set(count: int = 40, seconds: float = 40.0) -> list[Piece]:
    """``count`` pieces spread over metres, tempos 60-180 BPM, tempo changes and ensembles (deterministic)."""
    pieces = []
    metres = list(METRES)
    changes = ["steady", "steady", "step", "gradual"]
    ensembles = list(ENSEMBLES)
    for index in range(count):
        rng = np.random.default_rng(1000 + index)
        metre = metres[index % len(metres)]
        # 6/8's dotted-quarter beat is slower in practice: 40-120 would be usual; 60-120 here.
        low, high = (60.0, 120.0) if metre == "6/8" else (60.0, 180.0)
        bpm = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        change = changes[(index // len(metres)) % len(changes)]
        ensemble = ensembles[(index * 3) % len(ensembles)]
        pieces.append(make_piece(index, metre, bpm, change, ensemble, seconds,
                                 jitter_s=0.008 if index % 3 == 0 else 0.0, drums=index % 5 == 2))
    return pieces


def tuning_half(pieces: list[Piece]) -> list[bool]:
    """Which pieces settings are chosen on: every other piece of each (metre, tempo change) kind, so both
    halves hold every metre with every kind of tempo curve."""
    seen: dict[tuple[str, str], int] = {}
    chosen = []
    for piece in pieces:
        kind = (piece.metre, piece.change)
        chosen.append(seen.get(kind, 0) % 2 == 0)
        seen[kind] = seen.get(kind, 0) + 1
    return chosen
