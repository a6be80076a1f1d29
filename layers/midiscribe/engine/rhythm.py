"""The rhythm of a transcription: beats, bars, metre, tempo and key, found after the notes.

``track_rhythm`` runs the beat tracker on the onset strength the transcription kept
(engine/beats.py), then ``rhythm_from_pulse`` settles the metre and downbeats from the notes
(engine/metre.py) and estimates the key (engine/key.py). The result feeds the MIDI tempo map,
quantisation, the score and the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .beats import track_pulse
from .key import Key, estimate_key
from .metre import BASS_QUANTILE, NoteArrays, find_metre, nearest_beat
from .notes import FRAMES_PER_SECOND
from .options import Hints
from .transcription import NoteEvent

# Beats are aligned with the note onsets within this fraction of a beat period of them (a 16th is 1/4),
# when at least this many notes are that near.
ALIGN_WINDOW = 0.125
MIN_ALIGN_NOTES = 8
# Smaller offsets are left alone: traced-back onsets of struck notes sit a frame or so (10-15 ms) before
# the onset posterior's peak, which is where the beat is already right.
MIN_ALIGN_SHIFT_S = 0.02
# A beat this share of a period or less before 0 is moved to 0; one earlier is dropped (from_time_zero).
EARLY_BEAT_SHARE = 0.25
# The beats are continued at the median period of this many beats at each end: one period alone is
# off by a frame (1.2 % at 100 BPM) as often as not.
END_PERIOD_BEATS = 3
# The tempo is measured over periods this many beats long (chosen on the tuning pieces: 2 to 6 do as well).
TEMPO_SPAN_BEATS = 2
# Before their median is taken, each of those periods is replaced by the median of the periods up to this
# many places either side of it, so that a stretch where the tracker wavers cannot pull the tempo off its
# level: where a tempo steps and one side's periods spread, their plain median lands on that side's edge,
# between the two tempi. Chosen on the tuning pieces: from the onset posterior 4 to 14 gain the same two
# step pieces and lose none, from the note onsets 2 to 14 gain 4 to 9 tempi net; 0 is the plain median.
TEMPO_SMOOTHING_PERIODS = 4
# Where a tempo steps about halfway through, the median of those periods falls between the two tempi: on the one
# period that spans the step, or on the mean of the two middle periods, one from each side. Neither is a tempo
# any beat is at. When the median lies this far (a share) from the periods beside it in sorted order, on both
# sides, or the two middle periods lie this far apart, the tempo is the median of the later half of the periods:
# the closing tempo. A final held chord's beats carry no onset, so the tracked beats stop before them, and in the
# music they belong to the closing tempo; an even split found is one the closing tempo wins. Chosen on the 680 tuning
# pieces (bench/tempo.py --notes; tempi right from the posterior / the note onsets, 613 / 531 without it): 0.035
# 617 / 532, 0.05 and 0.06 619 / 535, 0.08 619 / 533, 0.12 613 / 531 (no step's gap is that wide); only pieces
# with a tempo step changed, none lost. A plain nearest-middle period instead (no in-between tempo, no preference
# for the closing one) gained 2 from the posterior and lost 1 from the notes.
TEMPO_STEP_GAP = 0.06
# Weights of note onsets for the beat tracker where there is no onset posterior (``onset_weights``):
# lengths clipped to this range (seconds), drum hits counted this long, and the bass's factor (the bass
# is metre.BASS_QUANTILE of the pitches, as the bar marks read it).
NOTE_LENGTH_RANGE_S = (0.05, 2.0)
DRUM_HIT_LENGTH_S = 0.25
BASS_WEIGHT = 2.0
# Hi-hats and rides keep time in the beat's subdivisions (eighths, sixteenths): their hits count this
# much, so a groove is not read at its hats' rate. General MIDI keys: closed, pedal and open hi-hat,
# ride, ride bell, ride 2. Chosen on the drum dev set's tuning half (a plateau from 0.25 to 0.7).
TIMEKEEPING_KEYS = (42, 44, 46, 51, 53, 59)
TIMEKEEPING_WEIGHT = 0.5


@dataclass(frozen=True)
class Rhythm:
    """Where the beats and bars are. ``beats`` count the metre's beat: the dotted quarter in 6/8."""

    beats: tuple[float, ...]  # seconds
    beats_per_bar: int
    first_downbeat: int  # index of the first downbeat in ``beats``; earlier beats are a pickup
    compound: bool  # beats divide in three (6/8, 9/8, 12/8)
    key: Key | None
    # (first, stop) indices of the beats the tracker found; the others were continued at a constant period
    # to cover the first and last notes (``extended``). None: every beat counts.
    tracked: tuple[int, int] | None = None

    @property
    def downbeats(self) -> tuple[float, ...]:
        return self.beats[self.first_downbeat :: self.beats_per_bar]

    @property
    def time_signature(self) -> tuple[int, int]:
        """(numerator, denominator): 2/4, 3/4, 4/4, or 6/8, 9/8, 12/8 for compound metres."""
        return (3 * self.beats_per_bar, 8) if self.compound else (self.beats_per_bar, 4)

    @property
    def quarters_per_beat(self) -> float:
        return 1.5 if self.compound else 1.0

    @property
    def tempo_bpm(self) -> float:
        """Beats per minute of the metre's beat, from the median period over TEMPO_SPAN_BEATS beats (at a tempo step
        about halfway through, the closing tempo's: ``typical_period``): the beats lie on the model's frames, so a
        single period is off by up to a frame, and where the tempo changes gradually that is enough to tip the
        median one way or the other. Only the tracked beats count: the continued ones repeat the period at an end,
        and ten seconds of them after a tracker that lost the pulse early, or a few after one late stray onset,
        outvote the music."""
        beats = np.asarray(self.beats)
        if self.tracked is not None and self.tracked[1] - self.tracked[0] >= 2:
            beats = beats[self.tracked[0] : self.tracked[1]]
        span = TEMPO_SPAN_BEATS if len(beats) > TEMPO_SPAN_BEATS else 1
        return float(60.0 * span / typical_period(running_median(beats[span:] - beats[:-span], TEMPO_SMOOTHING_PERIODS)))


