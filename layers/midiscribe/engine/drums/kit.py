"""The drum kit: the pieces the transcriber tells apart, their General MIDI keys, and how each sounds.

Each piece has a signal model, synthesised here from what makes it sound as it does: a kick is a sine
falling from 120 Hz to 55 Hz with a beater click; a snare a head's first modes with the wires' buzz
under them; toms are falling sines with some shell and stick noise; hi-hats and cymbals are bands of
noise that differ in where they sit and how long they ring, and a ride adds inharmonic partials. The
crash has two models: the bright one of the General MIDI sound fonts and a darker one whose noise
reaches down to 500 Hz, as a real cymbal recorded close up does.
Membranes fall away above about 8 kHz, metal reaches 16 kHz. No recorded sample is used anywhere: the
transcriber derives its starting templates from these sounds (``templates.py``) and the sonifier
plays them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ONE_SHOT_S = 0.6
METAL_TOP_HZ = 16_000.0
MEMBRANE_TOP_HZ = 8_000.0


@dataclass(frozen=True)
class Piece:
    """A piece of the kit: its name, the class it is scored and picked in, and the GM key it is written as."""

    name: str
    group: str
    key: int


KICK = Piece("kick", "kick", 36)
SNARE = Piece("snare", "snare", 38)
CLOSED_HAT = Piece("closed_hihat", "hihat", 42)
OPEN_HAT = Piece("open_hihat", "hihat", 46)
LOW_TOM = Piece("low_tom", "tom", 41)
MID_TOM = Piece("mid_tom", "tom", 45)
HIGH_TOM = Piece("high_tom", "tom", 48)
CRASH = Piece("crash", "crash", 49)
RIDE = Piece("ride", "ride", 51)
# A crash heard close up: a real cymbal's low modes (400-800 Hz) carry much of its stroke, where the General
# MIDI fonts' crashes are mostly above 2 kHz. Written on the crash's key (it is in the crash group); last
# in KIT so that the other pieces' models draw the same noise as before it was added.
DARK_CRASH = Piece("dark_crash", "crash", 49)
KIT = (KICK, SNARE, CLOSED_HAT, OPEN_HAT, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE, DARK_CRASH)
GROUPS = ("kick", "snare", "hihat", "tom", "crash", "ride")
# Where each tom's head settles after the stroke's pitch drop, in its signal model.
TOM_PITCH_HZ = {LOW_TOM: 80.0, MID_TOM: 115.0, HIGH_TOM: 155.0}

# Every General MIDI percussion key (35..81) and the piece that sounds most like it, for sonifying
# drum notes the transcriber did not write itself.
_KEYS_BY_PIECE = {
    KICK: (35, 36),
    SNARE: (37, 38, 39, 40, 54, 56, 58, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 73, 74, 75, 76, 77, 78, 79),
    CLOSED_HAT: (42, 44, 71, 72, 80),
    OPEN_HAT: (46, 81),
    LOW_TOM: (41, 43),
    MID_TOM: (45, 47),
    HIGH_TOM: (48, 50),
    CRASH: (49, 52, 55, 57),
    RIDE: (51, 53, 59),
}
PIECE_FOR_KEY = {key: piece for piece, keys in _KEYS_BY_PIECE.items() for key in keys}


def piece_for_key(key: int) -> Piece:
    """The kit piece that plays GM drum ``key`` (a snare for keys outside the percussion map)."""
    return PIECE_FOR_KEY.get(int(key), SNARE)


def band_noise(rng: np.random.Generator, low_hz: float, high_hz: float, sample_rate: int,
               tilt_db_per_octave: float = 0.0) -> np.ndarray:
    """White noise shaped to ``low_hz``..``high_hz`` (24 dB/octave skirts) with a spectral tilt, unit RMS."""
    count = int(ONE_SHOT_S * sample_rate)
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.maximum(np.fft.rfftfreq(count, 1.0 / sample_rate), 1.0)
    high_hz = min(high_hz, 0.48 * sample_rate)
    octaves_outside = np.maximum(0.0, np.log2(low_hz / frequencies)) + np.maximum(0.0, np.log2(frequencies / high_hz))
    gain_db = -24.0 * octaves_outside + tilt_db_per_octave * np.log2(frequencies / low_hz)
    noise = np.fft.irfft(spectrum * 10.0 ** (gain_db / 20.0), count)
    return noise / np.sqrt(np.mean(noise**2))


def falling_sine(start_hz: float, end_hz: float, fall_s: float, t: np.ndarray, sample_rate: int) -> np.ndarray:
    """A sine whose pitch falls exponentially from ``start_hz`` to ``end_hz`` (a struck drum head)."""
    frequency = end_hz + (start_hz - end_hz) * np.exp(-t / fall_s)
    return np.sin(2 * np.pi * np.cumsum(frequency) / sample_rate)


def one_shot(piece: Piece, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """``ONE_SHOT_S`` seconds of ``piece`` struck once at full strength (float64, roughly unit level)."""
    t = np.arange(int(ONE_SHOT_S * sample_rate)) / sample_rate

    def noise(low_hz: float, high_hz: float, tilt: float = 0.0) -> np.ndarray:
        return band_noise(rng, low_hz, high_hz, sample_rate, tilt)

    def decay(seconds: float) -> np.ndarray:
        return np.exp(-t / seconds)

    def stick(low_hz: float = 1000.0, seconds: float = 0.012) -> np.ndarray:
        return noise(low_hz, MEMBRANE_TOP_HZ) * decay(seconds)

    if piece is KICK:
        return falling_sine(120, 55, 0.03, t, sample_rate) * decay(0.15) + 0.5 * stick(1500, 0.008)
    if piece is SNARE:
        # A head's first modes (1, 1.59 and 2.14 times the fundamental) with the wires' buzz under them.
        head = sum(weight * np.sin(2 * np.pi * 190 * ratio * t)
                   for ratio, weight in ((1.0, 1.0), (1.59, 0.6), (2.14, 0.4))) * decay(0.08)
        return head + 0.4 * noise(300, MEMBRANE_TOP_HZ, -1.0) * decay(0.15) + 0.3 * stick()
    if piece is CLOSED_HAT:
        return noise(3000, METAL_TOP_HZ, 2.0) * decay(0.05)
    if piece is OPEN_HAT:
        return noise(2500, METAL_TOP_HZ, 1.0) * decay(0.5)
    if piece in (LOW_TOM, MID_TOM, HIGH_TOM):
        pitch = TOM_PITCH_HZ[piece]
        head = falling_sine(pitch * 1.25, pitch, 0.05, t, sample_rate)
        head += 0.3 * falling_sine(pitch * 2.0, pitch * 1.5, 0.05, t, sample_rate)
        return head * decay(0.25) + 0.3 * noise(500, 6000, -2.0) * decay(0.05) + 0.4 * stick()
    if piece is CRASH:
        return noise(800, METAL_TOP_HZ, -3.0) * decay(1.5) + 0.3 * stick()
    if piece is DARK_CRASH:
        return noise(500, METAL_TOP_HZ, -4.0) * decay(1.5) + 0.3 * stick()
    if piece is RIDE:
        # A ride rings: inharmonic partials over a quieter wash of noise, and a clear stick "ping".
        partials = sum(np.sin(2 * np.pi * frequency * t + phase) for frequency, phase in
                       zip(rng.uniform(500, 6000, 24), rng.uniform(0, 2 * np.pi, 24), strict=True))
        return 0.2 * partials * decay(1.2) + noise(3000, METAL_TOP_HZ) * decay(0.6) + 0.5 * stick(2000)
    raise ValueError(f"no signal model for {piece.name}")
