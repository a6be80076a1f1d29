"""The drum transcriber's view of the audio: a magnitude spectrogram on log-spaced bands, streamed.

Drums differ most in where their energy sits (a kick below 100 Hz, a snare's head around 200 Hz and
its wires up to about 8 kHz, hi-hats and cymbals up to 16 kHz and beyond), so the audio is read at
44.1 kHz rather than the pitched model's 22.05 kHz: a quiet hi-hat on top of a kick is only clearly
audible above 11 kHz. The short-time spectrum is pooled into bands a semitone wide where the FFT
resolves that, and one bin wide below. A 46 ms window hopped by 11.6 ms keeps onsets sharp; frames
come out chunk by chunk as the audio is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

SAMPLE_RATE = 44_100
WINDOW_SAMPLES = 2048
HOP_SAMPLES = 512
FRAME_RATE = SAMPLE_RATE / HOP_SAMPLES  # 86.13 frames per second
LOWEST_BAND_HZ = 30.0
BANDS_PER_OCTAVE = 12


def band_edges() -> np.ndarray:
    """FFT bin indices bounding each band: log-spaced, merged where bins are wider than a band."""
    octaves = np.log2((SAMPLE_RATE / 2) / LOWEST_BAND_HZ)
    frequencies = LOWEST_BAND_HZ * 2.0 ** (np.arange(0, octaves * BANDS_PER_OCTAVE + 1) / BANDS_PER_OCTAVE)
    bins = np.unique(np.round(frequencies * WINDOW_SAMPLES / SAMPLE_RATE).astype(np.int64))
    return bins[bins <= WINDOW_SAMPLES // 2]


def band_centres_hz() -> np.ndarray:
    return band_edges()[1:-1] * SAMPLE_RATE / WINDOW_SAMPLES


def filterbank() -> np.ndarray:
    """(bins, bands) triangular filters, each peaking at 1 on its centre bin, overlapping their neighbours."""
    edges = band_edges()
    bank = np.zeros((WINDOW_SAMPLES // 2 + 1, len(edges) - 2), dtype=np.float32)
    for band in range(len(edges) - 2):
        low, centre, high = edges[band], edges[band + 1], edges[band + 2]
        bank[low:centre + 1, band] = np.linspace(0.0, 1.0, centre - low + 1)
        bank[centre:high + 1, band] = np.linspace(1.0, 0.0, high - centre + 1)
    return bank


class Spectrogram:
    """Turns 44.1 kHz blocks into (bands, frames) float32 magnitude chunks.

    Frame ``i`` is centred on sample ``i * HOP_SAMPLES`` (the signal is padded with half a window of
    zeros at both ends), so its time is ``i / FRAME_RATE`` seconds.
    """

    def __init__(self):
        self.bank = filterbank()
        self.window = np.hanning(WINDOW_SAMPLES + 1)[:-1].astype(np.float32)
        self.bands = self.bank.shape[1]

    def chunks(self, blocks: Iterable[np.ndarray], frames_per_chunk: int) -> Iterator[np.ndarray]:
        pending = np.zeros(WINDOW_SAMPLES // 2, dtype=np.float32)
        for block in blocks:
            pending = np.concatenate((pending, np.asarray(block, dtype=np.float32)))
            while self._frames_in(pending) >= frames_per_chunk:
                yield self._transform(pending, frames_per_chunk)
                pending = pending[frames_per_chunk * HOP_SAMPLES:]
        pending = np.concatenate((pending, np.zeros(WINDOW_SAMPLES // 2, dtype=np.float32)))
        while self._frames_in(pending) > 0:
            count = min(frames_per_chunk, self._frames_in(pending))
            yield self._transform(pending, count)
            pending = pending[count * HOP_SAMPLES:]

    @staticmethod
    def _frames_in(samples: np.ndarray) -> int:
        return max(0, (samples.shape[0] - WINDOW_SAMPLES) // HOP_SAMPLES + 1)

    def _transform(self, samples: np.ndarray, count: int) -> np.ndarray:
        windows = np.lib.stride_tricks.sliding_window_view(samples[:(count - 1) * HOP_SAMPLES + WINDOW_SAMPLES],
                                                           WINDOW_SAMPLES)[::HOP_SAMPLES]
        magnitude = np.abs(np.fft.rfft(windows * self.window, axis=1)).astype(np.float32)
        return np.ascontiguousarray((magnitude @ self.bank).T)


def spectrogram_of(samples: np.ndarray) -> np.ndarray:
    """The whole (bands, frames) spectrogram of one array of 44.1 kHz samples (templates, tests)."""
    chunks = list(Spectrogram().chunks([samples], frames_per_chunk=1 << 16))
    return np.concatenate(chunks, axis=1) if chunks else np.zeros((len(band_edges()) - 2, 0), dtype=np.float32)