def typical_period(periods: np.ndarray) -> float:
    """The median of ``periods`` (in time order), or where it falls in a gap between two tempi, the median of the
    later half (see TEMPO_STEP_GAP)."""
    median = float(np.median(periods))
    count = len(periods)
    if count < 4:
        return median
    ordered = np.sort(periods)
    middle = count // 2
    wide = 1.0 + TEMPO_STEP_GAP
    if count % 2 == 0:
        between = ordered[middle] > wide * ordered[middle - 1]
    else:
        between = ordered[middle] > wide * ordered[middle - 1] and ordered[middle + 1] > wide * ordered[middle]
    return float(np.median(periods[middle:])) if between else median


def running_median(values: np.ndarray, reach: int) -> np.ndarray:
    """Each value replaced by the median of those within ``reach`` places of it (fewer at the ends)."""
    if reach <= 0 or len(values) < 2:
        return values
    padded = np.pad(np.asarray(values, dtype=float), reach, constant_values=np.nan)
    return np.nanmedian(sliding_window_view(padded, 2 * reach + 1), axis=1)


def track_rhythm(onset_strength: np.ndarray | None, notes: Sequence[NoteEvent], duration_s: float,
                 hints: Hints | None = None) -> Rhythm | None:
    """The rhythm of a transcription, or None when there is no steady pulse to find (too short, silent).
    ``hints``: what the user knows of the beat's tempo and the metre (``options.Hints``)."""
    if onset_strength is None:
        return None
    return rhythm_from_pulse(track_pulse(onset_strength), notes, duration_s, hints=hints)


def rhythm_of_notes(notes: Sequence[NoteEvent], duration_s: float, drum: Sequence[bool] | None = None,
                    hints: Hints | None = None) -> Rhythm | None:
    """The rhythm of notes alone, for transcribers without an onset posteriorgram (the piano model,
    drums, stems): the beat tracker follows the notes' onsets, weighted as ``onset_weights`` says.
    ``drum`` flags the notes that are drum hits (General MIDI drum keys, not pitches); ``hints`` as in
    ``track_rhythm``."""
    pulse = track_pulse(onset_strength_of_notes(notes, duration_s, drum), seconds_of_frames=even_frame_times)
    return rhythm_from_pulse(pulse, notes, duration_s, drum, hints)


