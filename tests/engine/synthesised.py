"""Synthesised audio for the engine tests: known notes, encoded by the tests themselves."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KnownNote:
    pitch: int  # MIDI
    start_s: float
    end_s: float


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def synthesise(notes: list[KnownNote], duration_s: float, sample_rate: int = 44100, channels: int = 2) -> np.ndarray:
    """Plucked-string-like tones (harmonics with a fast attack and exponential decay), (frames, channels)."""
    total = int(round(duration_s * sample_rate))
    mono = np.zeros(total, dtype=np.float64)
    for note in notes:
        first = int(round(note.start_s * sample_rate))
        last = min(total, int(round(note.end_s * sample_rate)))
        t = np.arange(last - first) / sample_rate
        envelope = np.minimum(t / 0.005, 1.0) * np.exp(-t * 1.5)
        release = np.clip((last - first - np.arange(last - first)) / (0.02 * sample_rate), 0, 1)
        frequency = midi_to_hz(note.pitch)
        tone = sum(
            (0.6**k) * np.sin(2 * np.pi * frequency * (k + 1) * t)
            for k in range(6)
            if frequency * (k + 1) < sample_rate / 2
        )
        mono[first:last] += 0.25 * envelope * release * tone
    # Slightly different channels, so downmixing is exercised.
    return np.stack([mono * (1.0 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def encode_soundfile(samples: np.ndarray, sample_rate: int, fmt: str, subtype: str | None = None) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def encode_pyav(samples: np.ndarray, sample_rate: int, container: str, codec: str) -> bytes:
    """Encode with FFmpeg through PyAV: how the tests make m4a/AAC and WebM/Opus files."""
    import av

    buffer = io.BytesIO()
    channels = samples.shape[1]
    layout = "stereo" if channels == 2 else "mono"
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=sample_rate, layout=layout)
        planar = np.ascontiguousarray(samples.T, dtype=np.float32)
        step = 1024
        for offset in range(0, planar.shape[1], step):
            frame = av.AudioFrame.from_ndarray(planar[:, offset : offset + step].copy(), format="fltp", layout=layout)
            frame.sample_rate = sample_rate
            frame.pts = offset
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


# A short phrase across the range, with a chord, used by the end-to-end tests.
PHRASE = [
    KnownNote(60, 0.30, 0.90),
    KnownNote(64, 1.00, 1.60),
    KnownNote(67, 1.70, 2.30),
    KnownNote(48, 2.40, 3.20),
    KnownNote(55, 2.40, 3.20),
    KnownNote(72, 3.30, 3.90),
]
PHRASE_DURATION_S = 4.3
