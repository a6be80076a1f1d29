"""The pulse: a tempo curve from the model's onset strength, then a dynamic-programming beat tracker along it.

The onset posteriorgram summed over pitches is a clean onset-strength signal at the model's 86.13
frames/s, already computed by the transcription, so no second audio analysis is needed. The tempo
curve is the best path (Viterbi) through windowed autocorrelations weighted by a tempo prior, so
the pulse can follow a tempo change. The beats are then the best path of Ellis's dynamic program
("Beat tracking by dynamic programming", 2007): every frame scores its onset strength plus the best
earlier beat, less a penalty for how far the gap between them strays from the curve's beat period.
Which metrical level the pulse is (the beat, its half or its double) is settled later, with the bars
(engine/metre.py).

Plain numpy: the dynamic program runs in blocks of frames too close together to be each other's
previous beat, so each block is one array operation rather than a loop over frames and lags.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .notes import FRAMES_PER_SECOND, frame_times

# Less audio than this holds too few beats to find a pulse in.
MIN_SECONDS = 2.0
# The onset strength's floor is its mean over this long a stretch.
BASELINE_S = 1.0
# Candidate tempos of the pulse, about 1.5 % apart: finer than the 4 % a tempo estimate is judged by.
PULSE_TEMPI = np.geomspace(40.0, 320.0, 141)
# The prior over pulse tempi: log-normal around the tempo most music's pulse is felt at.
PRIOR_CENTRE_BPM = 120.0
PRIOR_WIDTH_OCTAVES = 1.5
# Autocorrelation windows for the tempo curve: long enough for a few beats at 40 BPM.
CURVE_WINDOW_S = 8.0
CURVE_HOP_S = 1.0
# How fast the tempo may drift per curve step (octaves, one standard deviation), and the
# (log) cost of a jump, which a step change of tempo pays once. The jump costs more the further it
# goes: a step of a quarter or a fifth (a third of an octave) is a tempo change, a jump by an octave
# is nearly always the curve switching metrical level (the bar or the eighth getting the stronger
# periodicity for a while), which would leave one pulse at two levels that no later reading mends.
# Per octave: chosen on the tuning pieces (a plateau from 5 to 8).
DRIFT_OCTAVES_PER_STEP = 0.02
JUMP_LOG_COST = 4.0
JUMP_LOG_COST_PER_OCTAVE = 6.0
# The jump's cost is paid once, and a stretch whose half or double has the stronger periodicity for twenty
# seconds pays it back: at tempo steps the curve went from 72 to 45 rather than 90, or from 63 to 101 rather
# than 50, a step and a change of level at once, which leaves one pulse at two levels. So the path is then
# folded into the octave centred on its median step: a step further than this many octaves from that tempo
# is taken a whole octave nearer. A piece's tempo seldom moves further than that, and the level the whole
# pulse is read at is chosen afterwards (engine/metre.py). Chosen on the tuning pieces: 0.5 and 0.6 gain
# alike (two tempi from the onset posterior, four from the note onsets); 0.75 and 0.9 gain none from the
# posterior.
FOLD_OCTAVES = 0.5
# How strictly beats keep to the tempo curve: the penalty per squared log-ratio of a gap to the
# curve's period, against onset strength normalised to unit deviation (Ellis's alpha; 100 as librosa).
TIGHTNESS = 100.0
# An onset counts for a beat through a Gaussian a 32nd of the beat period wide (Ellis 2007), cut at 4 sigma.
ONSET_SPREAD_OF_PERIOD = 1 / 32
ONSET_SPREAD_CUT = 4.0
# A previous beat lies between half and twice the period back.
SHORTEST_GAP, LONGEST_GAP = 0.5, 2.0
# The chain of beats starts at the first frame this strong (a share of the strongest), not in the lead-in.
START_SHARE = 0.01
# The last beat: the last local maximum of the cumulative score at least this share of their median.
LAST_BEAT_SHARE = 0.5
# Beats before the first and after the last frame whose local score reaches this share of the
# beats' (smoothed) RMS local score are dropped: the tracker keeps time through a silent end.
TRIM_SHARE = 0.5
# ... then the beats next to those kept are taken back, one by one outwards, while their local score reaches
# this share of the median beat's: in a short loop the first and last frames above that RMS were often the
# middle beats (a 4-s clip kept one beat, and got no tempo, 24 % of the time on the tuning pieces' excerpts).
# 0.5 to 0.7 scored alike on the tuning pieces (bench/tempo.py --clips); 0.6 keeps out the beat after a
# last note cut off short, whose click scored 0.54 of the median (tests/test_cli_transcribe.py's bars).
TRIM_EXTEND_SHARE = 0.6
# Frames per block when the local score is computed, to bound memory on hour-long files.
SCORE_CHUNK_FRAMES = 1 << 16


def onset_envelope(onset_strength: np.ndarray) -> np.ndarray:
    """Log-compressed onset strength above its local mean.

    The sum over 88 pitches has a floor of small posteriors that the beat tracker would read as
    evidence everywhere (more beats always scoring more); only what rises above the mean of the
    surrounding second counts. The log keeps a full chord from outweighing a single note tenfold.
    """
    strength = np.log1p(np.maximum(np.asarray(onset_strength, dtype=np.float64), 0.0))
    width = int(round(BASELINE_S * FRAMES_PER_SECOND)) | 1
    padded = np.pad(strength, width // 2, mode="edge")
    baseline = np.convolve(padded, np.full(width, 1.0 / width), mode="valid")
    return np.maximum(strength - baseline, 0.0)


def autocorrelation(segments: np.ndarray) -> np.ndarray:
    """Each row's autocorrelation at lags 0..len-1, through the FFT (zero-padded: no wrap-around)."""
    length = segments.shape[1]
    spectrum = np.fft.rfft(segments, n=2 * length, axis=1)
    return np.fft.irfft(np.abs(spectrum) ** 2, n=2 * length, axis=1)[:, :length]


