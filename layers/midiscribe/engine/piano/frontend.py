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
"""

from __future__ import annotations

import math
from collections.abc import Mapping

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
        channels, length = segment.shape
        if length != SEGMENT_SAMPLES:
            raise ValueError(f"a segment has {SEGMENT_SAMPLES} samples, not {length}")
        padded_length = (SEGMENT_FRAMES - 1) * HOP_SIZE + WINDOW_SIZE
        padded = np.zeros((channels, padded_length), dtype=np.float32)
        padded[:, WINDOW_SIZE // 2 : WINDOW_SIZE // 2 + length] = segment
        frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW_SIZE, axis=1)[:, ::HOP_SIZE]
        # Every frame's samples count, so samples in several frames count several times.
        mean = frames.mean(dtype=np.float64)
        std = frames.std(dtype=np.float64, ddof=1)
        padded = ((padded - mean) / (std + NORMALISE_EPS)).astype(np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW_SIZE, axis=1)[:, ::HOP_SIZE]

        n_bins = self.stop_bin - self.first_bin
        power = np.zeros((SEGMENT_FRAMES, N_WINDOWS, n_bins), dtype=np.float32)
        scale = np.float32(1.0 / WINDOW_SIZE)  # |ortho FFT|² = |FFT|² / N
        for start in range(0, SEGMENT_FRAMES, FFT_BLOCK_FRAMES):
            stop = min(SEGMENT_FRAMES, start + FFT_BLOCK_FRAMES)
            for channel in range(channels):
                windowed = frames[channel, start:stop, None, :] * self.windows  # (block, 6, 4096)
                spectrum = np.fft.rfft(windowed, axis=-1)[..., self.first_bin : self.stop_bin]
                power[start:stop] += (spectrum.real**2 + spectrum.imag**2) * scale
        if channels > 1:
            power /= channels
        mel = power.reshape(-1, n_bins) @ self.filterbank  # (691 × 6, 229)
        mel = mel.reshape(SEGMENT_FRAMES, N_WINDOWS, N_MELS).transpose(0, 2, 1)
        logged = (np.log(mel + np.float32(LOG_EPS)) - np.float32(math.log(LOG_EPS))) / np.float32(-math.log(LOG_EPS))
        return np.ascontiguousarray(logged[None], dtype=np.float32)
