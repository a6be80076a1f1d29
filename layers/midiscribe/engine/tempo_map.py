"""The MIDI file's tempo map: musical time (quarter notes, bars) laid over real time (seconds).

With a tracked rhythm, the map follows the beats: each beat of the music is a beat of the file, so
a DAW's bar lines fall on the music's bars, while every note keeps its time in seconds (notes are
placed by interpolating between beats, and the set_tempo events make the file's beats land where
the music's are). Where the beats keep a steady tempo the map writes one set_tempo for the whole
stretch instead of one per beat. Time 0 is a bar line in MIDI; music that starts with a pickup
gets a short first bar of its own time signature, as notation programs write an anacrusis.

Without a rhythm, or when the user gave ``midi_tempo``, the map is one constant tempo in 4/4:
basic-pitch's file (in the ``time_signature`` the user gave, if any).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mido
import numpy as np

from .errors import InvalidOptionsError

if TYPE_CHECKING:
    from .rhythm import Rhythm
    from .transcription import Transcription

DEFAULT_TEMPO_BPM = 120.0  # basic-pitch's, for files without a tracked rhythm
# MIDI stores tempo as microseconds per quarter note in 24 bits.
MAX_TEMPO_MICROSECONDS = 0xFFFFFF
# Ticks per quarter: a multiple of this, so that 16ths and triplets of every kind are whole ticks,
# and enough of them that a tick is at most a millisecond at the slowest tempo in the file.
TICK_BASE = 480
MAX_TICKS_PER_QUARTER = 0x7FFF
# One set_tempo covers a stretch of beats while a constant tempo keeps every beat this close
# (beats are found on 11.6 ms frames, so a steady beat wobbles by about that much).
STEADY_TOLERANCE_S = 0.015
# A first beat sooner than half a period after 0 is given a short pickup beat of its own from 0 only when
# that beat is no faster than this (300 BPM), else it is put at 0. Squeezed into a 50-ms lead-in, a beat
# would be 1200 BPM, a tempo event a DAW may not take as written (one that capped it would move every note
# after it); 300 BPM is a conservative bound, not a measured limit of any one DAW.
SHORTEST_LEAD_S = 60.0 / 300.0


def tempo_microseconds(bpm: float) -> int:
    """The MIDI tempo for ``bpm``, refusing tempos a MIDI file cannot hold (below ~3.58 BPM)."""
    microseconds = round(60_000_000 / bpm)
    if not 1 <= microseconds <= MAX_TEMPO_MICROSECONDS:
        slowest = 60_000_000 / MAX_TEMPO_MICROSECONDS
        raise InvalidOptionsError(
            f"midi_tempo: {bpm} BPM cannot be stored in a MIDI file; use a tempo of at least "
            f"{math.ceil(slowest * 100) / 100} BPM."
        )
    return microseconds


def ticks_per_quarter_for(slowest_tempo_us: int) -> int:
    """Enough ticks per quarter that one tick is at most a millisecond, in multiples of TICK_BASE."""
    needed = math.ceil(slowest_tempo_us / 1000 / TICK_BASE) * TICK_BASE
    return max(TICK_BASE, min(needed, MAX_TICKS_PER_QUARTER // TICK_BASE * TICK_BASE))


@dataclass(frozen=True)
class TempoMap:
    """Grid points (seconds, quarter notes), linear between them and past the last one."""

    times: np.ndarray  # seconds, from 0.0, increasing
    quarters: np.ndarray  # quarter-note positions at ``times``, from 0.0
    bars: tuple[tuple[float, int, int], ...]  # (quarter position, numerator, denominator) of each time signature
    ticks_per_quarter: int
    tempo_changes: tuple[tuple[int, int], ...]  # (tick, microseconds per quarter)

    def quarters_at(self, seconds) -> np.ndarray:
        return _extrapolated_interp(np.asarray(seconds, dtype=np.float64), self.times, self.quarters)

    def seconds_at(self, quarters) -> np.ndarray:
        return _extrapolated_interp(np.asarray(quarters, dtype=np.float64), self.quarters, self.times)

    def ticks(self, seconds) -> np.ndarray:
        """Absolute ticks of absolute seconds: rounding never accumulates, so there is no drift."""
        quarters = self.quarters_at(np.maximum(np.asarray(seconds, dtype=np.float64), 0.0))
        return np.rint(quarters * self.ticks_per_quarter).astype(np.int64)

    def bar_starts(self, until_quarter: float) -> np.ndarray:
        """Quarter positions of every bar line up to ``until_quarter``."""
        starts: list[float] = []
        for index, (position, numerator, denominator) in enumerate(self.bars):
            end = self.bars[index + 1][0] if index + 1 < len(self.bars) else max(until_quarter, position) + 1e-9
            length = numerator * 4 / denominator
            starts.extend(np.arange(position, end, length).tolist())
        return np.array(starts)

    def meta_messages(self) -> list[tuple[int, mido.MetaMessage]]:
        """(absolute tick, message) for the tempo track: set_tempo and time_signature events."""
        messages = [(tick, mido.MetaMessage("set_tempo", tempo=tempo)) for tick, tempo in self.tempo_changes]
        for position, numerator, denominator in self.bars:
            tick = round(position * self.ticks_per_quarter)
            # The metronome clicks on the beat: a dotted quarter (36 MIDI clocks) in compound time.
            clocks = 36 if denominator == 8 and numerator % 3 == 0 else 24
            messages.append((tick, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator,
                                                    clocks_per_click=clocks)))
        return sorted(messages, key=lambda item: (item[0], item[1].type != "set_tempo"))


def _extrapolated_interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp, continued past both ends along the nearest segment; same shape as ``x``."""
    flat = np.atleast_1d(x).astype(np.float64).ravel()
    if len(xp) == 1:
        return (fp[0] + (flat - xp[0])).reshape(np.shape(x))
    result = np.interp(flat, xp, fp)
    before, after = flat < xp[0], flat > xp[-1]
    result[before] = fp[0] + (flat[before] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    result[after] = fp[-1] + (flat[after] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return result.reshape(np.shape(x))


def constant_tempo_map(bpm: float, time_signature: tuple[int, int] = (4, 4)) -> TempoMap:
    """One tempo (quarter notes a minute) for the whole file, in 4/4 unless ``time_signature`` says otherwise."""
    tempo_us = tempo_microseconds(bpm)
    seconds_per_quarter = tempo_us / 1e6
    return TempoMap(
        times=np.array([0.0, seconds_per_quarter]), quarters=np.array([0.0, 1.0]), bars=((0.0, *time_signature),),
        ticks_per_quarter=ticks_per_quarter_for(tempo_us), tempo_changes=((0, tempo_us),),
    )


def grid_points(beats: np.ndarray) -> np.ndarray:
    """The beats with time 0 made a grid point: the lead-in is filled with beats at the first period.

    Beats are added before the first one at its period while they stay at least half a period from
    0; then 0 itself starts the first (between half and one and a half periods long) beat. A first beat
    of the music's closer to 0 than half a period keeps its place, and 0 starts a short beat before it (a
    pickup), when that beat lasts at least SHORTEST_LEAD_S; moving it to 0 would put every note of that
    beat, the first downbeat's among them, off the file's beat by as much as half a period. Sooner than
    that, it is moved to 0. Every grid point is a whole beat, so the file's beats are the music's.
    """
    period = beats[1] - beats[0]
    lead_in = beats[0] - period * np.arange(int(beats[0] // period) + 1, 0, -1)
    points = np.concatenate((lead_in[lead_in >= period / 2], beats))
    if points[0] < min(period / 2, SHORTEST_LEAD_S):
        points[0] = 0.0
        return points
    return np.concatenate(([0.0], points))


def steady_stretches(points: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Indices of grid points that start a stretch of constant tempo (the last point ends the last one), and
    the points with each stretch drawn as a straight line.

    A stretch grows while the tempo line that fits its beats best (least squares) keeps every one of them
    within STEADY_TOLERANCE_S of where it was found. It is drawn from where the last stretch's line ended
    (its first point, which both share) to that fitted line's value at its last point. A line through the
    stretch's first and last beats instead tilted with the error of the beat at either end (beats are found on
    11.6-ms frames): a metronomic take at 130 BPM was written as six tempos from 126 to 136 BPM.
    """
    starts = [0]
    smoothed = np.asarray(points, dtype=np.float64).copy()
    first, end_value = 0, float(points[min(1, len(points) - 1)])

    def draw(start: int, end: int, end_at: float) -> None:
        smoothed[start : end + 1] = np.linspace(smoothed[start], end_at, end - start + 1)

    for last in range(2, len(points)):
        steps = np.arange(last - first + 1, dtype=np.float64)
        found = points[first : last + 1]
        centred = steps - steps.mean()
        slope = float(centred @ (found - found.mean()) / (centred @ centred))
        intercept = float(found.mean() - slope * steps.mean())
        if np.max(np.abs(found - (intercept + slope * steps))) > STEADY_TOLERANCE_S:
            draw(first, last - 1, end_value)
            first = last - 1
            starts.append(first)
            end_value = float(points[last])
        else:
            end_value = float(intercept + slope * steps[-1])
    if len(points) > 1:
        draw(first, len(points) - 1, end_value)
    return starts, smoothed


def rhythm_tempo_map(rhythm: Rhythm) -> TempoMap:
    """A tempo map whose beats are the rhythm's beats and whose bar lines are its downbeats."""
    beats = np.asarray(rhythm.beats, dtype=np.float64)
    points = grid_points(beats)
    first_downbeat = rhythm.first_downbeat + (len(points) - len(beats))
    # Steady stretches are drawn as straight lines: their beats move onto the line.
    starts, smoothed = steady_stretches(points)
    starts.append(len(points) - 1)
    unit = rhythm.quarters_per_beat
    quarters = np.arange(len(points)) * unit

    slowest_us = round(np.max(np.diff(smoothed)) / unit * 1e6)
    ticks_per_quarter = ticks_per_quarter_for(min(slowest_us, MAX_TEMPO_MICROSECONDS))
    ticks_per_beat = round(unit * ticks_per_quarter)
    tempo_changes = []
    actual = 0.0  # where the file's own tempo events have put the current grid point, in seconds
    for first, last in zip(starts[:-1], starts[1:], strict=True):
        # Each stretch's tempo is rounded to whole microseconds; aiming at the true end from where the
        # rounding so far has left us keeps the error from accumulating over thousands of beats.
        beats_in_stretch = last - first
        tempo = round((smoothed[last] - actual) / (beats_in_stretch * unit) * 1e6)
        tempo = min(max(tempo, 1), MAX_TEMPO_MICROSECONDS)
        tempo_changes.append((first * ticks_per_beat, tempo))
        actual += tempo * beats_in_stretch * unit / 1e6

    numerator, denominator = rhythm.time_signature
    pickup = first_downbeat % rhythm.beats_per_bar
    bars = [(0.0, numerator, denominator)]
    if pickup:
        pickup_numerator = numerator * pickup // rhythm.beats_per_bar
        bars = [(0.0, pickup_numerator, denominator), (pickup * unit, numerator, denominator)]
    return TempoMap(times=smoothed, quarters=quarters, bars=tuple(bars), ticks_per_quarter=ticks_per_quarter,
                    tempo_changes=tuple(tempo_changes))


def tempo_map_for(transcription: Transcription) -> TempoMap:
    """The tempo map a transcription's MIDI file is written with."""
    given, signature = transcription.options.midi_tempo, transcription.options.time_signature
    bars = tuple(map(int, signature.split("/"))) if signature else (4, 4)
    if given is not None:
        return constant_tempo_map(given, bars)
    rhythm = transcription.rhythm
    if rhythm is None or len(rhythm.beats) < 2:
        return constant_tempo_map(DEFAULT_TEMPO_BPM, bars)
    return rhythm_tempo_map(rhythm)
