"""Drum transcription bench: onset F1 per drum class on our own patterns, rendered by FluidSynth.

    .venv/bin/python bench/drums.py                     # the held-back half (the figures the README quotes)
    .venv/bin/python bench/drums.py --half tuning       # the half settings are chosen on
    .venv/bin/python bench/drums.py --set threshold.kick=0.2 --half tuning   # try a setting
    .venv/bin/python bench/drums.py --tempo             # also the tempo, beats and bars tracked from the drum notes
    .venv/bin/python bench/drums.py --tempo --hint-spread 0.25   # ... given a tempo_hint as in bench/tempo.py
    .venv/bin/python bench/drums.py --clips 4 6 8     # the tempo of 4-, 6- and 8-s excerpts, as drum loops
    .venv/bin/python bench/drums.py --half tuning --medium-snares   # half the snares at 55 % velocity
    .venv/bin/python bench/drums.py --half tuning --ghosts-after    # a ghost note a 16th after each accent
    .venv/bin/python bench/drums.py --half tuning --hats-under-crashes   # a closed hi-hat with every crash
    .venv/bin/python bench/drums.py --half tuning --kit tr808       # another GM drum kit than Standard
    .venv/bin/python bench/drums.py --unseen-fonts      # four sound fonts outside the dev set
    .venv/bin/python bench/drums.py --half tuning --all-sets    # every check set in one table (90 s)
    .venv/bin/python bench/drums.py --half tuning --errors tom  # where the toms go wrong, and what is there

The dev set is generated here: bench/drum_patterns.py writes the patterns (ten styles, four variants
each: two for tuning, two held back), and each is rendered on channel 10 with three General MIDI sound
fonts (FluidR3_GM, MuseScore_General, TimGM6mb) at a level drawn per file, cached under
bench/.cache/drums/. Four check sets render the same patterns otherwise, each cached beside it:
``--medium-snares`` plays every second snare hit that is not a ghost note at MEDIUM_SNARE_SCALE of its
velocity (the dev set's snares are otherwise accents or ghost notes, so a rule that takes a snare of
middling strength for something else looks free there and is not); ``--ghosts-after`` adds a ghost note
a sixteenth after every snare accent (for rules that look at what follows a hit); ``--hats-under-crashes``
strikes a closed hi-hat with every crash (the grooves leave the hat out there, so a rule that drops hats
at crashes looks free on the dev set); ``--kit NAME`` plays
another of the fonts' GM drum kits (KITS) instead of the Standard one, since a held-out recording may be
played on any kit; ``--unseen-fonts`` renders with four other fonts (UNSEEN_FONTS), two of them real
kits sampled per key. Scoring matches each class's onsets one to one within 50 ms (the greedy match on
sorted times is a maximum matching in one dimension, the same count mir_eval's bipartite matching
gives). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache" / "drums"
sys.path.insert(0, str(BENCH))

import drum_patterns  # noqa: E402
from engine import OTHER_GM_FONT_PACKAGES, OTHER_GM_FONTS, SOUND_FONTS, ensure_fluidsynth, excerpt  # noqa: E402

VARIANTS = 4
SECONDS_PER_PATTERN = 24.0
GAP_S = 4.0  # silence between patterns in the one rendering per sound font (reverb tails die out)
RENDER_RATE = 44_100
TOLERANCE_S = 0.05
DRUM_LEAD_IN_S = 0.5  # drum_patterns.play starts every pattern's first beat here
MEDIUM_SNARE_SCALE = 0.55
GHOST_VELOCITY = 50  # snare hits softer than this are the patterns' ghost notes, left as they are
GHOST_AFTER_VELOCITY = 32  # the ghost notes --ghosts-after adds (the funk pattern's own ghost velocity)
HAT_UNDER_CRASH_VELOCITY = 75  # the closed hi-hat --hats-under-crashes adds (a groove's accented hat)
# Sound fonts beyond the three of the dev set (``--unseen-fonts``), from other Debian packages: a held-out
# recording may come from any font. Nothing was chosen on them but the dark crash model and its two rules
# (kit.py, DrumSettings.crash_mid_ring and tail_ring), on Red Zeppelin's tuning half beside the dev set's;
# csound, OPL3 and Black Pearl are unseen. The AVL kits (Black Pearl, Red Zeppelin) are real kits sampled
# per key in a melodic preset (bank 0), so their patterns are played on MIDI channel 1 instead of 10.
UNSEEN_FONTS = {
    **OTHER_GM_FONTS,
    "black-pearl": Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"),
    "red-zeppelin": Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"),
}
UNSEEN_FONT_PACKAGES = (*OTHER_GM_FONT_PACKAGES, "avldrums.lv2-soundfont")
MELODIC_KIT_FONTS = ("black-pearl", "red-zeppelin")
# Their kits have four pieces and their own uses for some GM keys (the sample names in the fonts say so:
# 48 is a hi-hat swish, 50 a crash choke, 52 a ride choke, 35 is silent). The patterns' keys that mean
# something else there are played on the piece of the same class: high toms on the one rack tom.
MELODIC_KIT_KEYS = {35: 36, 48: 45, 50: 45, 52: 49}
# The General MIDI / GS drum kits the three fonts have besides the Standard kit (program numbers on channel 10).
KITS = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "tr808": 25, "jazz": 32, "brush": 40}

# The transcriber's classes, by the GM key it writes, in the bench's classes.
WRITTEN_CLASS = {36: "kick", 38: "snare", 42: "hihat", 46: "hihat", 41: "tom", 45: "tom", 48: "tom",
                 49: "crash", 51: "ride"}


def say(message: str) -> None:
    print(f"[drums {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# The dev set


@dataclass(frozen=True)
class Item:
    pattern: drum_patterns.Pattern
    font: str
    variant: str = "standard"  # a key of TAKE_VARIANTS
    kit: str = "standard"
    degrade: str = ""  # a key of DEGRADATIONS: the rendering passed through it

    @property
    def folder(self) -> Path:
        name = CACHE.name + ("" if self.variant == "standard" else f"-{self.variant}")
        name += "" if self.kit == "standard" else f"-kit-{self.kit}"
        return CACHE.with_name(name + (f"-{self.degrade}" if self.degrade else "")) / self.font

    @property
    def wav(self) -> Path:
        return self.folder / f"{self.pattern.name}.wav"

    @property
    def reference(self) -> Path:
        return self.folder / f"{self.pattern.name}.json"


def with_medium_snares(take: drum_patterns.Played) -> drum_patterns.Played:
    """The take with every second snare hit that is not a ghost note played at MEDIUM_SNARE_SCALE."""
    onsets, count = [], 0
    for seconds, key, velocity in take.onsets:
        if key == drum_patterns.SNARE and velocity >= GHOST_VELOCITY:
            count += 1
            if count % 2 == 0:
                velocity = max(1, round(velocity * MEDIUM_SNARE_SCALE))
        onsets.append((seconds, key, velocity))
    return dataclasses.replace(take, onsets=onsets)


def with_ghosts_after(take: drum_patterns.Played) -> drum_patterns.Played:
    """The take with a ghost note a sixteenth after every snare accent, where no snare is played already."""
    sixteenth = 15.0 / take.tempo_bpm
    snares = [seconds for seconds, key, _ in take.onsets if key == drum_patterns.SNARE]
    added = [(seconds + sixteenth, drum_patterns.SNARE, GHOST_AFTER_VELOCITY)
             for seconds, key, velocity in take.onsets
             if key == drum_patterns.SNARE and velocity >= GHOST_VELOCITY
             and all(abs(other - seconds - sixteenth) >= 0.6 * sixteenth for other in snares)]
    return dataclasses.replace(take, onsets=sorted(take.onsets + added))


def with_hats_under_crashes(take: drum_patterns.Played) -> drum_patterns.Played:
    """The take with a closed hi-hat struck with every crash that has none (the dev set's grooves leave the
    hat out where the crash lands, as a drummer whose right hand moves to the crash does)."""
    hats = [seconds for seconds, key, _ in take.onsets if drum_patterns.KEY_CLASS[key] == "hihat"]
    added = [(seconds, drum_patterns.CLOSED_HAT, HAT_UNDER_CRASH_VELOCITY) for seconds, key, _ in take.onsets
             if drum_patterns.KEY_CLASS[key] == "crash" and all(abs(other - seconds) > 0.01 for other in hats)]
    return dataclasses.replace(take, onsets=sorted(take.onsets + added))


# The check sets: how each pattern's take is changed before rendering.
TAKE_VARIANTS = {"standard": None, "medium-snares": with_medium_snares, "ghosts-after": with_ghosts_after,
                 "hats-under-crashes": with_hats_under_crashes}


def ensure_rendered(patterns: list[drum_patterns.Pattern], variant: str = "standard", kit: str = "standard",
                    fonts: dict[str, Path] = SOUND_FONTS) -> list[Item]:
    """Render every pattern with every sound font of ``fonts`` (once; cached). One FluidSynth run per font:
    the MuseScore font takes half a minute to load, so its patterns are played one after another with
    silence between them and cut apart afterwards."""
    import soundfile

    items = [Item(pattern, font, variant, kit) for font in fonts for pattern in patterns]
    for font, sound_font in fonts.items():
        todo = [item.pattern for item in items if item.font == font and not item.wav.exists()]
        if not todo:
            continue
        folder = Item(todo[0], font, variant, kit).folder
        folder.mkdir(parents=True, exist_ok=True)
        played = [drum_patterns.play(pattern, SECONDS_PER_PATTERN) for pattern in todo]
        if TAKE_VARIANTS[variant] is not None:
            played = [TAKE_VARIANTS[variant](take) for take in played]
        played = [dataclasses.replace(take, kit_program=KITS[kit]) for take in played]
        if font in MELODIC_KIT_FONTS:
            played = [dataclasses.replace(take, onsets=[(seconds, MELODIC_KIT_KEYS.get(key, key), velocity)
                                                        for seconds, key, velocity in take.onsets]) for take in played]
        starts, position = [], 0.0
        for take in played:
            starts.append(position)
            position += take.seconds + GAP_S
        combined = drum_patterns.concatenate([(start, take) for start, take in zip(starts, played, strict=True)])
        midi_path = folder / "combined.mid"
        if font in MELODIC_KIT_FONTS:
            for track in combined.tracks:
                track[:] = [message.copy(channel=0) if hasattr(message, "channel") else message for message in track]
        combined.save(midi_path)
        wav_path = folder / "combined.wav"
        say(f"rendering {len(todo)} patterns with {sound_font.name}")
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RENDER_RATE), "-T", "wav",
                        "-F", str(wav_path), str(sound_font), str(midi_path)], check=True, stdout=subprocess.DEVNULL)
        audio, rate = soundfile.read(str(wav_path), dtype="float32", always_2d=True)
        for pattern, take, start in zip(todo, played, starts, strict=True):
            first = int(round(start * rate))
            piece = audio[first:first + int(round(take.seconds * rate))]
            # A level per file, so nothing depends on how loud the stem is.
            rng = np.random.default_rng([pattern.seed, list(fonts).index(font)])
            peak = float(10 ** (rng.uniform(-20, -1) / 20))
            piece = piece * (peak / max(1e-6, float(np.abs(piece).max())))
            item = Item(pattern, font, variant, kit)
            item.reference.write_text(json.dumps({"tempo_bpm": take.tempo_bpm, "onsets": take.onsets}))
            soundfile.write(str(item.wav), piece, rate, subtype="PCM_16")
        wav_path.unlink()
    return items


# What a held-out or user's drum recording may have been through: lossy codecs (libsndfile's encoders at their
# default quality) and a rendering at 22.05 kHz, which has nothing above 11 kHz, where hi-hats and cymbals sound most.
DEGRADATIONS = ("mp3", "ogg", "22k")


def degraded(items: list[Item], how: str) -> list[Item]:
    """The same renderings passed through ``how`` (once; cached beside them, with the same reference)."""
    import soundfile
    import soxr

    out = []
    for item in items:
        copy = dataclasses.replace(item, degrade=how)
        if not copy.wav.exists():
            copy.folder.mkdir(parents=True, exist_ok=True)
            audio, rate = soundfile.read(str(item.wav), dtype="float32", always_2d=True)
            if how == "22k":
                soundfile.write(str(copy.wav), soxr.resample(audio, rate, rate // 2), rate // 2, subtype="PCM_16")
            else:  # stored under the .wav name; libsndfile reads it by its contents
                soundfile.write(str(copy.wav), audio, rate, format={"mp3": "MP3", "ogg": "OGG"}[how],
                                subtype={"mp3": "MPEG_LAYER_III", "ogg": "VORBIS"}[how])
            copy.reference.write_text(item.reference.read_text())
        out.append(copy)
    return out


# --------------------------------------------------------------------------------------------------
# Scoring


def matched_pairs(reference, estimated, tolerance: float = TOLERANCE_S) -> list[tuple[int, int]]:
    """(reference index, estimate index) of onsets paired one to one within ``tolerance``."""
    reference, estimated = np.asarray(reference, dtype=np.float64), np.asarray(estimated, dtype=np.float64)
    ref_order, est_order = np.argsort(reference, kind="stable"), np.argsort(estimated, kind="stable")
    i = j = 0
    pairs = []
    while i < len(reference) and j < len(estimated):
        gap = estimated[est_order[j]] - reference[ref_order[i]]
        if abs(gap) <= tolerance:
            pairs.append((int(ref_order[i]), int(est_order[j])))
            i += 1
            j += 1
        elif gap < 0:
            j += 1
        else:
            i += 1
    return pairs


def matched(reference, estimated, tolerance: float = TOLERANCE_S) -> int:
    """How many reference onsets pair one to one with an estimated onset within ``tolerance``."""
    return len(matched_pairs(reference, estimated, tolerance))


@dataclass
class Counts:
    reference: int = 0
    estimated: int = 0
    hits: int = 0

    def add(self, other: Counts) -> None:
        self.reference += other.reference
        self.estimated += other.estimated
        self.hits += other.hits

    @property
    def precision(self) -> float:
        return self.hits / self.estimated if self.estimated else float("nan")

    @property
    def recall(self) -> float:
        return self.hits / self.reference if self.reference else float("nan")

    @property
    def f1(self) -> float:
        total = self.reference + self.estimated
        return 2 * self.hits / total if total else float("nan")


SCORED = ("kick", "snare", "hihat", "hihat_closed", "hihat_open", "tom", "crash", "ride")


def score(reference: list[tuple[float, int, int]], notes) -> dict[str, Counts]:
    """Counts per class; the hi-hat is scored as one class and, separately, as closed and open."""
    def times(pairs, wanted) -> np.ndarray:
        return np.array([t for t, name in pairs if name == wanted], dtype=np.float64)

    ref = [(t, drum_patterns.KEY_CLASS[key]) for t, key, _ in reference]
    est = [(note.start_s, WRITTEN_CLASS.get(note.pitch, "other")) for note in notes]
    ref_open = [(t, "open" if key == drum_patterns.OPEN_HAT else "closed") for t, key, _ in reference
                if drum_patterns.KEY_CLASS[key] == "hihat"]
    est_open = [(note.start_s, "open" if note.pitch == 46 else "closed") for note in notes if note.pitch in (42, 46)]
    counts = {}
    for name in SCORED:
        if name.startswith("hihat_"):
            kind = name.removeprefix("hihat_")
            r, e = times(ref_open, kind), times(est_open, kind)
        else:
            r, e = times(ref, name), times(est, name)
        counts[name] = Counts(len(r), len(e), matched(r, e))
    return counts


# --------------------------------------------------------------------------------------------------
# Running


def parse_settings(pairs: list[str]):
    from midiscribe.engine.drums import DrumSettings

    return DrumSettings.with_overrides(dict(pair.split("=", 1) for pair in pairs))


def true_beats(pattern: drum_patterns.Pattern, reference: dict) -> tuple[float, np.ndarray]:
    """(tempo, beat times) of the notated beat: the quarter note, or 6/8's dotted quarter."""
    _, _, quarters_per_bar = drum_patterns.STYLES[pattern.style]
    quarters_per_beat = 1.5 if quarters_per_bar == 3.0 else 1.0
    period = 60.0 / reference["tempo_bpm"] * quarters_per_beat
    last = max(t for t, _, _ in reference["onsets"])
    return 60.0 / period, DRUM_LEAD_IN_S + period * np.arange(int((last - DRUM_LEAD_IN_S) / period + 1e-6) + 1)