def even_frame_times(frames: np.ndarray) -> np.ndarray:
    """Seconds of frames on the even grid ``onset_strength_of_notes`` lays its onsets on."""
    return np.asarray(frames, dtype=np.float64) / FRAMES_PER_SECOND


def onset_weights(notes: Sequence[NoteEvent], drum: Sequence[bool] | None = None) -> np.ndarray:
    """How strongly each note's onset marks a beat: its velocity (0..1), times the square root of its
    length (a long note is an accent; lengths clipped to NOTE_LENGTH_RANGE_S), doubled for the bass (a
    pitched note in the lowest BASS_QUANTILE of the pitched notes' pitches). Drum hits count as
    DRUM_HIT_LENGTH_S long, whatever length the drum transcriber gave them, and their keys are not
    pitches: no hit is bass (doubling the kick's weight read 160-180 BPM punk at half its tempo, and
    was no better overall on the drum dev set's tuning half: Acc1 78 % against 83 %); hi-hat and ride
    hits count TIMEKEEPING_WEIGHT (tuning half: Acc1 83 -> 93 %, beat F 0.913 -> 0.965; ballads and
    half-time grooves at 70-90 BPM were read at their eighth-note hats).

    Chosen on the tuning pieces (bench/tempo.py --notes and --piano, tuning halves): against velocity
    alone, tempo Acc1 0.64 -> 0.69 and beat F 0.76 -> 0.81 on the general model's notes of 80 pieces,
    0.71 -> 0.93 and 0.82 -> 0.92 on the piano model's of 14 solo-piano pieces. Velocity alone put the
    beats on the off-beat chords of an oom-pah and read a 6/8 in dotted quarters as 3/4 in quarters.
    """
    count = len(notes)
    if count == 0:
        return np.zeros(0)
    drum = np.zeros(count, dtype=bool) if drum is None else np.asarray(drum, dtype=bool)
    velocity = np.array([n.velocity for n in notes], dtype=np.float64) / 127.0
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    lengths = np.array([n.end_s - n.start_s for n in notes], dtype=np.float64)
    lengths = np.where(drum, DRUM_HIT_LENGTH_S, np.clip(lengths, *NOTE_LENGTH_RANGE_S))
    bass = np.zeros(count, dtype=bool)
    if (~drum).any():
        bass = ~drum & (pitches <= np.quantile(pitches[~drum], BASS_QUANTILE))
    timekeeping = drum & np.isin(pitches, TIMEKEEPING_KEYS)
    return velocity * np.sqrt(lengths) * np.where(bass, BASS_WEIGHT, 1.0) * np.where(timekeeping, TIMEKEEPING_WEIGHT, 1.0)


def onset_strength_of_notes(notes: Sequence[NoteEvent], duration_s: float, drum: Sequence[bool] | None = None,
                            ) -> np.ndarray:
    """An onset-strength signal at the model's frame rate made from note onsets, on an even grid (frame
    ``i`` is ``i / FRAMES_PER_SECOND`` seconds: ``even_frame_times``): each onset adds its
    ``onset_weights`` to its frame, spread over the neighbouring frames as a posterior's peak is."""
    frames = max(1, int(np.ceil(duration_s * FRAMES_PER_SECOND)) + 1)
    strength = np.zeros(frames, dtype=np.float64)
    if notes:
        at = np.clip(np.rint(np.array([n.start_s for n in notes]) * FRAMES_PER_SECOND).astype(np.int64), 0, frames - 1)
        np.add.at(strength, at, onset_weights(notes, drum))
    return np.convolve(strength, (0.25, 0.5, 0.25), mode="same").astype(np.float32)


