"""transkun's audio front end in numpy: one 16-second segment in, log-mel features out.

For a segment of ``SEGMENT_SAMPLES`` samples (all channels), as transkun computes it:

1. frames of 4096 samples every 1024, the segment padded with 2048 zeros in front and enough behind
   for 691 frames;
2. the frames normalised together (all channels, all frames, padding included) to zero mean and unit
   standard deviation (the unbiased one, as ``torch.std``);
3. each frame times six windows (a periodic Hann window and five Gaussian windows whose centres and
   widths were learned), an orthonormal real FFT, power;
4. power averaged over channels, then a mel filterbank (229 HTK mel bands from 30 to 8000 Hz, no
   normalisation: torchaudio's ``melscale_fbanks``) and ``log(mel + 1e-5)`` rescaled so that silence is 0.

Steps 2 and 3 are linear in the samples, so here the FFT is taken of the frames as they are and the
normalisation applied to each spectrum: ``(FFT(w · x) - mean · FFT(w)) / std``. A frame then does not
depend on its segment, and the frames two overlapping segments share (about half of them at transkun's
8-second hop) are transformed once (``segment_features``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .config import HOP_SIZE, N_MELS, N_WINDOWS, SAMPLE_RATE, SEGMENT_FRAMES, SEGMENT_SAMPLES, WINDOW_SIZE

MEL_LOW_HZ = 30.0
MEL_HIGH_HZ = 8000.0
LOG_EPS = 1e-5
NORMALISE_EPS = 1e-8
# Frames transformed per FFT call: bounds the complex temporaries (~14 MB) without many calls.
FFT_BLOCK_FRAMES = 128


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int = WINDOW_SIZE // 2 + 1, low_hz: float = MEL_LOW_HZ, high_hz: float = MEL_HIGH_HZ,
                   n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_freqs, n_mels) triangular HTK-mel filters, unnormalised (torchaudio's ``melscale_fbanks``)."""
    bins_hz = np.linspace(0.0, sample_rate / 2, n_freqs)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), n_mels + 2))
    widths = np.diff(edges_hz)
    distance = edges_hz[None, :] - bins_hz[:, None]  # (n_freqs, n_mels + 2)
    rising = -distance[:, :-2] / widths[:-1]
    falling = distance[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def hann_window(size: int = WINDOW_SIZE) -> np.ndarray:
    """torch's default (periodic) Hann window."""
    return (0.5 - 0.5 * np.cos(2.0 * math.pi * np.arange(size) / size)).astype(np.float32)


def gaussian_windows(sigma_logits: np.ndarray, centre_logits: np.ndarray, size: int = WINDOW_SIZE) -> np.ndarray:
    """transkun's learned windows, (n, size): centre and width are sigmoids of the stored parameters."""
    sigma = 1.0 / (1.0 + np.exp(-sigma_logits.astype(np.float64)))
    centre = 1.0 / (1.0 + np.exp(-centre_logits.astype(np.float64)))
    x = np.arange(size, dtype=np.float64)[None, :]
    return np.exp(-0.5 * ((x - size * centre[:, None]) / (sigma[:, None] * size / 2)) ** 2).astype(np.float32)


# A segment with the front end's padding: 2048 zeros in front and enough behind for every frame.
PADDED_LENGTH = (SEGMENT_FRAMES - 1) * HOP_SIZE + WINDOW_SIZE
# The first and last frames whose window lies wholly inside a segment (none of the front end's padding):
# only they are the same in two overlapping segments.
FIRST_WHOLE_FRAME = (WINDOW_SIZE // 2) // HOP_SIZE
LAST_WHOLE_FRAME = (SEGMENT_SAMPLES - WINDOW_SIZE // 2) // HOP_SIZE


@dataclass(frozen=True)
class SharedFrames:
    """The raw spectra of a segment's last whole frames, which are the next segment's first whole ones.

    ``spectra`` (channels, frames, windows, bins) complex64 are the next segment's frames from
    ``FIRST_WHOLE_FRAME`` on, of the audio as it is (before the segment's normalisation); ``next_start`` is
    where that next segment begins in the stream, in samples.
    """

    next_start: int
    spectra: np.ndarray


class FrontEnd:
    """Turns a segment of audio into the network's ``(1, 691, 229, 6)`` float32 features."""

    def __init__(self, windows: np.ndarray, filterbank: np.ndarray):
        if windows.shape != (N_WINDOWS, WINDOW_SIZE) or filterbank.shape != (WINDOW_SIZE // 2 + 1, N_MELS):
            raise ValueError(f"unexpected front-end shapes {windows.shape} and {filterbank.shape}")
        self.windows = windows.astype(np.float32)
        # Bins above the top band's upper edge never reach a band: transform them, skip them in the product.
        used = np.flatnonzero(filterbank.any(axis=1))
        self.first_bin, self.stop_bin = int(used[0]), int(used[-1]) + 1
        self.filterbank = np.ascontiguousarray(filterbank[self.first_bin : self.stop_bin].astype(np.float32))
        # A frame's spectrum is linear in its samples, so the segment's mean comes out after the FFT: the
        # spectrum of (x - mean) is that of x less mean times the window's own spectrum.
        window_spectra = np.fft.rfft(self.windows.astype(np.float64), axis=-1)[:, self.first_bin : self.stop_bin]
        self.window_spectra = window_spectra.astype(np.complex64)
        # How many frames hold each sample of a segment, and in all the padding around it (transkun's
        # normalisation counts a sample once per frame it is in).
        frame_starts = np.arange(SEGMENT_FRAMES) * HOP_SIZE
        counts = np.zeros(PADDED_LENGTH + 1, dtype=np.float64)
        np.add.at(counts, frame_starts, 1.0)
        np.add.at(counts, frame_starts + WINDOW_SIZE, -1.0)
        counts = np.cumsum(counts)[:PADDED_LENGTH]
        self.sample_counts = counts[WINDOW_SIZE // 2 : WINDOW_SIZE // 2 + SEGMENT_SAMPLES].copy()
        self.padding_count = float(counts.sum() - self.sample_counts.sum())

    @classmethod
    def from_weights(cls, weights: Mapping[str, np.ndarray]) -> FrontEnd:
        prefix = "framewiseFeatureExtractor"
        windows = np.concatenate([
            weights[f"{prefix}.spectrogramExtractor.win"][None, :],
            gaussian_windows(weights[f"{prefix}.spectrogramExtractor.winGen.sigma"],
                             weights[f"{prefix}.spectrogramExtractor.winGen.center"]),
        ])
        return cls(windows, weights[f"{prefix}.freq2mels"])

    def features(self, segment: np.ndarray) -> np.ndarray:
        """``segment``: (channels, SEGMENT_SAMPLES) float32. Returns (1, 691, 229, 6) float32."""
        return self.segment_features(segment)[0]

    def segment_features(self, segment: np.ndarray, start: int = 0, shared: SharedFrames | None = None,
                         hop_frames: int | None = None) -> tuple[np.ndarray, SharedFrames | None]:
        """The features of ``segment`` (beginning at sample ``start`` of its stream) and, given the
        ``hop_frames`` to the next segment, the spectra that segment can reuse.

        ``shared`` (kept by the previous segment) is used when it was kept for this ``start``: about half of
        a segment's frames at transkun's hop. The features are the same either way, to float32 rounding.
        """
        channels, length = segment.shape
        if length != SEGMENT_SAMPLES:
            raise ValueError(f"a segment has {SEGMENT_SAMPLES} samples, not {length}")
        mean, std = self._normalisation(segment)
        padded = np.zeros((channels, PADDED_LENGTH), dtype=np.float32)
        padded[:, WINDOW_SIZE // 2 : WINDOW_SIZE // 2 + length] = segment
        frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW_SIZE, axis=1)[:, ::HOP_SIZE]
        n_bins = self.stop_bin - self.first_bin

        reused = 0
        if shared is not None and shared.next_start == start and shared.spectra.shape[0] == channels:
            reused = shared.spectra.shape[1]
        keep_from = FIRST_WHOLE_FRAME + hop_frames if hop_frames else LAST_WHOLE_FRAME + 1
        kept = None
        if keep_from <= LAST_WHOLE_FRAME:
            kept = np.empty((channels, LAST_WHOLE_FRAME + 1 - keep_from, N_WINDOWS, n_bins), dtype=np.complex64)

        power = np.zeros((SEGMENT_FRAMES, N_WINDOWS, n_bins), dtype=np.float32)
        offset = np.complex64(mean) * self.window_spectra
        for first, stop in self._blocks(reused):
            for channel in range(channels):
                if reused and first == FIRST_WHOLE_FRAME:
                    spectrum = shared.spectra[channel]
                else:
                    windowed = frames[channel, first:stop, None, :] * self.windows  # (block, 6, 4096)
                    # Transformed in float64 and rounded: the same complex64 spectra to the bit as numpy's
                    # float32 transform gives, in 0.7 of its time (numpy 2.5; tests/engine/test_piano_frontend.py).
                    spectrum = np.fft.rfft(windowed.astype(np.float64), axis=-1)[
                        ..., self.first_bin : self.stop_bin].astype(np.complex64)
                low, high = max(first, keep_from), min(stop, LAST_WHOLE_FRAME + 1)
                if kept is not None and low < high:
                    kept[channel, low - keep_from : high - keep_from] = spectrum[low - first : high - first]
                centred = spectrum - offset
                power[first:stop] += centred.real**2 + centred.imag**2
        # |orthonormal FFT|² = |FFT|² / N, then the segment's scale and the mean over channels.
        power *= np.float32(1.0 / (WINDOW_SIZE * channels * (std + NORMALISE_EPS) ** 2))
        mel = power.reshape(-1, n_bins) @ self.filterbank  # (691 × 6, 229)
        mel = mel.reshape(SEGMENT_FRAMES, N_WINDOWS, N_MELS).transpose(0, 2, 1)
        logged = (np.log(mel + np.float32(LOG_EPS)) - np.float32(math.log(LOG_EPS))) / np.float32(-math.log(LOG_EPS))
        features = np.ascontiguousarray(logged[None], dtype=np.float32)
        return features, None if kept is None else SharedFrames(start + hop_frames * HOP_SIZE, kept)

    def _normalisation(self, segment: np.ndarray) -> tuple[float, float]:
        """The mean and (unbiased) standard deviation of every frame's samples, padding included, as
        transkun takes them: a sample counts once for each frame it is in."""
        channels = segment.shape[0]
        total = channels * SEGMENT_FRAMES * WINDOW_SIZE
        samples = segment.astype(np.float64)
        mean = float((samples @ self.sample_counts).sum()) / total
        samples -= mean
        squares = float(((samples * samples) @ self.sample_counts).sum())
        squares += channels * self.padding_count * mean * mean
        return mean, math.sqrt(squares / (total - 1))

    @staticmethod
    def _blocks(reused: int):
        """(first, stop) frame ranges in order: the ``reused`` frames from ``FIRST_WHOLE_FRAME`` on as one,
        the others in blocks of ``FFT_BLOCK_FRAMES``."""
        ranges = []
        if reused:
            ranges.append((0, FIRST_WHOLE_FRAME))
            ranges.append((FIRST_WHOLE_FRAME, FIRST_WHOLE_FRAME + reused))
            start = FIRST_WHOLE_FRAME + reused
        else:
            start = 0
        for first in range(start, SEGMENT_FRAMES, FFT_BLOCK_FRAMES):
            ranges.append((first, min(SEGMENT_FRAMES, first + FFT_BLOCK_FRAMES)))
        return ranges