def beats_per_bar(pattern: drum_patterns.Pattern) -> int:
    """The notated beats in a bar: 4, or 6/8's 2 (every pattern plays whole bars from its lead-in, so its
    downbeats are every this many of ``true_beats``)."""
    _, _, quarters_per_bar = drum_patterns.STYLES[pattern.style]
    return 2 if quarters_per_bar == 3.0 else int(quarters_per_bar)


def tempo_figures(rows: list[tuple]) -> str:
    """Acc1, Acc2 and beat F (mir_eval, 70 ms, first 5 s skipped) of the rhythm tracked from the drum notes,
    its downbeat F (70 ms) and how many files get the written bar's length in beats (4, or 6/8's 2; a
    shuffle written 12/8 has the 4 of its 4/4)."""
    sys.path.insert(0, str(BENCH))
    from tempo import ACC2_LEVELS, beat_f, downbeat_f, ensure_bench_packages, tempo_right

    ensure_bench_packages()
    lines = ["| style | files | Acc1 | Acc2 | beat F | downbeat F | bar length |", "|---|---|---|---|---|---|---|"]
    scored = [(style, tempo_right(ours, truth), tempo_right(ours, truth, ACC2_LEVELS), beat_f(beats, found),
               downbeat_f(downbeats, found_downbeats), bar_beats == found_bar_beats)
              for style, truth, ours, beats, found, downbeats, found_downbeats, bar_beats, found_bar_beats in rows]
    for style in [*dict.fromkeys(row[0] for row in scored), None]:
        mine = [row for row in scored if style is None or row[0] == style]
        lines.append(f"| {style or 'all'} | {len(mine)} | {np.mean([r[1] for r in mine]):.0%} | "
                     f"{np.mean([r[2] for r in mine]):.0%} | {np.mean([r[3] for r in mine]):.3f} | "
                     f"{np.mean([r[4] for r in mine]):.3f} | {sum(r[5] for r in mine)}/{len(mine)} |")
    return "\n".join(lines)


