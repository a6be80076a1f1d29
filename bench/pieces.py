"""Benchmark music: deterministic MIDI pieces for real instruments, written with mido.

The pieces are generated rather than committed: a seeded random walk over chord progressions in
a key gives music with the traits that matter to a transcriber (chords, overlapping voices, fast
passages, repeated notes, long held notes, several timbres and a drum kit) at any length.
FluidSynth then renders them with the General MIDI sound font Debian ships.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mido
import numpy as np

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9

# General MIDI programs (0-based).
ACOUSTIC_GRAND = 0
NYLON_GUITAR = 24
STEEL_GUITAR = 25
FINGERED_BASS = 33
VIOLIN = 40
CELLO = 42
STRING_ENSEMBLE = 48
FLUTE = 73
# General MIDI drum keys.
KICK, SNARE, CLOSED_HAT = 36, 38, 42

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Scale degrees (0-based) of each bar's chord root.
PROGRESSIONS = (
    (0, 5, 3, 4),
    (0, 3, 4, 0),
    (5, 3, 0, 4),
    (0, 4, 5, 3),
    (1, 4, 0, 0),
)


def one_track_midi(events: list[tuple[int, int, mido.Message]], programs: dict[int, int], *,
                   head: list[mido.MetaMessage] = (), tail_ticks: int = TICKS_PER_BEAT,
                   reverb_send: int = 30) -> mido.MidiFile:
    """A type-1 file of one track: ``head``, each channel's program and reverb send (CC 91), then the
    (absolute tick, order, message) ``events`` in time order, and ``tail_ticks`` of silence before its end."""
    track = mido.MidiTrack(head)
    for channel, program in sorted(programs.items()):
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        # Chorus off so pitches stay clean.
        track.append(mido.Message("control_change", channel=channel, control=91, value=reverb_send, time=0))
        track.append(mido.Message("control_change", channel=channel, control=93, value=0, time=0))
    last = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        track.append(message.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=tail_ticks))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    return midi


@dataclass
class Score:
    """Notes in beats, per channel, before they become a MIDI file."""

    tempo_bpm: float
    programs: dict[int, int] = field(default_factory=dict)  # channel -> program
    notes: list[tuple[float, float, int, int, int]] = field(default_factory=list)  # start, length, channel, pitch, velocity
    reverb_send: int = 30  # a touch of reverb (CC 91), as any real recording has
    tail_beats: int = 1  # silence after the last note-off, for the release to ring

    def add(self, start: float, length: float, channel: int, pitch: int, velocity: int) -> None:
        if 0 <= pitch <= 127 and length > 0:
            self.notes.append((start, length, channel, int(pitch), int(np.clip(velocity, 1, 127))))

    def to_midi(self) -> mido.MidiFile:
        events: list[tuple[int, int, mido.Message]] = []
        for start, length, channel, pitch, velocity in self.notes:
            on = round(start * TICKS_PER_BEAT)
            off = max(on + 1, round((start + length) * TICKS_PER_BEAT))
            events.append((on, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
            events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        tempo = mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.tempo_bpm), time=0)
        return one_track_midi(events, self.programs, head=[tempo], tail_ticks=self.tail_beats * TICKS_PER_BEAT,
                              reverb_send=self.reverb_send)


class Harmony:
    """A key and a chord per bar, changing key every few progressions."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._new_key()

    def _new_key(self) -> None:
        self.tonic = 48 + int(self.rng.integers(0, 12))
        self.scale = MAJOR if self.rng.random() < 0.7 else MINOR
        self.progression = PROGRESSIONS[int(self.rng.integers(len(PROGRESSIONS)))]

    def chord(self, bar: int) -> list[int]:
        """Root-position triad (or seventh) of this bar, as MIDI pitches around the tonic."""
        if bar > 0 and bar % 16 == 0:
            self._new_key()
        degree = self.progression[bar % len(self.progression)]
        size = 4 if self.rng.random() < 0.25 else 3
        return [self.degree_pitch(degree + 2 * step) for step in range(size)]

    def degree_pitch(self, degree: int) -> int:
        octave, index = divmod(degree, len(self.scale))
        return self.tonic + 12 * octave + self.scale[index]

    def melody_step(self, pitch: int, low: int, high: int) -> int:
        """The next melody note: mostly steps in the scale, sometimes a leap."""
        degrees = [d for d in range(-14, 22) if low <= self.degree_pitch(d) <= high]
        current = min(degrees, key=lambda d: abs(self.degree_pitch(d) - pitch))
        move = int(self.rng.choice([-2, -1, -1, 1, 1, 2, -4, 3, 0]))
        target = min(max(current + move, degrees[0]), degrees[-1])
        return self.degree_pitch(target)


def _bars(seconds: float, tempo: float) -> int:
    return max(1, int(np.ceil(seconds * tempo / 60 / 4)))


