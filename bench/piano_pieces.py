"""Solo piano pieces for the piano bench: varied touch and pedalling, written with mido.

Each piece is a seeded random walk through a few textures that matter to a piano transcriber:
pedalled arpeggios (the sustain pedal lifted and pressed again just after each chord change, as
pianists pedal legato), block chords swelling and fading, a melody over a soft accompaniment, fast
unpedalled scales and staccato, repeated notes, and the soft pedal for quiet passages. Velocities span
roughly 20 to 120 within a piece. The MIDI file is the ground truth: notes as the keys were held
(not extended by the pedal), and the pedals as controller 64 (sustain) and 67 (soft) intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mido
import numpy as np
from pieces import TICKS_PER_BEAT, one_track_midi

SUSTAIN, SOFT = 64, 67
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 4, 5, 3), (1, 4, 0, 4))
TEXTURES = ("arpeggio", "chords", "melody", "scales", "staccato", "repeated")


@dataclass
class PianoScore:
    """Notes and pedal intervals in seconds (the tempo is fixed at 60 BPM, so a beat is a second)."""

    notes: list[tuple[float, float, int, int]] = field(default_factory=list)  # start, end, pitch, velocity
    pedals: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, controller

    def note(self, start: float, length: float, pitch: int, velocity: float) -> None:
        if 21 <= pitch <= 108 and length > 0:
            self.notes.append((start, start + length, int(pitch), int(np.clip(round(velocity), 1, 127))))

    def pedal(self, start: float, end: float, controller: int) -> None:
        if end > start:
            self.pedals.append((start, end, controller))

    def to_midi(self) -> mido.MidiFile:
        events: list[tuple[int, int, mido.Message]] = []

        def tick(seconds: float) -> int:
            return round(seconds * TICKS_PER_BEAT)

        for start, end, pitch, velocity in self.notes:
            on = tick(start)
            events.append((on, 2, mido.Message("note_on", note=pitch, velocity=velocity)))
            events.append((max(on + 1, tick(end)), 0, mido.Message("note_off", note=pitch, velocity=0)))
        for start, end, controller in self.pedals:
            events.append((tick(start), 1, mido.Message("control_change", control=controller, value=127)))
            events.append((tick(end), 0, mido.Message("control_change", control=controller, value=0)))
        tempo = mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0)
        # Program 0 on channel 1, a little reverb.
        return one_track_midi(events, {0: 0}, head=[tempo], tail_ticks=TICKS_PER_BEAT, reverb_send=25)


class _Key:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.tonic = 48 + int(rng.integers(0, 12))
        self.scale = MAJOR if rng.random() < 0.6 else MINOR
        self.progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]

    def pitch(self, degree: int) -> int:
        octave, index = divmod(degree, len(self.scale))
        return self.tonic + 12 * octave + self.scale[index]

    def chord(self, bar: int) -> list[int]:
        root = self.progression[bar % len(self.progression)]
        return [self.pitch(root + 2 * step) for step in range(3 if self.rng.random() < 0.7 else 4)]


def _dynamics(rng: np.random.Generator, beats: float) -> callable:
    """A velocity curve over a phrase: a swell, a fade or a level, somewhere between pp and ff."""
    low, high = sorted(rng.uniform(22, 118, size=2))
    shape = rng.choice(["swell", "fade", "arch", "level"])

    def velocity(position: float) -> float:
        x = min(max(position / beats, 0.0), 1.0)
        level = {"swell": x, "fade": 1 - x, "arch": 1 - abs(2 * x - 1), "level": 0.5}[shape]
        return low + (high - low) * level + rng.normal(0, 4)

    return velocity


def piano_piece(seed: int, seconds: float) -> PianoScore:
    """About ``seconds`` of solo piano, the same for the same seed."""
    rng = np.random.default_rng(seed)
    score = PianoScore()
    key = _Key(rng)
    time, bar = 0.5, 0
    while time < seconds:
        texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
        bars = int(rng.integers(2, 4))
        beat = float(rng.choice([0.4, 0.5, 0.6]))  # seconds per beat in this passage
        length = bars * 4 * beat
        velocity = _dynamics(rng, length)
        if texture in ("arpeggio", "chords", "melody") and rng.random() < 0.25 and velocity(0) < 60:
            score.pedal(time, time + length, SOFT)
        for b in range(bars):
            start = time + b * 4 * beat
            chord = key.chord(bar)
            pedalled = texture in ("arpeggio", "chords", "melody", "repeated") and rng.random() < 0.85
            if pedalled:  # legato pedalling: lift at the change, press again a moment later
                score.pedal(start + float(rng.uniform(0.03, 0.12)), start + 4 * beat - 0.02, SUSTAIN)
            if texture == "arpeggio":
                pattern = [chord[0] - 12, chord[1] - 12, chord[2] - 12, chord[0], chord[1], chord[2], chord[0], chord[1]]
                for step, pitch in enumerate(pattern):
                    at = start + step * beat / 2
                    held = beat * (0.45 if pedalled else 0.9)  # with the pedal down the keys are let go early
                    score.note(at, held, pitch, velocity(at - time))
            elif texture == "chords":
                for half in (0, 2):
                    at = start + half * beat
                    for pitch in [chord[0] - 24, *chord, chord[0] + 12]:
                        score.note(at + float(rng.uniform(0, 0.01)), 1.8 * beat, pitch, velocity(at - time))
            elif texture == "melody":
                for q in range(4):
                    for pitch in chord:
                        score.note(start + q * beat, 0.8 * beat, pitch - 12, 0.6 * velocity(q * beat))
                position, degree = 0.0, int(rng.integers(7, 12))
                while position < 4 * beat - 1e-6:
                    step = beat * float(rng.choice([0.5, 1, 1, 1.5, 2]))
                    degree += int(rng.choice([-2, -1, 1, 1, 2, 3, -3]))
                    score.note(start + position, min(step, 4 * beat - position) * 0.95, key.pitch(degree) + 12,
                               velocity(start + position - time) + 15)
                    position += step
            elif texture == "scales":
                degree = int(rng.integers(0, 7))
                direction = 1 if rng.random() < 0.5 else -1
                for step in range(16):
                    at = start + step * beat / 4
                    score.note(at, beat / 4 * 0.9, key.pitch(degree + direction * step) + 12, velocity(at - time))
                score.note(start, 4 * beat * 0.9, chord[0] - 12, velocity(0) - 10)
            elif texture == "staccato":
                for step in range(8):
                    at = start + step * beat / 2
                    pitches = chord if step % 2 else [chord[0] - 12]
                    for pitch in pitches:
                        score.note(at, 0.08, pitch + 12 * (step % 2), velocity(at - time))
            else:  # repeated notes over a held bass
                pitch = key.pitch(int(rng.integers(7, 12))) + 12
                for step in range(8):
                    at = start + step * beat / 2
                    score.note(at, beat / 2 * 0.7, pitch, velocity(at - time))
                score.note(start, 4 * beat * 0.95, chord[0] - 12, velocity(0))
            bar += 1
        time += length + float(rng.choice([0.0, 0.0, 0.5]))
    return score
