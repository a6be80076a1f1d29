"""Sonification: the transcribed notes played by a small additive synthesizer, as 44.1 kHz 16-bit WAV.

The voice is an electric-piano-like tone: six harmonics whose upper partials fade faster than the
fundamental, a short attack, a slow overall decay towards a sustain level, and a smooth release
after the note ends. Loudness follows velocity. A note released while the sustain pedal is down
sounds on until the pedal is lifted (or its key is struck again).

Speed and memory come from two choices. Every note of one pitch starts the same way, so each
pitch's first seconds are synthesized once and copied for every note (with the velocity gain and
release applied); only the rare longer notes are synthesized past that. And the output is mixed
in blocks of a few seconds that are written as they are finished, so a 60-minute file never sits
in memory whole. Nothing loops per sample in Python.

Drum tracks are played by the drum transcriber's own signal models of each kit piece (``drums/kit.py``:
falling sines for kick and toms, a head's modes and wire noise for the snare, bands of noise for
hi-hats and cymbals), one sound per General MIDI drum key, struck at the note's velocity.

Loudness is set before mixing from the busiest moment of the piece (the most summed note energy
sounding at once), and a soft limiter rounds off the rare peaks above that estimate, so the file
never clips.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .constants import SONIFY_SAMPLE_RATE
from .outputs import binary_destination

if TYPE_CHECKING:
    from .transcription import Transcription

HARMONIC_AMPLITUDES = (1.0, 0.45, 0.22, 0.12, 0.06, 0.03)
ATTACK_S = 0.004
RELEASE_S = 0.12
# Length of the shared start of every note of a pitch; notes longer than this synthesize the rest.
SHARED_ATTACK_PART_S = 2.0
VOICE_PIECE_SAMPLES = 1 << 14
BLOCK_SAMPLES = 1 << 18  # about 6 s: large enough to amortise numpy calls, small enough to stay cheap
TARGET_PEAK = 0.5
LIMITER_THRESHOLD = 0.8
DRUM_LEVEL = 0.8  # a drum hit's peak at full velocity, against a tone's ~1.9
DRUM_FADE_S = 0.1  # the signal models ring past the sound's end: fade them out rather than cut
DRUM_SEED = 35
SUSTAIN_PEDAL = 64  # MIDI controller number


def note_frequency(pitch: int | np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


def voice(pitch: int, start_sample: int, stop_sample: int, sample_rate: int = SONIFY_SAMPLE_RATE) -> np.ndarray:
    """Samples ``start_sample``..``stop_sample`` of one unit-velocity note of ``pitch`` held forever."""
    samples = np.empty(max(0, stop_sample - start_sample), dtype=np.float32)
    # Synthesizing in cache-sized pieces keeps the dozen intermediate arrays in the CPU cache, which
    # is several times faster than streaming each of them through main memory.
    for piece_start in range(start_sample, stop_sample, VOICE_PIECE_SAMPLES):
        piece_stop = min(stop_sample, piece_start + VOICE_PIECE_SAMPLES)
        samples[piece_start - start_sample:piece_stop - start_sample] = _voice_piece(
            pitch, piece_start, piece_stop, sample_rate
        )
    return samples


def _voice_piece(pitch: int, start_sample: int, stop_sample: int, sample_rate: int) -> np.ndarray:
    sample_index = np.arange(start_sample, stop_sample, dtype=np.float64)
    frequency = float(note_frequency(pitch))
    # The phase needs double precision (cycles count into the millions); the rest is float32 for speed.
    cycles = sample_index * (frequency / sample_rate)
    cycles = (cycles - np.floor(cycles)).astype(np.float32)
    cycles *= np.float32(2.0 * np.pi)
    sine, cosine = np.sin(cycles), np.cos(cycles)
    t = (sample_index / sample_rate).astype(np.float32)
    # Low notes ring longer than high ones, as on a real instrument.
    register = 2.0 ** (-(pitch - 60) / 24.0)
    partial_decay = np.exp(t * np.float32(-1.0 / (0.45 * register)))

    mix = np.zeros(len(t), dtype=np.float32)
    # sin(h·x) by the Chebyshev recurrence and decay^h by repeated products: one sin, cos and exp
    # per sample however many harmonics there are.
    previous, current = np.zeros_like(sine), sine
    decay_power = partial_decay.copy()
    nyquist_margin = 0.45 * sample_rate
    for harmonic, amplitude in enumerate(HARMONIC_AMPLITUDES, start=1):
        if harmonic * frequency >= nyquist_margin:
            break
        sustain = 0.3 / harmonic
        weight = decay_power * np.float32((1.0 - sustain) * amplitude)
        weight += np.float32(sustain * amplitude)
        weight *= current
        mix += weight
        previous, current = current, np.float32(2.0) * cosine * current - previous
        decay_power *= partial_decay
    envelope = np.exp(t * np.float32(-1.0 / (6.0 * register)))
    np.minimum(envelope, t * np.float32(1.0 / ATTACK_S), out=envelope)
    mix *= envelope
    return mix


def _velocity_gain(velocities: np.ndarray) -> np.ndarray:
    # A power above 1 widens the dynamic range the way ears expect from soft and hard keystrokes.
    return (np.asarray(velocities, dtype=np.float64) / 127.0) ** 1.5


def _release_curve(length: int) -> np.ndarray:
    return (0.5 * (1.0 + np.cos(np.pi * np.arange(length) / max(1, length)))).astype(np.float32)


def _mix_gain(starts: np.ndarray, stops: np.ndarray, gains: np.ndarray) -> float:
    """Scale so that the busiest moment peaks near TARGET_PEAK.

    Notes of different pitches add up like noise (by energy, not amplitude), so the estimate is the
    square root of the largest summed energy sounding at once, found by a sweep over note edges.
    """
    if len(starts) == 0:
        return 1.0
    times = np.concatenate((starts, stops))
    changes = np.concatenate((gains**2, -(gains**2)))
    order = np.lexsort((changes, times))  # at equal times, endings before beginnings
    busiest = float(np.max(np.cumsum(changes[order])))
    return TARGET_PEAK / max(np.sqrt(busiest), 1e-3)


def soft_limit(samples: np.ndarray) -> np.ndarray:
    """Leave samples below the threshold alone and bend larger ones smoothly towards ±1 (never reached)."""
    magnitude = np.abs(samples)
    loud = magnitude > LIMITER_THRESHOLD
    if np.any(loud):
        headroom = 1.0 - LIMITER_THRESHOLD
        limited = LIMITER_THRESHOLD + headroom * np.tanh((magnitude[loud] - LIMITER_THRESHOLD) / headroom)
        samples[loud] = np.sign(samples[loud]) * limited
    return samples


def sounding_ends(notes, pedals) -> np.ndarray:
    """When each of ``notes`` stops sounding, in seconds, under one instrument's ``pedals``.

    Its own end, unless the sustain pedal is down then: the pedal's release, or the next time the same
    key is struck if that comes first.
    """
    ends = np.array([note.end_s for note in notes], dtype=np.float64)
    pedals = sorted((pedal.start_s, pedal.end_s) for pedal in pedals if pedal.controller == SUSTAIN_PEDAL)
    if not pedals or not notes:
        return ends
    downs, ups = (np.array(column, dtype=np.float64) for column in zip(*pedals, strict=True))
    latest = np.searchsorted(downs, ends, side="right") - 1  # the last pedal press at or before each end
    held = (latest >= 0) & (ends < ups[np.maximum(latest, 0)])
    extended = np.where(held, ups[np.maximum(latest, 0)], ends)
    starts = np.array([note.start_s for note in notes], dtype=np.float64)
    pitches = np.array([note.pitch for note in notes], dtype=np.int64)
    order = np.lexsort((starts, pitches))
    next_strike = np.full(len(notes), np.inf)
    same_key = pitches[order][1:] == pitches[order][:-1]
    next_strike[order[:-1][same_key]] = starts[order][1:][same_key]
    return np.maximum(ends, np.minimum(extended, next_strike))


def _pitched_notes(transcription: Transcription) -> tuple[list, np.ndarray]:
    """Every pitched note in start order, and when each stops sounding (its track's sustain pedal)."""
    notes, ends = [], []
    for track in transcription.instrument_tracks():
        if not track.is_drum:
            notes.extend(track.notes)
            ends.append(sounding_ends(track.notes, track.pedals))
    ends = np.concatenate(ends) if ends else np.zeros(0)
    order = sorted(range(len(notes)), key=lambda index: notes[index].start_s)
    return [notes[index] for index in order], ends[order] if order else np.zeros(0)


def output_length(transcription: Transcription, sample_rate: int = SONIFY_SAMPLE_RATE) -> int:
    """Samples in the rendering: the audio's duration, or to the last sounding note's end if that is later."""
    _, ends = _pitched_notes(transcription)
    last_end = max(float(np.max(ends, initial=0.0)), max((note.end_s for note in transcription.notes), default=0.0))
    return max(0, int(round(max(transcription.duration_s, last_end) * sample_rate)))


@lru_cache(maxsize=64)
def drum_sound(key: int, sample_rate: int = SONIFY_SAMPLE_RATE) -> np.ndarray:
    """The sound of one full-velocity hit on GM drum ``key`` (float32, read-only, cached)."""
    from .drums.kit import one_shot, piece_for_key

    sound = one_shot(piece_for_key(key), sample_rate, np.random.default_rng([DRUM_SEED, key]))
    fade = max(1, int(DRUM_FADE_S * sample_rate))
    sound[-fade:] *= np.linspace(1.0, 0.0, fade)
    sound *= DRUM_LEVEL / max(float(np.abs(sound).max()), 1e-9)
    sound = sound.astype(np.float32)
    sound.flags.writeable = False
    return sound


def render_blocks(transcription: Transcription, sample_rate: int = SONIFY_SAMPLE_RATE,
                  block_samples: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
    """The rendering as consecutive float32 blocks in [-1, 1]; together they are ``output_length`` long."""
    total = output_length(transcription, sample_rate)
    tracks = transcription.instrument_tracks()
    notes, ends = _pitched_notes(transcription)
    hits = sorted((note for track in tracks if track.is_drum for note in track.notes), key=lambda note: note.start_s)
    release = max(1, int(round(RELEASE_S * sample_rate)))
    starts = np.array([int(round(max(0.0, note.start_s) * sample_rate)) for note in notes], dtype=np.int64)
    held = np.array([max(1, int(round((end - max(0.0, note.start_s)) * sample_rate)))
                     for note, end in zip(notes, ends, strict=True)], dtype=np.int64)
    lengths = held + release
    pitches = np.array([note.pitch for note in notes], dtype=np.int64)
    gains = _velocity_gain([note.velocity for note in notes])
    hit_starts = np.array([int(round(max(0.0, hit.start_s) * sample_rate)) for hit in hits], dtype=np.int64)
    hit_keys = np.array([hit.pitch for hit in hits], dtype=np.int64)
    hit_lengths = np.array([len(drum_sound(int(key), sample_rate)) for key in hit_keys], dtype=np.int64)
    hit_gains = _velocity_gain([hit.velocity for hit in hits])
    mix = _mix_gain(np.concatenate((starts, hit_starts)), np.concatenate((starts + lengths, hit_starts + hit_lengths)),
                    np.concatenate((gains, hit_gains)))
    gains *= mix
    hit_gains *= mix
    release_curve = _release_curve(release)

    shared_limit = int(SHARED_ATTACK_PART_S * sample_rate)
    shared: dict[int, np.ndarray] = {}
    for pitch in np.unique(pitches):
        longest = int(lengths[pitches == pitch].max())
        shared[int(pitch)] = voice(int(pitch), 0, min(longest, shared_limit), sample_rate)

    longest_note = int(lengths.max()) if len(lengths) else 0
    longest_hit = int(hit_lengths.max()) if len(hit_lengths) else 0
    for block_start in range(0, total, block_samples):
        block_stop = min(total, block_start + block_samples)
        block = np.zeros(block_stop - block_start, dtype=np.float32)
        first = int(np.searchsorted(starts, block_start - longest_note, side="left"))
        last = int(np.searchsorted(starts, block_stop, side="left"))
        candidates = np.arange(first, last)
        candidates = candidates[starts[candidates] + lengths[candidates] > block_start]
        for index in candidates:
            note_start, length, pitch = int(starts[index]), int(lengths[index]), int(pitches[index])
            begin = max(0, block_start - note_start)  # note-relative range that falls in this block
            end = min(length, block_stop - note_start)
            wave_part = _note_wave(shared[pitch], pitch, begin, end, np.float32(gains[index]), sample_rate)
            release_from = int(held[index])
            if end > release_from:
                offset = max(begin, release_from)
                wave_part[offset - begin:] *= release_curve[offset - release_from:end - release_from]
            block[note_start + begin - block_start:note_start + end - block_start] += wave_part
        first = int(np.searchsorted(hit_starts, block_start - longest_hit, side="left"))
        last = int(np.searchsorted(hit_starts, block_stop, side="left"))
        for index in range(first, last):
            hit_start, length = int(hit_starts[index]), int(hit_lengths[index])
            begin, end = max(0, block_start - hit_start), min(length, block_stop - hit_start)
            if end > begin:
                sound = drum_sound(int(hit_keys[index]), sample_rate)
                block[hit_start + begin - block_start:hit_start + end - block_start] += \
                    sound[begin:end] * np.float32(hit_gains[index])
        yield soft_limit(block)


def _note_wave(shared_start: np.ndarray, pitch: int, begin: int, end: int, gain: np.float32,
               sample_rate: int) -> np.ndarray:
    """Samples begin..end of a note at ``gain``, from its pitch's shared start where possible (a new array)."""
    shared_length = len(shared_start)
    if end <= shared_length:
        return np.multiply(shared_start[begin:end], gain)
    if begin >= shared_length:
        part = voice(pitch, begin, end, sample_rate)
    else:
        part = np.concatenate((shared_start[begin:], voice(pitch, shared_length, end, sample_rate)))
    part *= gain
    return part


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")


def render(transcription: Transcription, sample_rate: int = SONIFY_SAMPLE_RATE) -> np.ndarray:
    """The whole rendering as one float32 array in [-1, 1] (``write_wav`` streams instead)."""
    blocks = list(render_blocks(transcription, sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def write_wav(transcription: Transcription, destination: str | os.PathLike | object,
              sample_rate: int = SONIFY_SAMPLE_RATE) -> None:
    """Write the rendering as a mono 16-bit PCM WAV file to a path or binary file object.

    The sample count is known before rendering, so the header is written up front and the file can
    go to a stream that cannot seek.
    """
    with binary_destination(destination) as sink:
        with wave.open(sink, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(sample_rate)
            writer.setnframes(output_length(transcription, sample_rate))
            for block in render_blocks(transcription, sample_rate):
                writer.writeframesraw(to_int16(block).tobytes())
