"""Synthetic stems for the explorer's multi-track tests and screenshots: a drum loop, and WAV bytes of any clip."""

from __future__ import annotations

import io

import numpy as np
import soundfile


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def drum_loop(rate: int = 44_100, beats: int = 8, beat_s: float = 0.5) -> np.ndarray:
    """A swept-sine kick on the beats and a noise snare between them, ``beats`` beats of ``beat_s`` seconds.

    Not a test of the drum transcriber (tests/engine/test_drums.py is): only something it turns into drum hits."""
    noise = np.random.default_rng(15)
    audio = np.zeros(int((beats + 1) * beat_s * rate))
    t = np.arange(int(0.3 * rate)) / rate
    kick = np.sin(2 * np.pi * np.cumsum(50 + 100 * np.exp(-t / 0.03)) / rate) * np.exp(-t / 0.1)
    snare = noise.standard_normal(len(t)) * np.exp(-t / 0.06) * 0.5
    for beat in range(beats):
        for offset, hit in ((0.0, kick), (beat_s / 2, snare)):
            first = int((beat * beat_s + offset) * rate)
            audio[first:first + len(hit)] += hit
    return (0.8 * audio / np.abs(audio).max()).astype(np.float32)


def eighths_over_a_bass(rate: int = 22_050, beats: int = 24, beat_s: float = 1.0) -> np.ndarray:
    """A bass note every ``beat_s`` under a C-major arpeggio in notes half as long: music as easily counted at
    60 BPM (the bass) as at 120 (the arpeggio), which a tempo_hint decides."""
    def note(pitch: int, seconds: float, level: float) -> np.ndarray:
        t = np.arange(int(seconds * rate)) / rate
        hz = 440.0 * 2 ** ((pitch - 69) / 12)
        return level * np.minimum(t / 0.005, 1.0) * np.exp(-3 * t) * (np.sin(2 * np.pi * hz * t)
                                                                     + np.sin(4 * np.pi * hz * t) / 2)
    audio = np.zeros(int((beats + 2) * beat_s * rate))
    for index in range(2 * beats):
        at = int((0.5 + index / 2) * beat_s * rate)
        arpeggio = note((60, 64, 67, 72)[index % 4], 0.45 * beat_s, 0.25)
        audio[at:at + len(arpeggio)] += arpeggio
        if index % 2 == 0:
            bass = note(40, 0.9 * beat_s, 0.35)
            audio[at:at + len(bass)] += bass
    return (0.8 * audio / np.abs(audio).max()).astype(np.float32)