def tempo_curve(envelope: np.ndarray) -> np.ndarray:
    """The pulse tempo (BPM) at every frame: the smoothest strong path through local tempo evidence."""
    frames = len(envelope)
    window = int(round(CURVE_WINDOW_S * FRAMES_PER_SECOND))
    hop = int(round(CURVE_HOP_S * FRAMES_PER_SECOND))
    padded = np.pad(envelope - envelope.mean(), (window // 2, window // 2 + window))
    segments = sliding_window_view(padded, window)[::hop][: max(1, frames // hop + 1)]
    correlation = autocorrelation(segments * np.hanning(window)).T  # (lags, segments)
    correlation /= np.maximum(correlation[:1], 1e-9)
    lags = 60.0 * FRAMES_PER_SECOND / PULSE_TEMPI
    # Evidence for a tempo: the correlation at its beat lag, linearly interpolated between lags.
    low = np.floor(lags).astype(int)
    fraction = (lags - low)[:, None]
    evidence = (1 - fraction) * correlation[low] + fraction * correlation[low + 1]
    prior = -0.5 * (np.log2(PULSE_TEMPI / PRIOR_CENTRE_BPM) / PRIOR_WIDTH_OCTAVES) ** 2
    log_score = np.log(np.maximum(evidence, 1e-3)) + prior[:, None]
    centres = np.arange(segments.shape[0]) * hop
    return np.interp(np.arange(frames), centres, folded(_viterbi(log_score)))


def folded(path: np.ndarray) -> np.ndarray:
    """The tempi (BPM) of a path of PULSE_TEMPI indices, every step further than FOLD_OCTAVES from the median
    step moved by whole octaves to within that distance. A folded tempo may leave PULSE_TEMPI's range (a
    71 BPM stretch around 45 folds to 35.5): clipped at its end it would be no octave of the music's."""
    octaves = np.log2(PULSE_TEMPI[path])
    away = octaves - np.sort(octaves)[len(octaves) // 2]  # a tempo the path holds, not one between two
    return PULSE_TEMPI[path] * 2.0 ** -np.where(np.abs(away) > FOLD_OCTAVES, np.round(away), 0.0)


def _viterbi(log_score: np.ndarray) -> np.ndarray:
    """Best state path through (states, steps) log scores with a drift-or-jump transition."""
    octaves = np.log2(PULSE_TEMPI)
    distance = octaves[:, None] - octaves[None, :]
    transition = np.maximum(-0.5 * (distance / DRIFT_OCTAVES_PER_STEP) ** 2,
                            -JUMP_LOG_COST - JUMP_LOG_COST_PER_OCTAVE * np.abs(distance))
    states, steps = log_score.shape
    total = log_score[:, 0].copy()
    back = np.zeros((steps, states), dtype=np.int64)
    for step in range(1, steps):
        candidates = total[None, :] + transition  # [to, from]
        back[step] = np.argmax(candidates, axis=1)
        total = candidates[np.arange(states), back[step]] + log_score[:, step]
    path = np.empty(steps, dtype=np.int64)
    path[-1] = int(np.argmax(total))
    for step in range(steps - 1, 0, -1):
        path[step - 1] = back[step, path[step]]
    return path


def local_score(envelope: np.ndarray, period: np.ndarray) -> np.ndarray:
    """The envelope, normalised to unit deviation, smoothed by a Gaussian a 32nd of each frame's period wide."""
    normalised = envelope / (envelope.std() + 1e-12)
    spread = period * ONSET_SPREAD_OF_PERIOD
    reach = int(np.ceil(ONSET_SPREAD_CUT * spread.max()))
    offsets = np.arange(-reach, reach + 1)
    neighbourhoods = sliding_window_view(np.pad(normalised, reach), len(offsets))
    score = np.empty(len(envelope))
    for first in range(0, len(envelope), SCORE_CHUNK_FRAMES):
        chunk = slice(first, first + SCORE_CHUNK_FRAMES)
        weights = np.exp(-0.5 * (offsets[None, :] / spread[chunk, None]) ** 2)
        score[chunk] = np.einsum("ij,ij->i", neighbourhoods[chunk], weights)
    return score


def best_beats(score: np.ndarray, period: np.ndarray, tightness: float = TIGHTNESS) -> np.ndarray:
    """Frames of the best beat sequence through ``score`` with a beat ``period`` (frames) at every frame.

    cumulative[t] = score[t] + max over gaps g of (cumulative[t - g] - tightness * log(g / period[t])^2),
    with g from half to twice the period. No frame of a block shorter than its shortest gap can be
    another's predecessor, so a whole block is settled at once: about two array steps per beat.
    """
    frames = len(score)
    shortest = np.maximum(np.round(SHORTEST_GAP * period).astype(np.int64), 1)
    longest = np.maximum(np.round(LONGEST_GAP * period).astype(np.int64), shortest)
    log_period = np.log(period)
    log_gap = np.log(np.maximum(np.arange(int(longest.max()) + 1), 1))
    # The chain starts at the first clearly struck frame: earlier frames (and the padding before
    # frame 0 that lets every gap index the array) cannot be a previous beat.
    start = int(np.argmax(score >= START_SHARE * score.max()))
    lead = int(longest.max())
    cumulative = np.concatenate((np.full(lead, -np.inf), score))
    cumulative[lead : lead + start] = -np.inf
    backlink = np.full(frames, -1, dtype=np.int64)
    position = start + 1
    while position < frames:
        size = int(shortest[position : position + int(shortest[position])].min())
        block = slice(position, min(position + size, frames))
        frames_in_block = np.arange(block.start, block.stop)
        low = shortest[block]
        gaps = low[:, None] + np.arange(int((longest[block] - low).max()) + 1)
        gaps = np.minimum(gaps, longest[block, None])  # past the longest gap: repeat the longest
        previous = frames_in_block[:, None] - gaps
        candidates = cumulative[previous + lead] - tightness * (log_gap[gaps] - log_period[block, None]) ** 2
        best = np.argmax(candidates, axis=1)
        rows = np.arange(len(best))
        best_score = candidates[rows, best]
        found = best_score > -np.inf
        cumulative[lead + block.start : lead + block.stop] += np.where(found, best_score, 0.0)
        backlink[block] = np.where(found, previous[rows, best], -1)
        position = block.stop
    cumulative = cumulative[lead:]
    beats = [start + last_beat(cumulative[start:])]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return trimmed(np.array(beats[::-1], dtype=np.int64), score)


def last_beat(cumulative: np.ndarray) -> int:
    """The last local maximum of the cumulative score that reaches LAST_BEAT_SHARE of their median:
    a beat after the music has ended scores no more than the one before it."""
    inner = cumulative[1:-1]
    peaks = np.flatnonzero((inner > cumulative[:-2]) & (inner >= cumulative[2:])) + 1
    if len(peaks) == 0:
        return int(np.argmax(cumulative))
    strong = peaks[cumulative[peaks] >= LAST_BEAT_SHARE * np.median(cumulative[peaks])]
    return int(strong[-1]) if len(strong) else int(peaks[-1])


def trimmed(beats: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The beats without those before the first or after the last clearly struck frame, nor the weak beats
    beyond them: a beat next to those kept is kept again while its local score reaches TRIM_EXTEND_SHARE
    of the median beat's (a hysteresis: one loud beat in a short clip no longer leaves it alone, and the
    beats the tracker keeps through a silent end stay out)."""
    if len(beats) == 0:
        return beats
    beat_scores = score[beats]
    smoothed = np.convolve(beat_scores, np.hanning(5), mode="same")
    threshold = TRIM_SHARE * np.sqrt(np.mean(smoothed**2))
    struck = np.flatnonzero(score > threshold)
    if len(struck) == 0:
        return beats
    inside = np.flatnonzero((beats >= struck[0]) & (beats <= struck[-1]))
    if len(inside) == 0:
        return beats[:0]
    first, last = int(inside[0]), int(inside[-1])
    weak = beat_scores <= TRIM_EXTEND_SHARE * np.median(beat_scores)
    weak_before, weak_after = np.flatnonzero(weak[:first]), np.flatnonzero(weak[last + 1 :])
    first = int(weak_before[-1]) + 1 if len(weak_before) else 0
    last = last + int(weak_after[0]) if len(weak_after) else len(beats) - 1
    return beats[first : last + 1]


def track_pulse(onset_strength: np.ndarray, seconds_of_frames: Callable[[np.ndarray], np.ndarray] = frame_times,
                ) -> np.ndarray:
    """Beat times (seconds) of the pulse in a frame-rate onset-strength signal; empty if there is none.

    ``seconds_of_frames`` maps frame indices to seconds: by default the model's frame times, which carry
    basic-pitch's per-window drift correction (10 ms per 172 frames) and so suit its onset posterior
    only; a signal laid on an even grid of FRAMES_PER_SECOND (as one made from note onsets is) needs
    ``frame / FRAMES_PER_SECOND``, or its beats fall 0.3 s behind per minute.
    """
    if len(onset_strength) < MIN_SECONDS * FRAMES_PER_SECOND:
        return np.zeros(0)
    envelope = onset_envelope(onset_strength)
    if not np.any(envelope > 0):
        return np.zeros(0)
    period = 60.0 * FRAMES_PER_SECOND / tempo_curve(envelope)
    return seconds_of_frames(best_beats(local_score(envelope, period), period))
