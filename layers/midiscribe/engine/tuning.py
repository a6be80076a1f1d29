"""The recording's tuning (its offset from A4 = 440 Hz, in cents), read from the pitch contour.

The contour has 3 bins per semitone (33⅓ cents each), too coarse to read a tuning off the bin
that peaks. Each strong contour peak is therefore placed between bins by a parabola through it and
its two neighbours, which resolves a few cents; each peak's offset from the nearest semitone is a
point on a circle (+50 and -50 cents are the same tuning), and the tuning is the circular mean of
those points weighted by peak height. On the dev set's detuned renders (-35 and +28 cents, every
instrument family) this lands within about 2 cents of the truth, with a spread of 1-2 cents.

Note that the contour bin of MIDI pitch ``m`` is ``3 * (m - 21) + 1``: an A4 sine peaks in bin 145,
not 144 (measured). basic-pitch centres its pitch bends one bin low; compatibility mode keeps that.

Only sums are kept while the recording streams, from every fourth frame: constant memory, linear time.
"""

from __future__ import annotations

import numpy as np

CONTOUR_BINS_PER_SEMITONE = 3
# The contour bin where an in-tune MIDI 21 peaks (see the module docstring).
CONTOUR_BIN_OF_LOWEST_MIDI = 1
# Peaks below this height are mostly noise, reverb tails and harmonics' skirts.
PEAK_FLOOR = 0.5
# Fewer usable peaks than this (about a quarter second of one note) give no estimate.
MIN_PEAKS = 20
# The peaks must agree: the weighted mean resultant length (1 = every peak at the same offset).
MIN_AGREEMENT = 0.5
# Every fourth frame (21.5 per second) is plenty for one number per recording, at a quarter of the cost.
FRAME_STEP = 4


def fractional_peaks(contour: np.ndarray, floor: float = PEAK_FLOOR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame, position in semitones above MIDI 21, height) of each contour peak at or above ``floor``.

    A peak is a bin higher than the bin below and at least as high as the bin above; its position is
    refined by the vertex of the parabola through the three bins.
    """
    centre = contour[:, 1:-1]
    below, above = contour[:, :-2], contour[:, 2:]
    frames, bins = np.nonzero((centre > below) & (centre >= above) & (centre >= floor))
    low, mid, high = below[frames, bins], centre[frames, bins], above[frames, bins]
    curvature = low.astype(np.float64) - 2 * mid + high
    safe = np.where(curvature < 0, curvature, -1.0)
    shift = np.where(curvature < 0, 0.5 * (low - high) / safe, 0.0)
    position = (bins + 1 + np.clip(shift, -0.5, 0.5) - CONTOUR_BIN_OF_LOWEST_MIDI) / CONTOUR_BINS_PER_SEMITONE
    return frames, position, mid.astype(np.float64)


class TuningEstimator:
    """Accumulates contour chunks; :meth:`cents` gives the tuning, or None when the evidence is too thin to
    tell (silence, a few notes, or pitches that disagree)."""

    def __init__(self):
        self._frames_seen = 0
        self._sum = 0j
        self._weight = 0.0
        self._peaks = 0

    def add(self, contour: np.ndarray) -> None:
        first = -self._frames_seen % FRAME_STEP  # the same frames whatever the chunk sizes
        self._frames_seen += contour.shape[0]
        _, position, height = fractional_peaks(contour[first::FRAME_STEP])
        offset = position - np.round(position)  # semitones, -0.5..0.5
        self._sum += complex(np.sum(height * np.exp(2j * np.pi * offset)))
        self._weight += float(height.sum())
        self._peaks += int(height.size)

    def cents(self) -> float | None:
        if self._peaks < MIN_PEAKS or self._weight == 0 or abs(self._sum) / self._weight < MIN_AGREEMENT:
            return None
        return float(np.angle(self._sum) / (2 * np.pi) * 100)
