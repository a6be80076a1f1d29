"""The key of a transcription: the Krumhansl-Kessler key profiles against the notes' pitch classes.

Each note adds its duration times its amplitude to its pitch class; the key is the major or minor
profile, in any of the 12 transpositions, that correlates best with that histogram (Krumhansl's
key-finding algorithm). The profiles are the probe-tone ratings of Krumhansl & Kessler (1982).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Spelling of each tonic: the key signature with fewer accidentals (F# major and Gb major tie; F# is taken).
MAJOR_TONICS = ("C", "D-flat", "D", "E-flat", "E", "F", "F-sharp", "G", "A-flat", "A", "B-flat", "B")
MINOR_TONICS = ("C", "C-sharp", "D", "E-flat", "E", "F", "F-sharp", "G", "G-sharp", "A", "B-flat", "B")
# Sharps (positive) or flats (negative) in each major key's signature, by tonic pitch class.
MAJOR_FIFTHS = (0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5)


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"

    @property
    def name(self) -> str:
        """E.g. "E-flat major", "F-sharp minor"."""
        tonics = MAJOR_TONICS if self.mode == "major" else MINOR_TONICS
        return f"{tonics[self.tonic]} {self.mode}"

    @property
    def fifths(self) -> int:
        """The key signature: sharps (positive) or flats (negative), as MusicXML's <fifths> counts them."""
        relative_major = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        fifths = MAJOR_FIFTHS[relative_major]
        # The signature follows the tonic's spelling: E-flat minor has six flats, not D-sharp's six sharps.
        spelling = (MAJOR_TONICS if self.mode == "major" else MINOR_TONICS)[self.tonic]
        if spelling.endswith("flat") and fifths > 0:
            fifths -= 12
        elif spelling.endswith("sharp") and fifths < 0:
            fifths += 12
        return fifths


def estimate_key(pitches: np.ndarray, durations: np.ndarray, amplitudes: np.ndarray) -> Key | None:
    """The best-correlating key, or None when there are no notes to judge by."""
    weights = np.asarray(durations, dtype=np.float64) * np.asarray(amplitudes, dtype=np.float64)
    histogram = np.bincount(np.asarray(pitches, dtype=np.int64) % 12, weights, minlength=12)
    if histogram.sum() <= 0 or np.count_nonzero(histogram) < 2:
        return None
    best: tuple[float, Key] | None = None
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            correlation = float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            if best is None or correlation > best[0]:
                best = (correlation, Key(tonic, mode))
    return best[1]