def piano(rng: np.random.Generator, seconds: float) -> Score:
    """Solo piano: a melody over broken chords, block chords and the odd fast run."""
    score = Score(tempo_bpm=float(rng.choice([72, 88, 100, 112])), programs={0: ACOUSTIC_GRAND})
    harmony = Harmony(rng)
    melody = 72
    for bar in range(_bars(seconds, score.tempo_bpm)):
        start = bar * 4.0
        chord = harmony.chord(bar)
        style = rng.random()
        if style < 0.5:
            for step in range(8):  # broken chord in eighths
                pitch = chord[step % len(chord)] - 12 + (12 if step % 4 == 3 else 0)
                score.add(start + step * 0.5, 0.6, 0, pitch, 55 + rng.integers(-8, 9))
        else:
            for beat in (0.0, 2.0):
                for pitch in chord:
                    score.add(start + beat, 1.9, 0, pitch - 12, 60 + rng.integers(-10, 10))
                score.add(start + beat, 1.9, 0, chord[0] - 24, 65)
        position = 0.0
        while position < 4.0:
            length = float(rng.choice([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
            if rng.random() < 0.1:
                length = 0.125  # a fast run
            melody = harmony.melody_step(melody, 62, 88)
            score.add(start + position, min(length, 4.0 - position) * 0.95, 0, melody, 80 + rng.integers(-15, 16))
            position += length
    return score


def guitar(rng: np.random.Generator, seconds: float) -> Score:
    """Acoustic guitars: finger-picked arpeggios and strummed chords, a melody on nylon strings."""
    score = Score(tempo_bpm=float(rng.choice([90, 104, 120])), programs={0: STEEL_GUITAR, 1: NYLON_GUITAR})
    harmony = Harmony(rng)
    melody = 67
    for bar in range(_bars(seconds, score.tempo_bpm)):
        start = bar * 4.0
        chord = harmony.chord(bar)
        voicing = [chord[0] - 12] + [pitch for pitch in chord] + [chord[0] + 12]
        voicing = [pitch for pitch in voicing if 40 <= pitch <= 76] or [chord[0]]
        if rng.random() < 0.6:
            pattern = (0, 2, 1, 3, 2, 4, 1, 3)
            for step in range(8):
                pitch = voicing[pattern[step] % len(voicing)]
                score.add(start + step * 0.5, 1.2, 0, pitch, 60 + rng.integers(-10, 10))
        else:
            for beat in (0.0, 1.0, 1.5, 2.5, 3.0):
                down = rng.random() < 0.6
                strings = voicing if down else voicing[::-1]
                for order, pitch in enumerate(strings):  # a strum: strings 20 ms apart
                    score.add(start + beat + order * 0.04, 0.45, 0, pitch, 58 + rng.integers(-8, 8))
        if rng.random() < 0.5:
            position = 0.0
            while position < 4.0:
                length = float(rng.choice([0.5, 1.0, 1.0, 1.5]))
                melody = harmony.melody_step(melody, 60, 84)
                score.add(start + position, min(length, 4.0 - position), 1, melody, 85 + rng.integers(-10, 10))
                position += length
    return score


def strings(rng: np.random.Generator, seconds: float) -> Score:
    """A string section: sustained ensemble chords, a cello line and a legato violin melody."""
    score = Score(tempo_bpm=float(rng.choice([60, 72, 84])),
                  programs={0: STRING_ENSEMBLE, 1: CELLO, 2: VIOLIN})
    harmony = Harmony(rng)
    melody = 76
    for bar in range(_bars(seconds, score.tempo_bpm)):
        start = bar * 4.0
        chord = harmony.chord(bar)
        for pitch in chord:
            score.add(start, 3.9, 0, pitch, 62 + rng.integers(-6, 6))
        for beat in (0.0, 2.0) if rng.random() < 0.5 else (0.0,):
            score.add(start + beat, 1.9 if beat or rng.random() < 0.5 else 3.9, 1, chord[0] - 12, 75)
        position = 0.0
        while position < 4.0:
            length = float(rng.choice([0.5, 1.0, 1.0, 2.0, 3.0]))
            melody = harmony.melody_step(melody, 67, 91)
            score.add(start + position, min(length, 4.0 - position), 2, melody, 88 + rng.integers(-10, 10))
            position += length
    return score


def band(rng: np.random.Generator, seconds: float) -> Score:
    """A small band: piano comping, fingered bass, a string pad, a flute melody and a drum kit."""
    score = Score(
        tempo_bpm=float(rng.choice([96, 110, 124])),
        programs={0: ACOUSTIC_GRAND, 1: FINGERED_BASS, 2: STRING_ENSEMBLE, 3: FLUTE},
    )
    harmony = Harmony(rng)
    melody = 79
    for bar in range(_bars(seconds, score.tempo_bpm)):
        start = bar * 4.0
        chord = harmony.chord(bar)
        for beat in (0.0, 1.5, 2.5) if rng.random() < 0.5 else (0.0, 1.0, 2.0, 3.0):
            for pitch in chord:
                score.add(start + beat, 0.4, 0, pitch, 58 + rng.integers(-8, 8))
        root = chord[0] - 24 if chord[0] - 24 >= 28 else chord[0] - 12
        for beat, offset in ((0.0, 0), (1.0, 7), (2.0, 12), (3.0, 7)):
            score.add(start + beat, 0.9, 1, root + offset, 90)
        if bar % 2 == 0:
            for pitch in chord[:3]:
                score.add(start, 7.8, 2, pitch + 12, 45)
        position = 0.0
        while position < 4.0:
            length = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
            melody = harmony.melody_step(melody, 72, 96)
            score.add(start + position, min(length, 4.0 - position) * 0.9, 3, melody, 80 + rng.integers(-10, 10))
            position += length
        for step in range(8):
            score.add(start + step * 0.5, 0.1, DRUM_CHANNEL, CLOSED_HAT, 50 + 15 * (step % 2 == 0))
        for beat in (0.0, 2.5):
            score.add(start + beat, 0.1, DRUM_CHANNEL, KICK, 95)
        for beat in (1.0, 3.0):
            score.add(start + beat, 0.1, DRUM_CHANNEL, SNARE, 85)
    return score


STYLES = {"piano": piano, "guitar": guitar, "strings": strings, "band": band}


def make_piece(style: str, seconds: float, seed: int) -> mido.MidiFile:
    """A ``seconds``-long piece (give or take a bar) in ``style``, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return STYLES[style](rng, seconds).to_midi()
