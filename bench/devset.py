"""The note-quality dev set: our own pieces, played by many instrument sounds, with the true notes.

Pieces are written here (seeded, so the same seed always gives the same notes) in textures that
stress a transcriber differently: four-voice chorales, melody over Alberti bass, two-voice
counterpoint, legato cantabile lines, repeated notes, wide arpeggios, a waltz, octave doublings,
open-voiced pads under a melody, and fast scales with trills. Each texture has two pieces (two
seeds): the first goes to the tuning half, the second to the held-back half, so a piece is never
in both and both halves hold every texture.

Every piece is rendered once per instrument family with two of that family's sounds, each file
with one of three General MIDI sound fonts (rotated) and one recording condition (rotated): dry,
a large reverberant room, added noise, both, or detuned away from A4 = 440 Hz. FluidSynth renders;
everything lands under ``bench/.cache/devset/`` and is never committed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import mido
import numpy as np
from engine import OTHER_GM_FONTS, SOUND_FONTS
from pieces import MAJOR, MINOR, PROGRESSIONS, TICKS_PER_BEAT, Score

BENCH = Path(__file__).resolve().parent
DEVSET = BENCH / ".cache" / "devset"
AUDIO = DEVSET / "audio"
SAMPLE_RATE = 44100
PIECE_SECONDS = 24.0

# The model covers MIDI 21..108; true notes outside it could never be found.
LOWEST, HIGHEST = 21, 108


# --------------------------------------------------------------------------------------------------
# Pieces: voices of (start beat, length in beats, pitch, velocity), voice 0 the lowest.

Voice = list[tuple[float, float, int, int]]


@dataclass
class Piece:
    texture: str
    seed: int
    tempo_bpm: float
    voices: list[Voice]

    @property
    def name(self) -> str:
        return f"{self.texture}{self.seed}"


class Key:
    """A key with diatonic chords; pitches by scale degree (degree 0 = tonic at ``tonic``)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.tonic = 57 + int(rng.integers(0, 12))  # A3..G#4
        self.scale = MAJOR if rng.random() < 0.65 else MINOR
        self.progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]

    def pitch(self, degree: int) -> int:
        octave, index = divmod(degree, len(self.scale))
        return self.tonic + 12 * octave + self.scale[index]

    def chord_root(self, bar: int) -> int:
        return self.progression[bar % len(self.progression)]

    def chord_tones(self, root: int, low: int, high: int) -> list[int]:
        """Every pitch of the triad on ``root`` between low and high, ascending."""
        classes = {self.pitch(root + 2 * step) % 12 for step in range(3)}
        return [pitch for pitch in range(low, high + 1) if pitch % 12 in classes]

    def scale_between(self, low: int, high: int) -> list[int]:
        classes = {(self.tonic + step) % 12 for step in self.scale}
        return [pitch for pitch in range(low, high + 1) if pitch % 12 in classes]

    def step(self, pitch: int, low: int, high: int, moves=(-2, -1, -1, 1, 1, 2, -3, 3, 0)) -> int:
        """A melodic move along the scale from ``pitch``, kept in [low, high]."""
        scale = self.scale_between(low, high)
        here = min(range(len(scale)), key=lambda i: abs(scale[i] - pitch))
        target = min(max(here + int(self.rng.choice(moves)), 0), len(scale) - 1)
        return scale[target]


def _bars(tempo: float, beats_per_bar: int) -> int:
    return int(np.ceil(PIECE_SECONDS * tempo / 60 / beats_per_bar))


def _nearest(candidates: list[int], pitch: int) -> int:
    return min(candidates, key=lambda c: (abs(c - pitch), c))


def _melody(key: Key, rng, bars: int, beats: int, low: int, high: int, lengths, legato: float, loud: int) -> Voice:
    voice: Voice = []
    pitch = (low + high) // 2
    for bar in range(bars):
        position = 0.0
        while position < beats - 1e-9:
            length = min(float(rng.choice(lengths)), beats - position)
            pitch = key.step(pitch, low, high)
            voice.append((bar * beats + position, length * legato, pitch, loud + int(rng.integers(-12, 13))))
            position += length
    return voice


