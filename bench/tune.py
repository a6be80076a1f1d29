"""Choose the note-creation profiles (engine/profiles.py) on the dev set's tuning half.

    .venv/bin/python bench/tune.py                    # auto, then every family; prints the profiles to paste
    .venv/bin/python bench/tune.py --families-only    # keep the engine's auto profiles
    .venv/bin/python bench/tune.py --low-range        # only auto's bass-line cut-off, swept
    .venv/bin/python bench/tune.py --hint-routing     # each family's hint alone or routed by attack, per font

Coordinate search: one setting at a time, each tried at a handful of values with the others held,
the best kept if it beats the current one by at least MIN_GAIN (smaller gains are noise on files
this few), two rounds. auto's probe is searched on every tuning file; its struck and sustained
profiles on the files the probe's onset level sends to each; each family on its own tuning files,
from the auto profile most of them get and with a larger minimum gain (MIN_GAIN_FAMILY); a family
whose search ends worse than auto's own per-recording choice keeps that choice. The held-back half
is never read here.

The objective is mean onset F1 plus mean onset+offset F1. To make thousands of evaluations cheap,
it is scored here with a greedy matcher (in time order, per pitch; exact for onset-only matching,
where greedy earliest-first matching is maximal, and within a few thousandths of mir_eval for
onset+offset); bench/quality.py reports mir_eval's own figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import devset  # noqa: E402
import quality  # noqa: E402
from engine import say  # noqa: E402

from midiscribe.engine.instruments import Family  # noqa: E402
from midiscribe.engine.notes import frame_times  # noqa: E402
from midiscribe.engine.profiles import (  # noqa: E402
    AUTO_PROFILE,
    AUTO_PROFILES,
    FAMILY_PROFILES,
    HARMONIC_INTERVALS,
    STRUCK_ONSET_LEVEL,
    AutoProfiles,
    NoteProfile,
    heard_attacks,
)
from midiscribe.engine.tracking import TrackingStore, _walk_from_onsets, chosen_profile, track_notes  # noqa: E402

ONSET_TOLERANCE_S = 0.05
OFFSET_RATIO, OFFSET_MIN_S = 0.2, 0.05
MIN_GAIN = 0.004
MIN_GAIN_FAMILY = 0.01  # a family has a tenth of the files: its noise is about three times larger
ROUNDS = 2

# The values each setting may take.
SEARCH: dict[str, tuple] = {
    "onset_threshold": (0.3, 0.4, 0.5, 0.6, 0.7),
    "frame_threshold": (0.2, 0.25, 0.3, 0.35, 0.4),
    "energy_tolerance_frames": (3, 6, 11, 16),
    "min_note_frames": (4, 7, 11, 15),
    "rise_onsets": (True, False),
    "melodia_threshold": (None, 0.4, 0.5, 0.6, 0.7),
    "trace_back_frames": (0, 5, 10, 15, 20, 25, 30),
    "trace_fraction": (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7),
    "merge_gap_frames": (0, 2, 4, 8),
    "merge_onset_below": (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01),
    "merge_level_above": (0.0, 0.7, 0.8, 0.85, 0.9, 0.95),
    "offset_fraction": (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98),
    "ghost_ratio": (0.0, 0.5, 0.8, 1.0, 1.3, 2.0, 4.0),
    "ghost_onset_frames": (1, 3, 6, 12),
    # Organ stops an octave or two below the written pitch (16', 32') make sub-octave "ghosts" too; the last
    # choice resolves octave pairs upwards (the lower note goes) and keeps the other harmonic rules.
    "ghost_intervals": (HARMONIC_INTERVALS, (-12, *HARMONIC_INTERVALS), (-24, -12, *HARMONIC_INTERVALS),
                        (-24, -12, 19, 28, 31)),
}


def f1_pair(truth: np.ndarray, notes: np.ndarray) -> tuple[float, float]:
    """(onset F1, onset+offset F1) by greedy per-pitch matching in time order."""
    if len(truth) == 0 or len(notes) == 0:
        return 0.0, 0.0
    matched = [0, 0]
    by_pitch: dict[int, list] = {}
    for onset, offset, pitch in notes.tolist():
        by_pitch.setdefault(int(pitch), []).append((onset, offset))
    references: dict[int, list] = {}
    for onset, offset, pitch in truth.tolist():
        references.setdefault(int(pitch), []).append((onset, offset))
    for pitch, ref in references.items():
        est = sorted(by_pitch.get(pitch, ()))
        if not est:
            continue
        ref.sort()
        for criterion in (0, 1):
            used = [False] * len(est)
            first = 0
            for onset, offset in ref:
                while first < len(est) and est[first][0] < onset - ONSET_TOLERANCE_S:
                    first += 1  # too early for this and every later reference note
                tolerance = max(OFFSET_MIN_S, OFFSET_RATIO * (offset - onset))
                candidate = first
                while candidate < len(est) and est[candidate][0] <= onset + ONSET_TOLERANCE_S:
                    if not used[candidate] and (not criterion or abs(est[candidate][1] - offset) <= tolerance):
                        used[candidate] = True
                        matched[criterion] += 1
                        break
                    candidate += 1
    return tuple(2 * m / (len(truth) + len(notes)) for m in matched)


@dataclasses.dataclass
class Example:
    file: devset.DevFile
    truth: np.ndarray
    posteriors: object  # TrackedPosteriors with bends for every cell


def load_examples(files: list[devset.DevFile]) -> list[Example]:
    examples = []
    for file in files:
        note, onset, contour = quality.load_posteriors(file)
        # Bends for every cell (a profile with no frame threshold reaches all), shared by every profile tried.
        everywhere = dataclasses.replace(AUTO_PROFILE, frame_threshold=0.0)
        tracked = TrackingStore.from_arrays(note, onset, contour, everywhere)
        examples.append(Example(file, quality.true_notes(file), tracked))
    return examples


def objective(examples: list[Example], profile: NoteProfile | AutoProfiles) -> float:
    onset, onset_offset = np.mean([f1_of(example, profile) for example in examples], axis=0)
    return float(onset + onset_offset)


def search(examples: list[Example], start: NoteProfile, label: str, min_gain: float = MIN_GAIN) -> NoteProfile:
    best, best_score = start, objective(examples, start)
    say(f"{label}: start {best_score:.4f}")
    for round_number in range(ROUNDS):
        changed = False
        for name, values in SEARCH.items():
            current = getattr(best, name)
            trials = {value: objective(examples, dataclasses.replace(best, **{name: value}))
                      for value in values if value != current}
            if not trials:
                continue
            value, value_score = max(trials.items(), key=lambda item: item[1])
            if value_score >= best_score + min_gain:
                say(f"{label}: round {round_number + 1} {name} {current} -> {value}: {best_score:.4f} -> {value_score:.4f}")
                best, best_score, changed = dataclasses.replace(best, **{name: value}), value_score, True
        if not changed:
            break
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families-only", action="store_true",
                        help="keep the engine's auto profiles and search only the families")
    parser.add_argument("--low-range", action="store_true",
                        help="only sweep auto's bass-line cut-off (profiles.LOW_RANGE_HIGHEST_MIDI)")
    parser.add_argument("--hint-routing", action="store_true",
                        help="each family's hint alone, and routed by how the recording starts (profiles.heard_attacks), "
                             "per sound font, the tuning half also played with the other GM fonts")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.hint_routing:
        print(hint_routing_table())
        say(f"scored in {time.perf_counter() - began:.0f} s")
        return 0
    quality.prepare(devset.dev_files("tune"), with_basic_pitch=False)
    examples = load_examples(devset.dev_files("tune"))
    if args.low_range:
        print(low_range_sweep(examples))
        return 0
    if args.families_only:
        probe, struck, sustained = AUTO_PROFILES.probe, AUTO_PROFILES.struck, AUTO_PROFILES.sustained
    else:
        probe = search(examples, AUTO_PROFILE, "auto probe")
        # auto's two profiles, each searched on the files the probe sends to it.
        level = {id(example): onset_level(example, probe) for example in examples}
        struck = search([e for e in examples if level[id(e)] >= STRUCK_ONSET_LEVEL], probe, "auto struck")
        sustained = search([e for e in examples if level[id(e)] < STRUCK_ONSET_LEVEL], probe, "auto sustained")
    print("AUTO_PROFILE =", probe)
    for label, profile in (("STRUCK_PROFILE", struck), ("SUSTAINED_PROFILE", sustained)):
        print(f"{label}: {differences(profile, probe)}")
    for family in devset.FAMILIES:
        members = [example for example in examples if example.file.family == family]
        # A family starts from the auto profile most of its files get, so its hint begins where auto is.
        struck_votes = sum(onset_level(example, probe) >= STRUCK_ONSET_LEVEL for example in members)
        start = struck if 2 * struck_votes >= len(members) else sustained
        chosen = search(members, start, family, min_gain=MIN_GAIN_FAMILY)
        # A hint that does worse than auto's own choice per recording is no hint: the family then routes too.
        routed = AutoProfiles(probe, struck, sustained, low=AUTO_PROFILES.low)
        if objective(members, routed) > objective(members, chosen):
            print(f"{Family(family).name}: AUTO_PROFILES (auto's choice per recording did better)")
            continue
        print(f"{Family(family).name}: from {'STRUCK' if start is struck else 'SUSTAINED'}_PROFILE "
              f"{differences(chosen, start)}")
    say(f"searched in {time.perf_counter() - began:.0f} s")
    return 0


def hint_routing_table() -> str:
    """Per family and font group (the dev set's three fonts together, then each of OTHER_GM_FONTS), on the tuning
    half: the objective of auto, of the family's own settings alone, and of those settings where auto's probe
    hears soft onsets with auto's struck settings where it hears sharp ones (what profiles.heard_attacks ships
    for the sustained families). The other fonts' tuning-half renders are read here; their held-back half never."""
    from engine import OTHER_GM_FONT_PACKAGES, OTHER_GM_FONTS, ensure_fluidsynth

    ensure_fluidsynth(OTHER_GM_FONTS, OTHER_GM_FONT_PACKAGES)
    files = devset.dev_files("tune") + devset.other_font_files("tune")
    quality.prepare(files, with_basic_pitch=False)
    groups = ("dev fonts", *OTHER_GM_FONTS)

    def group_of(file: devset.DevFile) -> str:
        return file.font if file.font in OTHER_GM_FONTS else "dev fonts"

    lines = ["| family | settings | " + " | ".join(groups) + " | all |", "|---" * (len(groups) + 3) + "|"]
    for family in devset.FAMILIES:
        examples = load_examples([file for file in files if file.family == family])
        shipped = FAMILY_PROFILES[Family(family)]
        if shipped == AUTO_PROFILES:
            continue  # synth: auto's own choice per recording
        alone = shipped.sustained if isinstance(shipped, AutoProfiles) else shipped
        variants = {"auto": AUTO_PROFILES, "hint alone": alone, "routed by attack": heard_attacks(alone)}
        for label, profile in variants.items():
            per_group = [objective([e for e in examples if group_of(e.file) == group], profile) for group in groups]
            shipped_mark = " (shipped)" if profile == shipped else ""
            lines.append(f"| {family} | {label}{shipped_mark} | " + " | ".join(f"{v:.3f}" for v in per_group)
                         + f" | {objective(examples, profile):.3f} |")
    return "\n".join(lines)