# Where --clips cuts its excerpts: a second past each pattern's half-second lead-in.
CLIP_START_S = 1.5


def clip_tempi(items: list[Item], lengths: list[float], settings) -> str:
    """--clips: excerpts of each length from CLIP_START_S, as a drum loop a user sends; per style and in all,
    how often the rhythm tracked from the drum notes has a tempo and Acc1 / Acc2 (no tempo counts as wrong)."""
    from tempo import ACC2_LEVELS, tempo_right

    from midiscribe.engine.drums import transcribe_drums
    from midiscribe.engine.rhythm import rhythm_of_notes

    lines = ["| excerpt | style | files | a tempo | Acc1 | Acc2 |", "|---|---|---|---|---|---|"]
    truths = [true_beats(item.pattern, json.loads(item.reference.read_text()))[0] for item in items]
    for seconds in lengths:
        rows = []
        for item, truth in zip(items, truths, strict=True):
            cached = item.folder / "clips" / f"{item.pattern.name}-{seconds:g}s.wav"
            loop = excerpt(item.wav, cached, CLIP_START_S, seconds)
            result = transcribe_drums(loop, settings=settings)
            rhythm = rhythm_of_notes(result.notes, result.duration_s, drum=[True] * len(result.notes))
            bpm = rhythm.tempo_bpm if rhythm is not None and rhythm.tempo_bpm else None
            rows.append((item.pattern.style, bpm is not None, bpm is not None and tempo_right(bpm, truth),
                         bpm is not None and tempo_right(bpm, truth, ACC2_LEVELS)))
        for style in [*dict.fromkeys(row[0] for row in rows), None]:
            mine = [row for row in rows if style is None or row[0] == style]
            found, acc1, acc2 = (np.mean([r[column] for r in mine]) for column in (1, 2, 3))
            name = style or "**all**"
            lines.append(f"| {seconds:g} s | {name} | {len(mine)} | {found:.0%} | {acc1:.0%} | {acc2:.0%} |")
    return "\n".join(lines)