def chorale(rng: np.random.Generator) -> Piece:
    """Four voices moving together, a chord per half bar, some chords held for two beats."""
    key, tempo = Key(rng), float(rng.choice([66, 76, 84]))
    ranges = ((40, 55), (50, 62), (56, 69), (62, 76))
    voices: list[Voice] = [[] for _ in ranges]
    previous = [(low + high) // 2 for low, high in ranges]
    beat = 0
    while beat < _bars(tempo, 4) * 4:
        length = 2 if beat % 2 == 0 and rng.random() < 0.35 else 1
        chord_root = key.chord_root(beat // 2)
        for index, (low, high) in enumerate(ranges):
            pitch = _nearest(key.chord_tones(chord_root, low, high), previous[index])
            previous[index] = pitch
            voices[index].append((float(beat), length * 0.97, pitch, 70 + int(rng.integers(-8, 9))))
        beat += length
    return Piece("chorale", 0, tempo, _no_overlaps(voices))


def alberti(rng: np.random.Generator) -> Piece:
    """A melody over an Alberti bass in eighths (low, high, middle, high)."""
    key, tempo = Key(rng), float(rng.choice([88, 100, 112]))
    bars = _bars(tempo, 4)
    bass: Voice = []
    for bar in range(bars):
        tones = key.chord_tones(key.chord_root(bar), 45, 64)[:4]
        while len(tones) < 3:
            tones.append(tones[-1] + 12)
        for step, index in enumerate((0, 2, 1, 2) * 2):
            bass.append((bar * 4 + step * 0.5, 0.48, tones[index], 52 + int(rng.integers(-6, 7))))
    melody = _melody(key, rng, bars, 4, 67, 86, (0.5, 1.0, 1.0, 1.5, 2.0, 0.25), 0.92, 82)
    return Piece("alberti", 0, tempo, _no_overlaps([bass, melody]))


def invention(rng: np.random.Generator) -> Piece:
    """Two independent voices in eighths and sixteenths, an octave and more apart."""
    key, tempo = Key(rng), float(rng.choice([72, 84, 96]))
    bars = _bars(tempo, 4)
    low = _melody(key, rng, bars, 4, 43, 60, (0.5, 0.5, 0.25, 1.0), 0.9, 70)
    high = _melody(key, rng, bars, 4, 62, 84, (0.25, 0.25, 0.5, 0.5, 1.0), 0.9, 76)
    return Piece("invention", 0, tempo, _no_overlaps([low, high]))


def cantabile(rng: np.random.Generator) -> Piece:
    """A slow legato melody with long notes, over a held bass note per bar."""
    key, tempo = Key(rng), float(rng.choice([56, 63, 72]))
    bars = _bars(tempo, 4)
    bass = [(bar * 4.0, 3.95, _nearest(key.chord_tones(key.chord_root(bar), 36, 52), 45), 60) for bar in range(bars)]
    melody = _melody(key, rng, bars, 4, 64, 84, (1.0, 1.5, 2.0, 3.0, 0.5), 1.0, 80)
    return Piece("cantabile", 0, tempo, _no_overlaps([bass, melody]))


def repeated(rng: np.random.Generator) -> Piece:
    """Repeated notes: the same pitch two to four times, short and long, over a bass."""
    key, tempo = Key(rng), float(rng.choice([80, 96, 108]))
    bars = _bars(tempo, 4)
    bass, top = [], []
    pitch = 72
    for bar in range(bars):
        bass.append((bar * 4.0, 1.9, _nearest(key.chord_tones(key.chord_root(bar), 40, 55), 48), 64))
        bass.append((bar * 4.0 + 2, 1.9, _nearest(key.chord_tones(key.chord_root(bar), 40, 55), 48), 60))
        position = 0.0
        while position < 4.0 - 1e-9:
            pitch = key.step(pitch, 62, 84)
            step = float(rng.choice([0.25, 0.5, 0.5, 1.0]))
            count = int(rng.integers(2, 5))
            articulation = float(rng.choice([0.5, 0.8, 0.95]))
            for _ in range(count):
                if position >= 4.0 - 1e-9:
                    break
                length = min(step, 4.0 - position)
                top.append((bar * 4 + position, length * articulation, pitch, 74 + int(rng.integers(-10, 11))))
                position += length
    return Piece("repeated", 0, tempo, _no_overlaps([bass, top]))


def arpeggio(rng: np.random.Generator) -> Piece:
    """Wide broken chords up and down over two octaves and more, each note let ring for a beat."""
    key, tempo = Key(rng), float(rng.choice([72, 84, 96]))
    voice: Voice = []
    for bar in range(_bars(tempo, 4)):
        tones = key.chord_tones(key.chord_root(bar), 38, 84)
        lowest = int(rng.integers(0, 3))
        run = tones[lowest : lowest + 8]
        pattern = run + run[-2:0:-1]
        for step in range(16):
            voice.append((bar * 4 + step * 0.25, 0.9, pattern[step % len(pattern)], 64 + int(rng.integers(-8, 9))))
    return Piece("arpeggio", 0, tempo, _no_overlaps([voice]))


def waltz(rng: np.random.Generator) -> Piece:
    """Three-four time: a bass note on one, a chord on two and three, a melody on top."""
    key, tempo = Key(rng), float(rng.choice([120, 138, 152]))
    bars = _bars(tempo, 3)
    bass, chords = [], []
    for bar in range(bars):
        root = key.chord_root(bar)
        bass.append((bar * 3.0, 0.9, _nearest(key.chord_tones(root, 38, 52), 45), 68))
        for beat in (1, 2):
            for pitch in key.chord_tones(root, 55, 67)[:3]:
                chords.append((bar * 3.0 + beat, 0.7, pitch, 50 + int(rng.integers(-6, 7))))
    melody = _melody(key, rng, bars, 3, 69, 88, (1.0, 2.0, 0.5, 3.0), 0.95, 80)
    return Piece("waltz", 0, tempo, _no_overlaps([bass, chords, melody]))


def octaves(rng: np.random.Generator) -> Piece:
    """A melody doubled at the octave over a bass doubled at the octave: real octaves, not ghosts."""
    key, tempo = Key(rng), float(rng.choice([76, 88, 100]))
    bars = _bars(tempo, 4)
    melody = _melody(key, rng, bars, 4, 62, 79, (0.5, 1.0, 1.0, 2.0), 0.93, 78)
    bass = [(bar * 4.0 + beat, 1.9, _nearest(key.chord_tones(key.chord_root(bar), 40, 52), 45), 66)
            for bar in range(bars) for beat in (0, 2)]
    upper = [(s, length, p + 12, v - 6) for s, length, p, v in melody]
    lower = [(s, length, p - 12, v - 4) for s, length, p, v in bass]
    return Piece("octaves", 0, tempo, _no_overlaps([lower, bass, melody, upper]))


def pad(rng: np.random.Generator) -> Piece:
    """Open-voiced sustained chords (root, fifth, octave, tenth) a bar long under a moving melody."""
    key, tempo = Key(rng), float(rng.choice([60, 72, 80]))
    bars = _bars(tempo, 4)
    layers: list[Voice] = [[] for _ in range(4)]
    for bar in range(bars):
        degree = key.chord_root(bar)
        root_pitch = 40 + (key.pitch(degree) - 40) % 12
        fifth = root_pitch + (key.pitch(degree + 4) - key.pitch(degree)) % 12
        tenth = root_pitch + 12 + (key.pitch(degree + 2) - key.pitch(degree)) % 12
        for layer, pitch in enumerate((root_pitch, fifth, root_pitch + 12, tenth)):
            layers[layer].append((bar * 4.0, 3.9, pitch, 56 + int(rng.integers(-5, 6))))
    melody = _melody(key, rng, bars, 4, 67, 86, (0.5, 1.0, 1.0, 2.0), 0.95, 82)
    return Piece("pad", 0, tempo, _no_overlaps([*layers, melody]))


def scales(rng: np.random.Generator) -> Piece:
    """Fast scale runs in sixteenths and trills over a held bass."""
    key, tempo = Key(rng), float(rng.choice([72, 80, 92]))
    bars = _bars(tempo, 4)
    bass = [(bar * 4.0, 3.9, _nearest(key.chord_tones(key.chord_root(bar), 38, 52), 45), 62) for bar in range(bars)]
    top: Voice = []
    pitch = 72
    for bar in range(bars):
        for beat in range(4):
            kind = rng.random()
            scale = key.scale_between(60, 91)
            here = min(range(len(scale)), key=lambda i: abs(scale[i] - pitch))
            if kind < 0.45:  # a run of four up or down
                direction = 1 if here < len(scale) - 5 and (here < 4 or rng.random() < 0.5) else -1
                run = [scale[here + direction * k] for k in range(4)]
            elif kind < 0.7:  # a trill
                upper = scale[min(here + 1, len(scale) - 1)]
                run = [scale[here], upper, scale[here], upper]
            else:  # a quarter note
                run = [scale[here]]
            length = 1.0 / len(run)
            for k, note in enumerate(run):
                top.append((bar * 4 + beat + k * length, length * 0.9, note, 72 + int(rng.integers(-8, 9))))
            pitch = run[-1]
    return Piece("scales", 0, tempo, _no_overlaps([bass, top]))


TEXTURES = {
    "chorale": chorale, "alberti": alberti, "invention": invention, "cantabile": cantabile,
    "repeated": repeated, "arpeggio": arpeggio, "waltz": waltz, "octaves": octaves, "pad": pad, "scales": scales,
}
SEEDS = (1, 2)  # seed 1: tuning half; seed 2: held-back half


def make_piece(texture: str, seed: int) -> Piece:
    # One generator per (texture, seed), independent of every other piece.
    digest = hashlib.sha256(f"{texture}/{seed}".encode()).digest()
    piece = TEXTURES[texture](np.random.default_rng(int.from_bytes(digest[:8], "little")))
    piece.seed = seed
    end = PIECE_SECONDS * piece.tempo_bpm / 60
    piece.voices = [[note for note in voice if note[0] < end] for voice in piece.voices]
    return piece


def _no_overlaps(voices: list[Voice]) -> list[Voice]:
    """Sorted voices in which a pitch never overlaps itself (MIDI cannot say which note-off is which)."""
    cleaned = []
    for voice in voices:
        voice = sorted(voice)
        last_start: dict[int, int] = {}
        kept: Voice = []
        for start, length, pitch, velocity in voice:
            if pitch in last_start:
                index = last_start[pitch]
                s0, l0, p0, v0 = kept[index]
                kept[index] = (s0, min(l0, start - s0 - 0.02), p0, v0)
            last_start[pitch] = len(kept)
            kept.append((start, length, pitch, int(np.clip(velocity, 1, 127))))
        cleaned.append([note for note in kept if note[1] > 0])
    return cleaned


# --------------------------------------------------------------------------------------------------
# Instrument sounds: per family, which General MIDI programs play which voices.


@dataclass(frozen=True)
class Sound:
    """``programs`` from the top voice down; the lowest voice takes the last one (a quartet's cello)."""

    name: str
    family: str
    programs: tuple[int, ...]
    voices: str = "all"  # "all", "top" (a solo line) or "bass" (the lowest voice alone)
    transpose: int = 0

    def program_for(self, voice: int, count: int) -> int:
        if len(self.programs) == 1:
            return self.programs[0]
        if voice == 0:
            return self.programs[-1]
        return self.programs[min(count - 1 - voice, len(self.programs) - 2)]


SOUNDS: tuple[Sound, ...] = (
    Sound("grand", "piano", (0,)), Sound("bright", "piano", (1,)), Sound("grand-low", "piano", (0,), transpose=-12),
    Sound("epiano1", "electric_piano", (4,)), Sound("epiano2", "electric_piano", (5,)),
    Sound("drawbar", "organ", (16,)), Sound("church", "organ", (19,)), Sound("reed", "organ", (20,)),
    Sound("nylon", "guitar", (24,), transpose=-12), Sound("steel", "guitar", (25,), transpose=-12),
    Sound("jazz", "guitar", (26,), transpose=-12), Sound("clean", "guitar", (27,), transpose=-12),
    Sound("finger", "bass", (33,), voices="bass", transpose=-12),
    Sound("pick", "bass", (34,), voices="bass", transpose=-12),
    Sound("acoustic", "bass", (32,), voices="bass", transpose=-12),
    Sound("fretless", "bass", (35,), voices="bass", transpose=-12),
    Sound("quartet", "strings", (40, 40, 41, 42)), Sound("violin", "strings", (40,)),
    Sound("solo-violin", "strings", (40,), voices="top"), Sound("cello", "strings", (42,), transpose=-12),
    Sound("section", "strings", (48,)), Sound("section2", "strings", (49,)),
    Sound("flute", "winds", (73,)), Sound("clarinet", "winds", (71,)), Sound("oboe", "winds", (68,)),
    Sound("whistle", "winds", (78,)), Sound("recorder", "winds", (74,), voices="top"),
    Sound("clarinets", "winds", (71, 71, 71, 71)), Sound("quintet", "winds", (73, 68, 71, 70)),
    Sound("trumpet", "brass", (56,), voices="top"), Sound("trombone", "brass", (57,), transpose=-12),
    Sound("horn", "brass", (60,), transpose=-5), Sound("section", "brass", (61,)),
    Sound("brass-ensemble", "brass", (56, 56, 60, 57)),
    Sound("choir", "vocals", (52,)), Sound("oohs", "vocals", (53,)), Sound("solo-oohs", "vocals", (53,), voices="top"),
    Sound("synth-voice", "vocals", (54,)),
    Sound("square", "synth", (80,), voices="top"), Sound("saw", "synth", (81,)), Sound("warm-pad", "synth", (89,)),
    Sound("synth-strings", "synth", (50,)), Sound("synth-brass", "synth", (62,)),
)
FAMILIES = tuple(dict.fromkeys(sound.family for sound in SOUNDS))
SOUNDS_PER_PIECE_AND_FAMILY = 2
# Recording conditions, rotated over the files: (name, reverb send and room, noise SNR dB, detune cents).
CONDITIONS = (
    ("dry", False, None, 0),
    ("hall", True, None, 0),
    ("noise", False, 24, 0),
    ("dry", False, None, 0),
    ("hall-noise", True, 30, 0),
    ("detuned", False, None, -35),
    ("dry", False, None, 0),
    ("hall", True, None, 0),
    ("detuned", True, None, 28),
    ("noise", False, 18, 0),
)


@dataclass(frozen=True)
class DevFile:
    texture: str
    seed: int
    sound: Sound
    font: str
    condition: str
    reverb: bool
    snr_db: float | None
    detune_cents: int

    @property
    def piece(self) -> str:
        return f"{self.texture}{self.seed}"

    @property
    def family(self) -> str:
        return self.sound.family

    @property
    def half(self) -> str:
        return "tune" if self.seed == SEEDS[0] else "held"

    @property
    def name(self) -> str:
        return f"{self.piece}-{self.family}-{self.sound.name}-{self.font}-{self.condition}"

    @property
    def audio(self) -> Path:
        return AUDIO / f"{self.name}.wav"

    @property
    def truth(self) -> Path:
        return AUDIO / f"{self.name}.notes.json"


def dev_files(half: str | None = None) -> list[DevFile]:
    """Every file of the dev set (or of one half: "tune" or "held"), in a fixed order."""
    files = []
    counter = 0
    for texture_index, texture in enumerate(TEXTURES):
        for seed in SEEDS:
            for family_index, family in enumerate(FAMILIES):
                sounds = [sound for sound in SOUNDS if sound.family == family]
                for k in range(SOUNDS_PER_PIECE_AND_FAMILY):
                    sound = sounds[(texture_index * SOUNDS_PER_PIECE_AND_FAMILY + seed + k) % len(sounds)]
                    font = tuple(SOUND_FONTS)[(texture_index + family_index + k + seed) % len(SOUND_FONTS)]
                    condition = CONDITIONS[counter % len(CONDITIONS)]
                    counter += 1
                    files.append(DevFile(texture, seed, sound, font, *condition))
    return [f for f in files if half is None or f.half == half]


FONT_FILES = {**SOUND_FONTS, **OTHER_GM_FONTS}  # what a DevFile's ``font`` names


def other_font_files(half: str | None = None) -> list[DevFile]:
    """The same files played with each of bench/engine.py's OTHER_GM_FONTS instead (quality.py --unseen-fonts):
    fonts no setting was chosen on."""
    return [replace(file, font=font) for file in dev_files(half) for font in OTHER_GM_FONTS]


# --------------------------------------------------------------------------------------------------
# Rendering


def arranged(piece: Piece, sound: Sound) -> list[tuple[int, int, list[tuple[float, float, int, int]]]]:
    """(channel, program, notes) per voice the sound plays, transposed into the model's range."""
    count = len(piece.voices)
    chosen = {"all": range(count), "top": [count - 1], "bass": [0]}[sound.voices]
    parts = []
    for channel, voice in enumerate(chosen):
        channel = channel if channel < 9 else channel + 1  # channel 10 is drums
        notes = [(s, length, p + sound.transpose, v) for s, length, p, v in piece.voices[voice]]
        notes = [note for note in notes if LOWEST <= note[2] <= HIGHEST]
        parts.append((channel, sound.program_for(voice, count), notes))
    return parts


def to_midi(piece: Piece, sound: Sound, reverb: bool) -> mido.MidiFile:
    score = Score(tempo_bpm=piece.tempo_bpm, reverb_send=110 if reverb else 25, tail_beats=2)
    for channel, program, notes in arranged(piece, sound):
        score.programs[channel] = program
        score.notes.extend((start, length, channel, pitch, velocity) for start, length, pitch, velocity in notes)
    return score.to_midi()


def true_notes(piece: Piece, sound: Sound, time_scale: float = 1.0) -> list[tuple[float, float, int]]:
    """(onset s, offset s, MIDI pitch) of every note as written, in the rendered file's time."""
    seconds_per_beat = 60.0 / piece.tempo_bpm
    notes = []
    for _, _, voice in arranged(piece, sound):
        for start, length, pitch, _ in voice:
            on = round(start * TICKS_PER_BEAT) / TICKS_PER_BEAT
            off = max(on + 1 / TICKS_PER_BEAT, round((start + length) * TICKS_PER_BEAT) / TICKS_PER_BEAT)
            notes.append((on * seconds_per_beat * time_scale, off * seconds_per_beat * time_scale, pitch))
    return sorted(notes)


def render(file: DevFile) -> Path:
    """The file's WAV (44.1 kHz stereo, 16-bit) and its true notes, made once and cached."""
    import soundfile
    import soxr

    if file.audio.exists() and file.truth.exists():
        return file.audio
    AUDIO.mkdir(parents=True, exist_ok=True)
    piece = make_piece(file.texture, file.seed)
    midi_path = AUDIO / f"{file.name}.mid"
    to_midi(piece, file.sound, file.reverb).save(midi_path)
    raw = AUDIO / f"{file.name}.raw.wav"
    room = ["-o", "synth.reverb.room-size=0.85", "-o", "synth.reverb.level=0.8"] if file.reverb else []
    subprocess.run(["fluidsynth", "-ni", "-q", "-o", "synth.dynamic-sample-loading=1", "-g", "0.4", "-r", str(SAMPLE_RATE), "-T", "wav",
                    "-O", "float", "-F", str(raw), *room, str(FONT_FILES[file.font]), str(midi_path)],
                   check=True, stdout=subprocess.DEVNULL)
    samples, rate = soundfile.read(raw, dtype="float64", always_2d=True)
    raw.unlink()
    midi_path.unlink()
    digest = hashlib.sha256(file.name.encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    time_scale = 1.0
    if file.detune_cents:
        # Played back faster by the ratio: every pitch moves by the cents, every time shrinks by it.
        ratio = 2.0 ** (file.detune_cents / 1200)
        samples = soxr.resample(samples, rate, rate / ratio, quality="VHQ")
        time_scale = 1.0 / ratio
    if file.snr_db is not None:
        signal_power = float(np.mean(samples**2))
        samples_count = samples.shape[0]
        # Pink noise (power falling 3 dB an octave), shaped in the frequency domain.
        spectrum = rng.standard_normal((samples_count // 2 + 1, samples.shape[1])) + 1j * rng.standard_normal(
            (samples_count // 2 + 1, samples.shape[1]))
        frequencies = np.maximum(np.fft.rfftfreq(samples_count, 1 / rate), 20.0)
        noise = np.fft.irfft(spectrum / np.sqrt(frequencies)[:, None], n=samples_count, axis=0)
        noise *= np.sqrt(signal_power / np.mean(noise**2) / 10 ** (file.snr_db / 10))
        samples = samples + noise
    peak = float(np.max(np.abs(samples))) or 1.0
    level_db = -1.0 - 11.0 * rng.random()  # recordings arrive at all levels
    samples = samples / peak * 10 ** (level_db / 20)
    partial = file.audio.with_name(file.audio.name + ".part.wav")
    soundfile.write(partial, samples.astype(np.float32), rate, subtype="PCM_16")
    partial.replace(file.audio)
    file.truth.write_text(json.dumps({"file": file.name, "family": file.family, "tuning_cents": file.detune_cents,
                                      "notes": true_notes(piece, file.sound, time_scale)}))
    return file.audio


def load_truth(file: DevFile) -> dict:
    return json.loads(file.truth.read_text())
