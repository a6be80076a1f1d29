"""The pulse: a tempo curve from the model's onset strength, then librosa's beat tracker along it.

The onset posteriorgram summed over pitches is a clean onset-strength signal at the model's 86.13
frames/s, already computed by the transcription, so no second audio analysis is needed. The tempo
curve is the best path (Viterbi) through windowed autocorrelations weighted by a tempo prior, so
the pulse can follow a tempo change; librosa's dynamic-programming tracker (Ellis 2007) then
places the beats, with that curve as its per-frame tempo. Which metrical level the pulse is (the
beat, its half or its double) is settled later, with the bars (engine/metre.py).

Imports librosa (and so numba), which only the worker image carries.
"""

from __future__ import annotations

import numpy as np

from .notes import FFT_HOP, FRAMES_PER_SECOND, SAMPLE_RATE, frame_times

# Less audio than this holds too few beats to find a pulse in.
MIN_SECONDS = 2.0
# The onset strength's floor is its mean over this long a stretch.
BASELINE_S = 1.0
# Candidate tempos of the pulse, about 1.5 % apart: finer than the 4 % a tempo estimate is judged by.
PULSE_TEMPI = np.geomspace(40.0, 320.0, 141)
# The prior over pulse tempi: log-normal around the tempo most music's pulse is felt at.
PRIOR_CENTRE_BPM = 120.0
PRIOR_WIDTH_OCTAVES = 1.0
# Autocorrelation windows for the tempo curve: long enough for a few beats at 40 BPM.
CURVE_WINDOW_S = 8.0
CURVE_HOP_S = 1.0
# How fast the tempo may drift per curve step (octaves, one standard deviation), and the
# (log) cost of a jump, which a step change of tempo pays once.
DRIFT_OCTAVES_PER_STEP = 0.02
JUMP_LOG_COST = 4.0
# librosa's tightness: how strictly beats keep to the tempo curve (librosa's default is 100).
TIGHTNESS = 100.0


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


def tempo_curve(envelope: np.ndarray) -> np.ndarray:
    """The pulse tempo (BPM) at every frame: the smoothest strong path through local tempo evidence."""
    import librosa

    frames = len(envelope)
    window = int(round(CURVE_WINDOW_S * FRAMES_PER_SECOND))
    hop = int(round(CURVE_HOP_S * FRAMES_PER_SECOND))
    padded = np.pad(envelope - envelope.mean(), (window // 2, window // 2 + window))
    segments = librosa.util.frame(padded, frame_length=window, hop_length=hop)[:, : max(1, frames // hop + 1)]
    correlation = librosa.autocorrelate(segments * np.hanning(window)[:, None], axis=0)
    correlation /= np.maximum(correlation[:1], 1e-9)
    lags = 60.0 * FRAMES_PER_SECOND / PULSE_TEMPI
    # Evidence for a tempo: the correlation at its beat lag, linearly interpolated between lags.
    low = np.floor(lags).astype(int)
    fraction = (lags - low)[:, None]
    evidence = (1 - fraction) * correlation[low] + fraction * correlation[low + 1]
    prior = -0.5 * (np.log2(PULSE_TEMPI / PRIOR_CENTRE_BPM) / PRIOR_WIDTH_OCTAVES) ** 2
    log_score = np.log(np.maximum(evidence, 1e-3)) + prior[:, None]
    path = _viterbi(log_score)
    centres = np.arange(segments.shape[1]) * hop
    return np.interp(np.arange(frames), centres, PULSE_TEMPI[path])


def _viterbi(log_score: np.ndarray) -> np.ndarray:
    """Best state path through (states, steps) log scores with a drift-or-jump transition."""
    octaves = np.log2(PULSE_TEMPI)
    distance = octaves[:, None] - octaves[None, :]
    transition = np.maximum(-0.5 * (distance / DRIFT_OCTAVES_PER_STEP) ** 2, -JUMP_LOG_COST)
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


def track_pulse(onset_strength: np.ndarray) -> np.ndarray:
    """Beat times (seconds) of the pulse in a frame-rate onset-strength signal; empty if there is none."""
    import librosa

    if len(onset_strength) < MIN_SECONDS * FRAMES_PER_SECOND:
        return np.zeros(0)
    envelope = onset_envelope(onset_strength)
    if not np.any(envelope > 0):
        return np.zeros(0)
    bpm = tempo_curve(envelope)
    _, beat_frames = librosa.beat.beat_track(
        onset_envelope=envelope.astype(np.float32), sr=SAMPLE_RATE, hop_length=FFT_HOP,
        bpm=bpm.astype(np.float32), tightness=TIGHTNESS, units="frames",
    )
    return frame_times(np.asarray(beat_frames, dtype=np.int64))