def evaluate(items: list[Item], settings, tempo_rows: list | None = None, velocities_too: bool = True,
             hint_spread: float | None = None) -> tuple[dict[str, Counts], dict[str, dict[str, Counts]], float, float]:
    from tempo import tempo_hint_for  # a user's tempo_hint (--hint-spread), drawn as bench/tempo.py draws it

    from midiscribe.engine.drums import transcribe_drums
    from midiscribe.engine.options import Hints
    from midiscribe.engine.rhythm import rhythm_of_notes

    totals = {name: Counts() for name in SCORED}
    per_font = {font: {name: Counts() for name in SCORED} for font in dict.fromkeys(item.font for item in items)}
    velocities: dict[str, list[tuple[int, int]]] = {name: [] for name in ("kick", "snare", "hihat")}
    audio_s = wall_s = 0.0
    for index, item in enumerate(items):
        reference = json.loads(item.reference.read_text())["onsets"]
        began = time.perf_counter()
        result = transcribe_drums(item.wav, settings=settings)
        wall_s += time.perf_counter() - began
        audio_s += result.duration_s
        if tempo_rows is not None:
            played = json.loads(item.reference.read_text())
            truth, beats = true_beats(item.pattern, played)
            bar_beats = beats_per_bar(item.pattern)
            downbeats = beats[::bar_beats]
            rhythm = rhythm_of_notes(result.notes, result.duration_s, drum=[True] * len(result.notes),
                                     hints=Hints(tempo_bpm=tempo_hint_for(index, truth, hint_spread)))
            tempo_rows.append((item.pattern.style, truth, rhythm.tempo_bpm if rhythm else float("nan"), beats,
                               np.asarray(rhythm.beats if rhythm else ()), downbeats,
                               np.asarray(rhythm.downbeats if rhythm else ()), bar_beats,
                               rhythm.beats_per_bar if rhythm else 0))
        for name, counts in score(reference, result.notes).items():
            totals[name].add(counts)
            per_font[item.font][name].add(counts)
        for name, pairs in velocities.items():
            ref = [(t, v) for t, key, v in reference if drum_patterns.KEY_CLASS[key] == name]
            est = [note for note in result.notes if WRITTEN_CLASS.get(note.pitch) == name]
            for r, e in matched_pairs([t for t, _ in ref], [note.start_s for note in est]):
                pairs.append((ref[r][1], est[e].velocity))
    for name, pairs in velocities.items() if velocities_too else ():
        played, written = np.array(pairs, dtype=np.float64).T
        print(f"velocity {name}: Pearson r {np.corrcoef(played, written)[0, 1]:.2f} between the played and the "
              f"written velocity of {len(pairs)} matched hits")
    return totals, per_font, audio_s, wall_s


