"""Drum hits synthesised by the tests, with known times: not the transcriber's own signal models.

The sounds are built differently from ``midiscribe.engine.drums.kit`` on purpose (other pitches, other
decays, filtered noise of other shapes), so a test passes only if the transcriber generalises from its
templates to a kit it has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 44_100


@dataclass(frozen=True)
class KnownHit:
    start_s: float
    kind: str  # "kick", "snare", "hihat", "open_hihat", "dark_open_hihat", "ride", "crash", "dark_crash", "low_tom",
    # "high_tom"
    level: float = 1.0


def _noise(rng: np.random.Generator, count: int, low_hz: float, high_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.fft.rfftfreq(count, 1.0 / RATE)
    spectrum[(frequencies < low_hz) | (frequencies > high_hz)] = 0.0
    noise = np.fft.irfft(spectrum, count)
    return noise / np.sqrt(np.mean(noise**2))


def hit_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.8 * RATE)) / RATE
    if kind == "kick":
        frequency = 45 + 90 * np.exp(-t / 0.04)
        body = np.sin(2 * np.pi * np.cumsum(frequency) / RATE) * np.exp(-t / 0.12)
        return body + 0.3 * _noise(rng, len(t), 2000, 6000) * np.exp(-t / 0.005)
    if kind == "snare":
        body = (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 340 * t)) * np.exp(-t / 0.05)
        return 0.8 * body + 0.5 * _noise(rng, len(t), 500, 7000) * np.exp(-t / 0.1)
    if kind == "hihat":
        return 0.2 * _noise(rng, len(t), 6000, 18000) * np.exp(-t / 0.03)
    if kind == "open_hihat":
        return 0.15 * _noise(rng, len(t), 5000, 18000) * np.exp(-t / 0.45)
    if kind == "dark_open_hihat":
        # An open hat with almost nothing above 8 kHz (as TimGM6mb's): most of it from 1 to 8 kHz.
        body = 0.15 * _noise(rng, len(t), 1000, 8000) + 0.01 * _noise(rng, len(t), 8000, 16000)
        return body * np.exp(-t / 0.35)
    if kind in ("low_tom", "high_tom"):
        # A head whose pitch drops a little after the stroke and rings on (a floor tom longest), and a stick.
        pitch, ring_s = (85.0, 0.45) if kind == "low_tom" else (160.0, 0.3)
        frequency = pitch * (1.0 + 0.3 * np.exp(-t / 0.03))
        body = np.sin(2 * np.pi * np.cumsum(frequency) / RATE) * np.exp(-t / ring_s)
        return body + 0.2 * _noise(rng, len(t), 1000, 5000) * np.exp(-t / 0.01)
    if kind == "crash":
        # Louder than the hats and ringing for seconds, across the whole top of the spectrum.
        return 0.5 * _noise(rng, len(t), 700, 17000) * np.exp(-t / 1.0)
    if kind == "dark_crash":
        # A crash recorded close up: most of its stroke in the cymbal's low modes (400-900 Hz), a wash up to
        # 7 kHz, and hardly anything above, ringing for seconds.
        body = (0.5 * _noise(rng, len(t), 400, 900) + 0.25 * _noise(rng, len(t), 900, 7000)
                + 0.03 * _noise(rng, len(t), 7000, 16000))
        return body * np.exp(-t / 1.0)
    if kind == "ride":
        # Bell-like partials and a 2-8 kHz wash that ring for half a second under a bright top that fades
        # within 50 ms: a ride still sounds in the middle of the spectrum long after a closed hat is gone.
        partials = sum(np.sin(2 * np.pi * frequency * t + phase) for phase, frequency in
                       enumerate((2310, 2870, 3390, 4150, 4730, 5560, 6420)))
        return (0.03 * partials * np.exp(-t / 0.5) + 0.1 * _noise(rng, len(t), 2000, 8000) * np.exp(-t / 0.3)
                + 0.15 * _noise(rng, len(t), 8000, 16000) * np.exp(-t / 0.04))
    raise ValueError(kind)


def render(hits: list[KnownHit], duration_s: float, seed: int = 7) -> np.ndarray:
    """Mono float32 at 44.1 kHz; an open hi-hat is choked (cut short) by the next hi-hat, as on a kit."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(duration_s * RATE))
    hat_starts = sorted(hit.start_s for hit in hits if hit.kind in ("hihat", "open_hihat", "dark_open_hihat"))
    for hit in hits:
        sound = hit_sound(hit.kind, rng) * hit.level
        if hit.kind in ("open_hihat", "dark_open_hihat"):
            later = [start for start in hat_starts if start > hit.start_s]
            if later:
                sound[int((later[0] - hit.start_s) * RATE):] = 0.0
        first = int(hit.start_s * RATE)
        part = sound[: max(0, len(out) - first)]
        out[first:first + len(part)] += part
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def rock_beat(bars: int = 4, bpm: float = 100.0, lead_in_s: float = 0.5) -> list[KnownHit]:
    """Hats on eighths, kick on 1 and 3, snare on 2 and 4, a quieter hat on the off-beats."""
    return _backbeat("hihat", 0.6, bars, bpm, lead_in_s)


def ride_beat(bars: int = 4, bpm: float = 120.0, lead_in_s: float = 0.5) -> list[KnownHit]:
    """The ride on eighths (a jazz or ballad groove), kick on 1 and 3, snare on 2 and 4."""
    return _backbeat("ride", 0.7, bars, bpm, lead_in_s)


def _backbeat(timekeeper: str, off_beat_level: float, bars: int, bpm: float, lead_in_s: float) -> list[KnownHit]:
    """``timekeeper`` on eighths (``off_beat_level`` on the off-beats), kick on 1 and 3, snare on 2 and 4."""
    beat = 60.0 / bpm
    hits = []
    for bar in range(bars):
        for eighth in range(8):
            start = lead_in_s + (bar * 4 + eighth / 2) * beat
            hits.append(KnownHit(start, timekeeper, 1.0 if eighth % 2 == 0 else off_beat_level))
            if eighth in (0, 4):
                hits.append(KnownHit(start, "kick"))
            if eighth in (2, 6):
                hits.append(KnownHit(start, "snare"))
    return hits