def low_range_sweep(examples: list[Example], cut_offs=(None, 45, 48, 50, 52, 55, 57, 60)) -> str:
    """auto's onset F1 per family, and the objective, with the bass-line choice off (None) and at each cut-off
    (the MIDI pitch nine in ten of the probe's notes must be at or below)."""
    families = sorted({example.file.family for example in examples})
    lines = ["| cut-off | objective | " + " | ".join(families) + " |", "|---" * (len(families) + 2) + "|"]
    for cut_off in cut_offs:
        auto = (dataclasses.replace(AUTO_PROFILES, low=None) if cut_off is None
                else dataclasses.replace(AUTO_PROFILES, low_highest_midi=cut_off))
        by_family = {family: [] for family in families}
        for example in examples:
            by_family[example.file.family].append(example)
        onsets = [np.mean([f1_of(example, auto)[0] for example in members]) for members in by_family.values()]
        lines.append(f"| {cut_off or 'off'} | {objective(examples, auto):.4f} | "
                     + " | ".join(f"{value:.3f}" for value in onsets) + " |")
    return "\n".join(lines)


def f1_of(example: Example, profile: NoteProfile | AutoProfiles) -> tuple[float, float]:
    chosen = chosen_profile(example.posteriors, profile) if isinstance(profile, AutoProfiles) else profile
    made = track_notes(example.posteriors, chosen, with_bends=False)
    starts = frame_times(np.array([n.start for n in made], dtype=np.int64))
    ends = frame_times(np.array([n.end for n in made], dtype=np.int64))
    return f1_pair(example.truth, np.column_stack([starts, ends, [n.pitch for n in made]]).reshape(-1, 3))


def onset_level(example: Example, probe: NoteProfile) -> float:
    """The median onset strength of the probe's notes: what auto chooses by (tracking.chosen_profile)."""
    _, _, _, strengths = _walk_from_onsets(example.posteriors, probe)
    onsets = strengths[strengths > 0]
    return float(np.median(onsets)) if onsets.size else 0.0


def differences(profile: NoteProfile, base: NoteProfile) -> dict:
    return {field.name: getattr(profile, field.name) for field in dataclasses.fields(profile)
            if getattr(profile, field.name) != getattr(base, field.name)}


if __name__ == "__main__":
    sys.exit(main())