RING_GRID = (-np.inf, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
THRESHOLD_GRID = np.geomspace(0.002, 2.0, 61)


def sweep(items: list[Item], settings) -> dict[str, str]:
    """Each group's best threshold (and, for cymbals, minimum ring) on ``items``, and the open hi-hat ratio.

    The candidates do not depend on these settings, so each file is transcribed once and every value
    is tried on its candidates. Returns the chosen values as ``--set`` overrides.
    """
    from midiscribe.engine.drums.kit import GROUPS, KIT, OPEN_HAT
    from midiscribe.engine.drums.spectrum import FRAME_RATE
    from midiscribe.engine.drums.transcriber import drum_candidates

    rings = {group: RING_GRID if group in ("crash", "ride") else RING_GRID[:1] for group in GROUPS}
    shape = {group: (len(rings[group]), len(THRESHOLD_GRID)) for group in GROUPS}
    hits = {group: np.zeros(shape[group]) for group in GROUPS}
    estimated = {group: np.zeros(shape[group]) for group in GROUPS}
    references = dict.fromkeys(GROUPS, 0)
    collected = []
    for item in items:
        reference = json.loads(item.reference.read_text())["onsets"]
        candidates, _, _ = drum_candidates(item.wav, settings)
        collected.append((reference, candidates))
        groups = np.array([GROUPS.index(KIT[p].group) for p in candidates.pieces], dtype=np.int64)
        times = candidates.frames / FRAME_RATE + settings.onset_offset_s
        for g, group in enumerate(GROUPS):
            ref = np.array([t for t, key, _ in reference if drum_patterns.KEY_CLASS[key] == group])
            references[group] += len(ref)
            for r, ring in enumerate(rings[group]):
                mine = (groups == g) & (candidates.rings >= ring)
                for i, threshold in enumerate(THRESHOLD_GRID):
                    chosen = times[mine & (candidates.strengths >= threshold)]
                    estimated[group][r, i] += len(chosen)
                    hits[group][r, i] += matched(ref, chosen)
    chosen_settings = {}
    for group in GROUPS:
        f1 = 2 * hits[group] / np.maximum(1, estimated[group] + references[group])
        r, i = np.unravel_index(int(np.argmax(f1)), f1.shape)
        chosen_settings[f"threshold.{group}"] = f"{THRESHOLD_GRID[i]:.4f}"
        ring_text = ""
        if len(rings[group]) > 1 and np.isfinite(rings[group][r]):
            chosen_settings[f"minimum_ring.{group}"] = f"{rings[group][r]:.2f}"
            ring_text = f", minimum ring {rings[group][r]:.2f}"
        print(f"  {group:6s} threshold {THRESHOLD_GRID[i]:.4f}{ring_text}: F1 {f1[r, i]:.3f} "
              f"(P {hits[group][r, i] / max(1, estimated[group][r, i]):.3f} "
              f"R {hits[group][r, i] / max(1, references[group]):.3f})")
    # Groups with a second threshold for onsets no masking group's onset is near (see onsets.py).
    from midiscribe.engine.drums.onsets import _loudest_near

    window = int(round(settings.mask_window_s * FRAME_RATE))
    for group in settings.threshold_alone:
        maskers = settings.masked_by.get(group, ())
        grid_hits = np.zeros((len(THRESHOLD_GRID), len(THRESHOLD_GRID)))
        grid_estimated = np.zeros_like(grid_hits)
        for reference, candidates in collected:
            groups = np.array([KIT[p].group for p in candidates.pieces])
            masking = np.zeros(len(groups), dtype=bool)
            for masker in maskers:
                ring = float(chosen_settings.get(f"minimum_ring.{masker}", -np.inf))
                masking |= ((groups == masker) & (candidates.strengths >= float(chosen_settings[f"threshold.{masker}"]))
                            & (candidates.rings >= ring))
            # The group's own minimum ring (cymbals) holds whatever the thresholds.
            mine = (groups == group) & (candidates.rings >= float(chosen_settings.get(f"minimum_ring.{group}", -np.inf)))
            order = np.argsort(candidates.frames[masking])
            loudest = _loudest_near(candidates.frames[mine], candidates.frames[masking][order],
                                    candidates.strengths[masking][order], window)
            masked = loudest > 0
            strengths = candidates.strengths[mine]
            # A masked onset must also reach its share of the loudest masking onset (settings.masker_ratio).
            strengths = np.where(masked & (strengths < settings.masker_ratio.get(group, 0.0) * loudest), 0.0, strengths)
            times = candidates.frames[mine] / FRAME_RATE + settings.onset_offset_s
            ref = np.array([t for t, key, _ in reference if drum_patterns.KEY_CLASS[key] == group])
            for i, when_masked in enumerate(THRESHOLD_GRID):
                for j, alone in enumerate(THRESHOLD_GRID):
                    chosen = times[np.where(masked, strengths >= when_masked, strengths >= alone)]
                    grid_estimated[i, j] += len(chosen)
                    grid_hits[i, j] += matched(ref, chosen)
        f1 = 2 * grid_hits / np.maximum(1, grid_estimated + references[group])
        i, j = np.unravel_index(int(np.argmax(f1)), f1.shape)
        chosen_settings[f"threshold.{group}"] = f"{THRESHOLD_GRID[i]:.4f}"
        chosen_settings[f"threshold_alone.{group}"] = f"{THRESHOLD_GRID[j]:.4f}"
        print(f"  {group:6s} threshold {THRESHOLD_GRID[i]:.4f} near a {'/'.join(maskers)} onset, "
              f"{THRESHOLD_GRID[j]:.4f} alone: F1 {f1[i, j]:.3f} (P {grid_hits[i, j] / max(1, grid_estimated[i, j]):.3f} "
              f"R {grid_hits[i, j] / max(1, references[group]):.3f})")
    # Open or closed, among the hi-hats the chosen threshold keeps.
    hat_threshold = float(chosen_settings["threshold.hihat"])
    best = (-1.0, 0.0)
    for ratio in np.arange(0.1, 1.01, 0.05):
        counts = Counts()
        for reference, candidates in collected:
            hat = np.array([KIT[p].group == "hihat" for p in candidates.pieces], dtype=bool)
            chosen = hat & (candidates.strengths >= hat_threshold) & (candidates.rings >= ratio)
            ref = np.array([t for t, key, _ in reference if key == OPEN_HAT.key])
            estimate = candidates.frames[chosen] / FRAME_RATE + settings.onset_offset_s
            counts.add(Counts(len(ref), len(estimate), matched(ref, estimate)))
        best = max(best, (counts.f1, ratio))
    chosen_settings["open_hat_ratio"] = f"{best[1]:.2f}"
    print(f"  open hi-hat ratio {best[1]:.2f}: open hi-hat F1 {best[0]:.3f}")
    return chosen_settings


# Every check set, as ``--all-sets`` runs them: (label, take variant, kit, the unseen fonts instead of the dev set's).
CHECK_SETS = (("Standard (the dev set)", "standard", "standard", False),
              ("medium snares", "medium-snares", "standard", False),
              ("a ghost note a 16th after each accent", "ghosts-after", "standard", False),
              ("a closed hat with each crash", "hats-under-crashes", "standard", False),
              *((f"{kit} kit", "standard", kit, False) for kit in KITS if kit != "standard"),
              ("unseen fonts", "standard", "standard", True))


def all_sets(patterns: list[drum_patterns.Pattern], settings) -> str:
    """One table of every check set's F1 (the unseen fonts one row each), for choosing settings on all
    of them at once and for the README's tables."""
    rows = {}
    for label, variant, kit, unseen in CHECK_SETS:
        if unseen:
            ensure_fluidsynth(UNSEEN_FONTS, UNSEEN_FONT_PACKAGES)
        say(f"scoring {label}")
        items = ensure_rendered(patterns, variant, kit, UNSEEN_FONTS if unseen else SOUND_FONTS)
        totals, per_font, _, _ = evaluate(items, settings, velocities_too=False)
        rows.update({font: counts for font, counts in per_font.items()} if unseen else {label: totals})
    return table(rows)


def errors(items: list[Item], settings, name: str, examples: int = 3) -> str:
    """Where the transcription of class ``name`` goes wrong: onsets written where none of that class was
    played within TOLERANCE_S (by what was played there), and played onsets that got no note of the class
    (by what was written there, and what was played with them), counted per sound font, with the median
    velocity and the first few times, to look at with ``drum_candidates``."""
    from midiscribe.engine.drums import transcribe_drums

    groups: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for item in items:
        reference = json.loads(item.reference.read_text())["onsets"]
        notes = transcribe_drums(item.wav, settings=settings).notes
        played = [(t, key, velocity) for t, key, velocity in reference if drum_patterns.KEY_CLASS[key] == name]
        written = [note for note in notes if WRITTEN_CLASS.get(note.pitch) == name]
        pairs = matched_pairs([t for t, _, _ in played], [note.start_s for note in written])
        found, right = {r for r, _ in pairs}, {e for _, e in pairs}
        for e, note in enumerate(written):
            if e not in right:
                near = sorted((abs(t - note.start_s), drum_patterns.KEY_CLASS[key]) for t, key, _ in reference
                              if abs(t - note.start_s) <= TOLERANCE_S)
                what = f"at a played {near[0][1]}" if near else "where nothing was played"
                groups.setdefault(("false", item.font, what), []).append(
                    (note.velocity, f"{item.pattern.name}@{note.start_s:.3f}"))
        for r, (t, _, velocity) in enumerate(played):
            if r not in found:
                near = sorted((abs(note.start_s - t), WRITTEN_CLASS.get(note.pitch, str(note.pitch))) for note in notes
                              if abs(note.start_s - t) <= TOLERANCE_S)
                with_ = sorted({drum_patterns.KEY_CLASS[k] for s, k, _ in reference
                                if abs(s - t) < 0.02 and drum_patterns.KEY_CLASS[k] != name}) or ["nothing"]
                what = f"{'written as ' + near[0][1] if near else 'nothing written'}, played with {'+'.join(with_)}"
                groups.setdefault(("missed", item.font, what), []).append((velocity, f"{item.pattern.name}@{t:.3f}"))
    lines = []
    for kind in ("false", "missed"):
        mine = sorted(((key, found) for key, found in groups.items() if key[0] == kind), key=lambda kv: -len(kv[1]))
        lines.append(f"{kind} {name}: {sum(len(found) for _, found in mine)}"
                     + ("" if kind == "false" else " (velocity: the played one)"))
        for (_, font, what), found in mine:
            lines.append(f"  {len(found):4d}  {font:13s} {what}; velocity {int(np.median([v for v, _ in found]))}; "
                         + ", ".join(where for _, where in found[:examples]))
    return "\n".join(lines)


def table(rows: dict[str, dict[str, Counts]]) -> str:
    lines = ["| set | " + " | ".join(SCORED) + " |", "|---" * (len(SCORED) + 1) + "|"]
    for label, counts in rows.items():
        cells = [f"{counts[name].f1:.3f}" for name in SCORED]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail(counts: dict[str, Counts]) -> str:
    return "\n".join(f"  {name:13s} P {c.precision:.3f}  R {c.recall:.3f}  F1 {c.f1:.3f}  "
                     f"(ref {c.reference}, est {c.estimated}, hit {c.hits})" for name, c in counts.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=("held-back", "tuning", "both"), default="held-back")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a DrumSettings field (dotted for per-class values; group names comma-separated, "
                             "e.g. ride_masked_by=kick,snare), for tuning")
    parser.add_argument("--style", action="append", default=[], help="only these styles (diagnosis, not scoring)")
    parser.add_argument("--tempo", action="store_true",
                        help="also score the tempo, beats and bars tracked from the transcribed drum notes")
    parser.add_argument("--clips", type=float, nargs="+", metavar="SECONDS",
                        help="instead: the tempo of excerpts this long (from 1.5 s in), as drum loops, per style")
    parser.add_argument("--hint-spread", type=float, metavar="S",
                        help="with --tempo: a tempo_hint up to S (0.25: a quarter) off the written tempo, as bench/tempo.py")
    variants = parser.add_mutually_exclusive_group()
    variants.add_argument("--medium-snares", action="store_true",
                          help="the patterns with every second snare hit (not ghost notes) at 55 %% velocity, a separate check set")
    variants.add_argument("--ghosts-after", action="store_true",
                          help="the patterns with a ghost note a 16th after every snare accent, a separate check set")
    variants.add_argument("--hats-under-crashes", action="store_true",
                          help="the patterns with a closed hi-hat struck with every crash, a separate check set")
    parser.add_argument("--kit", choices=tuple(KITS), default="standard",
                        help="render with this GM drum kit instead of the Standard one, a separate check set")
    parser.add_argument("--degrade", choices=DEGRADATIONS,
                        help="score the renderings after an MP3 or Ogg Vorbis round trip, or at 22.05 kHz (a check set)")
    parser.add_argument("--unseen-fonts", action="store_true",
                        help="render with four other sound fonts (UNSEEN_FONTS: three never tuned on), a separate check set")
    parser.add_argument("--all-sets", action="store_true",
                        help="score every check set (the variants, the other kits, the unseen fonts) into one table")
    parser.add_argument("--errors", choices=("kick", "snare", "hihat", "tom", "crash", "ride"), metavar="CLASS",
                        help="list where this class goes wrong on the chosen set: false onsets by what was played "
                             "there, missed ones by what was written")
    parser.add_argument("--sweep", action="store_true",
                        help="print each group's best onset threshold on the chosen half (use on the tuning half)")
    args = parser.parse_args(argv)
    if args.all_sets and (args.medium_snares or args.ghosts_after or args.hats_under_crashes or args.kit != "standard"
                          or args.unseen_fonts or args.sweep or args.errors or args.degrade):
        parser.error("--all-sets scores every check set itself: leave out the set flags, --sweep and --errors")
    ensure_fluidsynth()
    tuning, held_back = drum_patterns.split(drum_patterns.all_patterns(VARIANTS))
    patterns = {"held-back": held_back, "tuning": tuning, "both": tuning + held_back}[args.half]
    if args.style:
        patterns = [p for p in patterns if p.style in args.style]
    variant = ("medium-snares" if args.medium_snares else "ghosts-after" if args.ghosts_after
               else "hats-under-crashes" if args.hats_under_crashes else "standard")
    fonts = SOUND_FONTS
    if args.unseen_fonts:
        if args.kit != "standard":
            parser.error("--unseen-fonts plays each font's Standard kit (the AVL fonts have only one): leave out --kit")
        ensure_fluidsynth(UNSEEN_FONTS, UNSEEN_FONT_PACKAGES)
        fonts = UNSEEN_FONTS
    settings = parse_settings(args.overrides)
    if args.all_sets:
        print(f"Drum onset F1 ({TOLERANCE_S * 1000:.0f} ms) on the {args.half} half of every check set:")
        print(all_sets(patterns, settings))
        if args.overrides:
            print("settings:", " ".join(args.overrides))
        return 0
    items = ensure_rendered(patterns, variant, args.kit, fonts)
    if args.degrade:
        items = degraded(items, args.degrade)
    if args.errors:
        print(errors(items, settings, args.errors))
        return 0
    if args.sweep:
        print(f"Best thresholds on the {args.half} half:")
        best = sweep(items, settings)
        print("  " + " ".join(f"--set {name}={value}" for name, value in best.items()))
        return 0
    if args.clips:
        print(f"Tempo of {', '.join(f'{seconds:g}-s' for seconds in args.clips)} excerpts (from {CLIP_START_S:g} s) "
              f"of the {args.half} half, tracked from the drum notes:")
        print(clip_tempi(items, args.clips, settings))
        return 0
    tempo_rows = [] if args.tempo else None
    totals, per_font, audio_s, wall_s = evaluate(items, settings, tempo_rows, hint_spread=args.hint_spread)
    print(f"\nDrum onset F1 ({TOLERANCE_S * 1000:.0f} ms) on the {args.half} half"
          f"{'' if variant == 'standard' else f' ({variant})'}"
          f"{'' if args.kit == 'standard' else f' on the {args.kit} kit'}"
          f"{f' ({args.degrade})' if args.degrade else ''}: {len(patterns)} patterns x "
          f"{len(fonts)} sound fonts, {audio_s / 60:.1f} min of audio, "
          f"transcribed at {audio_s / wall_s:.0f}x real time")
    print(table({**{font: counts for font, counts in per_font.items()}, "all": totals}))
    print(detail(totals))
    if tempo_rows:
        hint = f", given a tempo_hint within {args.hint_spread:.0%} of the written tempo" if args.hint_spread is not None else ""
        print(f"\nTempo, beats and bars tracked from the drum notes on the {args.half} half{hint}:")
        print(tempo_figures(tempo_rows))
    if args.overrides:
        print("settings:", " ".join(args.overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main())