def rhythm_from_pulse(pulse: np.ndarray, notes: Sequence[NoteEvent], duration_s: float,
                      drum: Sequence[bool] | None = None, hints: Hints | None = None) -> Rhythm | None:
    """The rhythm built on a tracked pulse (seconds): its metrical level, bars and metre (``hints`` first:
    what the user knows of them), and the key. The key, and the bass the beat's phase follows, are heard in
    the pitched notes only: ``drum`` flags the drum hits, whose General MIDI keys are not pitches. None
    without notes: a pulse tracked in silence or noise has no beats anyone hears."""
    if not len(notes):
        return None
    arrays = NoteArrays.of(notes)
    pitched = np.ones(len(notes), dtype=bool) if drum is None else ~np.asarray(drum, dtype=bool)
    metre = find_metre(aligned_to_notes(pulse, arrays), arrays, pitched, hints)
    if metre is None:
        return None
    key = estimate_key(arrays.pitches[pitched], (arrays.ends - arrays.starts)[pitched], arrays.amplitudes[pitched])
    music = (arrays.starts.min(), arrays.starts.max()) if len(arrays.starts) else (0.0, duration_s)
    beats, added = extended(metre.beats, max(0.0, music[0]), min(duration_s, music[1]))
    beats, dropped = from_time_zero(beats)
    first = max(0, added - dropped)
    return Rhythm(beats=tuple(map(float, beats)), beats_per_bar=metre.beats_per_bar,
                  first_downbeat=(metre.first_downbeat + added - dropped) % metre.beats_per_bar,
                  compound=metre.compound, key=key, tracked=(first, added - dropped + len(metre.beats)))


def from_time_zero(beats: np.ndarray) -> tuple[np.ndarray, int]:
    """The beats with none before the recording starts, and how many were dropped in front. A beat just
    before 0 (the first note's, moved there by the alignment or by rounding the continued beats) is at 0;
    one further back than EARLY_BEAT_SHARE of a period is before the music and is dropped."""
    if len(beats) < 2:
        return np.maximum(beats, 0.0), 0
    period = float(beats[1] - beats[0])
    dropped = int(np.count_nonzero(beats < -EARLY_BEAT_SHARE * period))
    return np.maximum(beats[dropped:], 0.0), dropped


def aligned_to_notes(beats: np.ndarray, notes: NoteArrays) -> np.ndarray:
    """The beats moved by the amplitude-weighted median offset of the note onsets near them.

    The pulse follows the onset posterior, which peaks late on slow attacks (strings, brass, voices:
    30-60 ms), while note creation traces each onset back to where its note begins to rise; struck
    notes agree with the posterior, so there the shift is nil. Only onsets within ALIGN_WINDOW of a
    period count, so the melody's off-beat notes do not pull the beats off their place.
    """
    if len(beats) < 2 or len(notes.starts) < MIN_ALIGN_NOTES:
        return beats
    period = float(np.median(np.diff(beats)))
    offsets = notes.starts - beats[nearest_beat(beats, notes.starts)]
    near = np.abs(offsets) <= ALIGN_WINDOW * period
    if near.sum() < MIN_ALIGN_NOTES:
        return beats
    order = np.argsort(offsets[near])
    weights = np.cumsum(notes.amplitudes[near][order])
    shift = offsets[near][order][np.searchsorted(weights, weights[-1] / 2)]
    return beats + shift if abs(shift) >= MIN_ALIGN_SHIFT_S else beats


def extended(beats: np.ndarray, first_onset: float, last_onset: float) -> tuple[np.ndarray, int]:
    """The beats continued at their end periods to cover every note onset (the tracker leaves out a
    weak start and end), and how many were added in front."""
    first_period = float(np.median(np.diff(beats[: END_PERIOD_BEATS + 1])))
    last_period = float(np.median(np.diff(beats[-END_PERIOD_BEATS - 1 :])))
    before = int(max(0.0, np.floor((beats[0] - first_onset) / first_period + 0.5)))
    after = int(max(0.0, np.floor((last_onset - beats[-1]) / last_period + 0.5)))
    front = beats[0] - first_period * np.arange(before, 0, -1)
    back = beats[-1] + last_period * np.arange(1, after + 1)
    return np.concatenate((front, beats, back)), before
