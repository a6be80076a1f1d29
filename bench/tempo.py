"""Tempo, beat, downbeat and quantisation figures on generated dev sets. Prints figures; asserts nothing.

    .venv/bin/python bench/tempo.py --half held-back      # the figures to report (second set)
    .venv/bin/python bench/tempo.py --half tuning         # the half settings are chosen on
    .venv/bin/python bench/tempo.py --set first --half all --librosa-dp   # the first 40, librosa's DP beside ours
    .venv/bin/python bench/tempo.py --set third --half all      # 80 more pieces in the second set's styles (tuning)
    .venv/bin/python bench/tempo.py --set fifth --half held-back --notes   # tempos spread evenly over 60-180 BPM
    .venv/bin/python bench/tempo.py --half held-back --notes     # also the rhythm tracked from the note onsets
    .venv/bin/python bench/tempo.py --half held-back --piano     # solo piano only, also through the piano model
    .venv/bin/python bench/tempo.py --half held-back --hint-spread 0.25   # with a user's tempo_hint (below)
    .venv/bin/python bench/tempo.py --half held-back --metre-given        # with a user's time_signature
    .venv/bin/python bench/tempo.py --half held-back --clips 4 6 8 --notes   # short excerpts, as loops
    .venv/bin/python bench/tempo.py --half held-back --unseen-fonts   # the same pieces in two other GM fonts
    .venv/bin/python bench/tempo.py --half tuning --constant beats.FOLD_OCTAVES=inf   # an engine constant set first

``--notes`` and ``--piano`` score the path the transcribers without an onset posteriorgram take (the piano
model, drums, stems): the beat tracker on the note onsets (``engine.rhythm.rhythm_of_notes``), on the
general model's notes (``--notes``) or the piano model's (``--piano``, transcriptions cached beside the
general model's).

``--hint-spread S`` gives every tracker of ours a ``tempo_hint`` as a user would: the notated beat's median
tempo times a factor drawn at random (log-uniform, seeded by the file's index) between 1/(1 + S) and
1 + S, so 0.25 is a guess up to a quarter off either way. ``--metre-given`` gives them each piece's time
signature (the ``time_signature`` option).

Timing figures are bench/tempo_speed.py's; the settings search is bench/tempo_tune.py.

The first set (bench/tempo_pieces.py): 40 pieces of about 40 s in 2/4, 3/4, 4/4 and 6/8 at 60-180 BPM,
steady or with a step or gradual tempo change, five ensembles; all of it is tuning material now. The
second set (bench/tempo_styles.py): 80 pieces in waltz, minuet, march, ballad, 12/8 ballad, jig, pop,
Alberti and chorale textures besides the first set's, nine ensembles, split by piece into a tuning and
a held-back half. The third set: 80 more drawn the same way with other seeds, all tuning material.
The fourth set: 80 more with seeds from 7000, every notated beat within the issue's 60-180 BPM from start to
end (in the others, tempo changes and two styles' ranges take 14 of 200 pieces' median beat outside it); all of
it held back. The fifth set: 80 more (seeds from 9000) whose notated beat is drawn evenly over 60-180 BPM
whatever the style (compound metres' dotted quarter over 60-120), half of them in the first set's habits; the
other sets hold few pieces above 135 BPM. Halves as the second set's. The sixth set: 80 more drawn as the
fifth's (seeds from 11000), all held back. The seventh (160) and fourteenth (320) sets, all tuning, and the eighth
to thirteenth and the fifteenth to twentieth (160 each, all held back, each drawn to check a change fresh) are
described in bench/README.md.
Every piece is rendered by FluidSynth with three sound fonts in turn; audio and transcriptions are
cached under bench/.cache/tempo/. ``--unseen-fonts`` plays the half's pieces again with each of two
General MIDI fonts no setting was chosen on (bench/engine.py's OTHER_GM_FONTS: csound's small sampled
bank, and the OPL3 font's FM synthesis, whose snare is pure noise), a check on what the held-out
recordings' fonts may do.

Per file: tempo Acc1 (within 4 % of the median true tempo of the notated beat: the dotted quarter in
6/8) and Acc2 (also at 2, 3, 1/2 or 1/3 of it), mir_eval's beat F-measure (70 ms window, first 5 s
skipped) and downbeat F-measure, the time signature, next to librosa's default beat tracker
(``librosa.beat.beat_track`` on the audio at 22050 Hz, its own onset strength and tempo estimate).
Quantisation: transcribed notes matched to the written ones (same pitch, onset within 50 ms,
mir_eval), then snapped to the 1/16 grid of our tempo map; a note lands when the written grid point
nearest to its quantised time is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import engine  # noqa: E402
import tempo_pieces  # noqa: E402
import tempo_styles  # noqa: E402
from engine import OTHER_GM_FONT_PACKAGES, OTHER_GM_FONTS, ensure_fluidsynth, excerpt, render_midi, say  # noqa: E402

CACHE = BENCH / ".cache" / "tempo"
SOUND_FONTS = tuple(engine.SOUND_FONTS.values())  # in this order: a piece's index picks its font
TEMPO_TOLERANCE = 0.04
BEAT_WINDOW_S = 0.07
MATCH_ONSET_S = 0.05
# Bench-only packages, installed with --no-deps into a folder of the bench's own rather than into the
# product's venv: mir_eval scores the beats; librosa runs the reference trackers (its default tracker on
# the audio, and its dynamic program, which midiscribe used before engine/beats.py had its own), with
# what it needs that the product no longer carries. Pinned: the versions the earlier figures came from.
BENCH_SITE = BENCH / ".cache" / "site"
BENCH_PACKAGES = (
    "mir_eval==0.8.2", "librosa==1.0.0", "numba==0.68.1", "llvmlite==0.50.0", "scipy==1.18.1",
    "scikit-learn==1.9.1", "threadpoolctl==3.8.0", "joblib==1.6.0", "decorator==5.3.1", "lazy-loader==0.6",
    "msgpack==1.2.4", "pooch==1.9.0", "platformdirs==4.14.8", "narwhals==2.29.0",
)


def ensure_bench_packages() -> None:
    """The bench-only packages on sys.path, installed first if a fresh interpreter cannot import them (probed
    in a subprocess: a failed import in this one would leave librosa's lazy submodules half set up)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(BENCH_SITE / ".numba-cache"))
    probe = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(BENCH_SITE)!r}); "
                            "import librosa.beat, mir_eval.beat"], capture_output=True)
    if probe.returncode != 0:
        say(f"installing {' '.join(BENCH_PACKAGES)} into {BENCH_SITE}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--upgrade", "--target", str(BENCH_SITE), *BENCH_PACKAGES], check=True)
    sys.path.insert(0, str(BENCH_SITE))


# The metre settings before bench/tempo_tune.py chose them on the tuning pieces (commit de140c6b): no
# bonus for the tracked pulse, salience and a 110-BPM prior only, no minimum for compound metre. With
# them this engine chooses exactly as that commit did (its DP and tempo curve were librosa's).
PREVIOUS_SETTINGS = {
    "beats": {"PRIOR_WIDTH_OCTAVES": 1.0},
    "metre": {"PULSE_WEIGHT": 0.0, "SALIENCE_WEIGHT": 2.0, "PRIOR_WEIGHT": 0.5, "BEAT_PRIOR_CENTRE_BPM": 110.0,
              "BEAT_PRIOR_WIDTH_OCTAVES": 0.7, "LONGER_BAR_MARGIN": 0.15, "MIN_THIRDS_SHARE": 0.0},
}


def use_previous_settings() -> None:
    from midiscribe.engine import beats, metre

    for module, settings in ((beats, PREVIOUS_SETTINGS["beats"]), (metre, PREVIOUS_SETTINGS["metre"])):
        for name, value in settings.items():
            assert hasattr(module, name), name
            setattr(module, name, value)


def use_constants(assignments: list[str]) -> list[str]:
    """Set engine constants from ``MODULE.NAME=VALUE`` (``--constant``; e.g. ``beats.FOLD_OCTAVES=inf``): a
    change's "before" run. The value takes the constant's type; the assignments as applied are returned. Only
    what the module reads from its own globals when it runs changes: a name another module imported by value
    keeps its old value there."""
    import importlib

    applied = []
    for assignment in assignments:
        target, _, value = assignment.partition("=")
        module_name, _, name = target.partition(".")
        try:
            module = importlib.import_module(f"midiscribe.engine.{module_name}")
            setattr(module, name, type(getattr(module, name))(float(value)))
        except (ImportError, AttributeError, TypeError, ValueError, OverflowError) as error:
            raise SystemExit(f"--constant {assignment}: expected MODULE.NAME=VALUE, a number for a numeric constant "
                             f"of midiscribe.engine.MODULE, e.g. beats.FOLD_OCTAVES=inf ({error})") from None
        applied.append(f"{module_name}.{name}={getattr(module, name)}")
    return applied


def render(piece: tempo_pieces.Piece, index: int, font: str | None = None) -> Path:
    """The piece as 44.1 kHz WAV (cached); the sound font rotates with the piece's index, unless ``font`` names
    one of OTHER_GM_FONTS (--unseen-fonts) to play the same notes with."""
    audio = CACHE / f"{piece.name}.wav" if font is None else CACHE / "unseen-fonts" / f"{piece.name}.{font}.wav"
    if audio.exists():
        return audio
    audio.parent.mkdir(parents=True, exist_ok=True)
    midi = audio.with_suffix(".mid")
    piece.to_midi(np.random.default_rng(index)).save(midi)
    render_midi(midi, audio, OTHER_GM_FONTS[font] if font else SOUND_FONTS[index % len(SOUND_FONTS)], gain=0.6)
    return audio


def engine_fingerprint() -> str:
    """A short hash of the engine's sources: a cached transcription is reused only by the engine that made it."""
    import hashlib

    engine = Path(__file__).resolve().parent.parent / "layers" / "midiscribe" / "engine"
    digest = hashlib.sha256()
    for source in sorted(engine.rglob("*.py")):
        if source.name not in ("beats.py", "metre.py", "rhythm.py", "key.py", "tempo_map.py", "quantize.py", "score.py"):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def transcribed(audio: Path) -> tuple[np.ndarray, list, float]:
    """(onset strength, notes, duration) of our transcription, cached, so tracking can be rerun alone."""
    from midiscribe.engine import pipeline
    from midiscribe.engine.transcription import NoteEvent

    cached = audio.with_suffix(f".ours-{engine_fingerprint()}.npz")
    if not cached.exists():
        kept: dict = {}
        original = pipeline.track_rhythm

        def keep(onset_strength, notes, duration_s, hints=None):
            kept["onset"] = onset_strength
            return None

        pipeline.track_rhythm = keep
        try:
            result = pipeline.transcribe(audio)
        finally:
            pipeline.track_rhythm = original
        notes = np.array([(n.start_s, n.end_s, n.pitch, n.amplitude) for n in result.notes]).reshape(-1, 4)
        np.savez(cached, onset=kept["onset"], notes=notes, duration=result.duration_s)
    data = np.load(cached)
    notes = [NoteEvent(float(s), float(e), int(p), float(a)) for s, e, p, a in data["notes"]]
    return data["onset"], notes, float(data["duration"])


def transcribed_piano(audio: Path) -> tuple[list, float]:
    """(notes, duration) of the piano model's transcription, cached like ``transcribed``'s."""
    from midiscribe.engine.options import TranscriptionOptions
    from midiscribe.engine.piano.pipeline import transcribe_piano
    from midiscribe.engine.transcription import NoteEvent

    cached = audio.with_suffix(f".piano-{engine_fingerprint()}.npz")
    if not cached.exists():
        say(f"transcribing {audio.name} with the piano model")
        result = transcribe_piano(audio, TranscriptionOptions(model="piano"))
        notes = np.array([(n.start_s, n.end_s, n.pitch, n.amplitude, n.velocity) for n in result.notes]).reshape(-1, 5)
        np.savez(cached, notes=notes, duration=result.duration_s)
    data = np.load(cached)
    notes = [NoteEvent(float(s), float(e), int(p), float(a), model_velocity=int(v)) for s, e, p, a, v in data["notes"]]
    return notes, float(data["duration"])


def is_solo_piano(piece: tempo_pieces.Piece) -> bool:
    return piece.ensemble == "piano" and not piece.name.endswith("-drums")


def librosa_default(audio: Path) -> np.ndarray:
    import librosa

    cached = audio.with_suffix(".librosa.npy")
    if not cached.exists():
        samples, rate = librosa.load(audio, sr=22050, mono=True)
        _, beats = librosa.beat.beat_track(y=samples, sr=rate, units="time")
        np.save(cached, beats)
    return np.load(cached)


def librosa_dp_pulse(onset_strength: np.ndarray) -> np.ndarray:
    """The pulse as midiscribe found it before engine/beats.py had its own dynamic program: the same
    envelope and tempo curve, and librosa's ``beat_track`` (numba) placing the beats along the curve."""
    import librosa

    from midiscribe.engine import beats
    from midiscribe.engine.constants import FFT_HOP, MODEL_SAMPLE_RATE
    from midiscribe.engine.notes import FRAMES_PER_SECOND, frame_times

    if len(onset_strength) < beats.MIN_SECONDS * FRAMES_PER_SECOND:
        return np.zeros(0)
    envelope = beats.onset_envelope(onset_strength)
    if not np.any(envelope > 0):
        return np.zeros(0)
    _, frames = librosa.beat.beat_track(
        onset_envelope=envelope.astype(np.float32), sr=MODEL_SAMPLE_RATE, hop_length=FFT_HOP,
        bpm=beats.tempo_curve(envelope).astype(np.float32), tightness=beats.TIGHTNESS, units="frames",
    )
    return frame_times(np.asarray(frames, dtype=np.int64))


# Where --clips cuts its excerpts: past each piece's first bars.
CLIP_START_S = 6.0


def clip(piece: tempo_pieces.Piece, index: int, seconds: float, font: str | None = None) -> tuple[Path, float] | None:
    """An excerpt of ``seconds`` from CLIP_START_S of the piece's rendering (cached), as a short loop a user
    sends, and the notated beat's tempo there (its median beat period); None if it holds under three beats."""
    beats = piece.beat_times[(piece.beat_times >= CLIP_START_S) & (piece.beat_times <= CLIP_START_S + seconds)]
    if len(beats) < 3:
        return None
    name = f"{piece.name}-{seconds:g}s.wav" if font is None else f"{piece.name}.{font}-{seconds:g}s.wav"
    audio = excerpt(render(piece, index, font), CACHE / "clips" / name, CLIP_START_S, seconds)
    return audio, float(60.0 / np.median(np.diff(beats)))


def report_clips(chosen: list[tuple[int, tempo_pieces.Piece, str | None]], lengths: list[float],
                 notes_path: bool) -> None:
    """--clips: per excerpt length, how often each tracker finds a tempo at all, and Acc1 / Acc2 over the
    excerpts (no tempo counts as wrong). No beat F: mir_eval skips a recording's first 5 s."""
    from midiscribe.engine.beats import track_pulse
    from midiscribe.engine.rhythm import rhythm_from_pulse, rhythm_of_notes

    print(f"{'excerpt':>8s} {'tracker':24s} {'files':>5s} {'a tempo':>8s} {'Acc1':>6s} {'Acc2':>6s}")
    for seconds in lengths:
        excerpts = [found for index, piece, font in chosen if (found := clip(piece, index, seconds, font))]
        trackers = {"midiscribe": lambda onset, notes, duration: rhythm_from_pulse(track_pulse(onset), notes, duration)}
        if notes_path:
            trackers["note onsets (general)"] = lambda onset, notes, duration: rhythm_of_notes(notes, duration)
        for name, track in trackers.items():
            bpms = []
            for audio, _ in excerpts:
                rhythm = track(*transcribed(audio))
                bpms.append(rhythm.tempo_bpm if rhythm is not None and rhythm.tempo_bpm else None)
            truths = [truth for _, truth in excerpts]
            acc = [[bpm is not None and tempo_right(bpm, truth, levels)
                    for bpm, truth in zip(bpms, truths, strict=True)] for levels in ((1.0,), ACC2_LEVELS)]
            print(f"{seconds:7g}s {name:24s} {len(excerpts):5d} {np.mean([b is not None for b in bpms]):8.1%} "
                  f"{np.mean(acc[0]):6.1%} {np.mean(acc[1]):6.1%}")


def tempo_of(beats: np.ndarray) -> float:
    return float(60.0 / np.median(np.diff(beats))) if len(beats) > 1 else float("nan")


def tempo_right(bpm: float, truth: float, levels=(1.0,)) -> bool:
    """Acc1 with ``levels`` (1,); Acc2 with (1, 2, 3, 1/2, 1/3): the tempo at some metrical level."""
    return any(abs(bpm / (truth * level) - 1) <= TEMPO_TOLERANCE for level in levels)


ACC2_LEVELS = (1.0, 2.0, 3.0, 1 / 2, 1 / 3)


def beat_f(reference: np.ndarray, estimate: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference),
                                         mir_eval.beat.trim_beats(np.asarray(estimate, dtype=float)), BEAT_WINDOW_S))


def downbeat_f(reference: np.ndarray, estimate: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(reference, np.asarray(estimate, dtype=float), BEAT_WINDOW_S))


SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def key_score(truth: tuple[int, str] | None, estimate) -> float:
    """MIREX's weighted key score (mir_eval.key): 1 the same key, 0.5 a fifth away in the same mode, 0.3 the
    relative, 0.2 the parallel key, else 0; NaN where the piece has no written key (a drum pattern)."""
    import mir_eval

    if truth is None:
        return float("nan")
    if estimate is None:
        return 0.0
    return float(mir_eval.key.weighted_score(f"{SHARP_NAMES[truth[0]]} {truth[1]}",
                                             f"{SHARP_NAMES[estimate.tonic]} {estimate.mode}"))


def quantisation(piece: tempo_pieces.Piece, notes: list, tempo_map) -> tuple[int, int]:
    """(landed, matched): matched transcribed notes whose 1/16-quantised time is their written grid point."""
    import mir_eval

    from midiscribe.engine.options import QUANTIZE_GRIDS
    from midiscribe.engine.quantize import snap_quarters

    written = [(start, length, pitch) for start, length, channel, pitch, _ in piece.notes if channel != tempo_pieces.DRUM_CHANNEL]
    written_beats = np.array([start for start, _, _ in written])
    reference = np.column_stack((piece.seconds(written_beats), piece.seconds(written_beats + [w[1] for w in written])))
    reference_hz = 440.0 * 2 ** ((np.array([w[2] for w in written]) - 69) / 12)
    ours = np.array([(n.start_s, n.end_s) for n in notes]).reshape(-1, 2)
    ours_hz = 440.0 * 2 ** ((np.array([n.pitch for n in notes]) - 69) / 12)
    pairs = mir_eval.transcription.match_notes(reference, reference_hz, ours, ours_hz,
                                               onset_tolerance=MATCH_ONSET_S, offset_ratio=None)
    if not pairs:
        return 0, 0
    ref_index, our_index = (np.array(side) for side in zip(*pairs, strict=True))
    snapped = snap_quarters(tempo_map.quarters_at(ours[our_index, 0]), tempo_map, QUANTIZE_GRIDS["1/16"])
    snapped_s = tempo_map.seconds_at(snapped)
    # The written grid point nearest to the quantised time, in the piece's own beats.
    grid = piece.grid
    beat_axis = np.arange(len(piece.beat_times))
    nearest = np.round(np.interp(snapped_s, piece.beat_times, beat_axis) / grid) * grid
    landed = np.abs(nearest - written_beats[ref_index]) < grid / 2
    return int(landed.sum()), len(pairs)


def rhythm_scores(piece: tempo_pieces.Piece, rhythm, notes: list, duration: float) -> dict:
    """Tempo, beat, downbeat, metre and quantisation figures of one tracked rhythm against the piece."""
    from midiscribe.engine.options import TranscriptionOptions
    from midiscribe.engine.tempo_map import tempo_map_for
    from midiscribe.engine.transcription import Transcription

    truth_tempo = piece.median_tempo_bpm
    if rhythm is None:
        return dict(bpm=float("nan"), acc1=False, acc2=False, beat_f=0.0, downbeat_f=0.0, signature="-",
                    landed=0, matched=0, key=key_score(piece.key, None))
    numerator, denominator = rhythm.time_signature
    tempo_map = tempo_map_for(Transcription(notes, duration, TranscriptionOptions(), rhythm=rhythm))
    landed, matched = quantisation(piece, notes, tempo_map)
    return dict(
        bpm=rhythm.tempo_bpm, acc1=tempo_right(rhythm.tempo_bpm, truth_tempo),
        acc2=tempo_right(rhythm.tempo_bpm, truth_tempo, ACC2_LEVELS),
        beat_f=beat_f(piece.beat_times[:-1], rhythm.beats),
        downbeat_f=downbeat_f(piece.downbeat_times[:-1], rhythm.downbeats),
        signature=f"{numerator}/{denominator}", landed=landed, matched=matched, key=key_score(piece.key, rhythm.key),
    )


def tempo_hint_for(index: int, true_bpm: float, spread: float | None) -> float | None:
    """The tempo_hint a user might give for file ``index`` of notated tempo ``true_bpm`` (see --hint-spread),
    or None without a spread. bench/drums.py --hint-spread draws its hints here too."""
    if spread is None:
        return None
    factor = np.exp(np.random.default_rng(index).uniform(-np.log1p(spread), np.log1p(spread)))
    return float(true_bpm * factor)


def evaluate(index: int, piece: tempo_pieces.Piece, with_librosa_dp: bool, paths: tuple[str, ...] = (),
             hint_spread: float | None = None, metre_given: bool = False, font: str | None = None) -> dict:
    """One file's figures: the general model's onset posterior (``ours``), and with ``paths`` the note-onset
    path too: ``notes`` on the general model's notes, ``piano`` on the piano model's; with ``hint_spread``
    each given a tempo_hint (``tempo_hint_for``), with ``metre_given`` the piece's time signature; ``font``
    plays it with one of OTHER_GM_FONTS."""
    from midiscribe.engine.beats import track_pulse
    from midiscribe.engine.options import METRES, Hints
    from midiscribe.engine.rhythm import rhythm_from_pulse, rhythm_of_notes

    audio = render(piece, index, font)
    onset, notes, duration = transcribed(audio)
    hints = Hints(tempo_bpm=tempo_hint_for(index, piece.median_tempo_bpm, hint_spread),
                  metre=METRES[piece.metre] if metre_given else None)
    row = {"piece": piece.name if font is None else f"{piece.name}.{font}", "font": font, "style": piece.style,
           "metre": piece.metre, "true_bpm": piece.median_tempo_bpm,
           "ours": rhythm_scores(piece, rhythm_from_pulse(track_pulse(onset), notes, duration, hints=hints),
                                 notes, duration)}
    if "notes" in paths:
        row["notes"] = rhythm_scores(piece, rhythm_of_notes(notes, duration, hints=hints), notes, duration)
    if "piano" in paths:
        piano_notes, piano_duration = transcribed_piano(audio)
        row["piano"] = rhythm_scores(piece, rhythm_of_notes(piano_notes, piano_duration, hints=hints),
                                     piano_notes, piano_duration)
    if with_librosa_dp:
        row["librosa_dp"] = rhythm_scores(piece, rhythm_from_pulse(librosa_dp_pulse(onset), notes, duration),
                                          notes, duration)
    theirs = librosa_default(audio)
    their_bpm = tempo_of(theirs)
    row["librosa"] = dict(bpm=their_bpm, acc1=tempo_right(their_bpm, piece.median_tempo_bpm),
                          acc2=tempo_right(their_bpm, piece.median_tempo_bpm, ACC2_LEVELS),
                          beat_f=beat_f(piece.beat_times[:-1], theirs))
    return row


def report(rows: list[dict]) -> None:
    trackers = [name for name in ("ours", "notes", "piano", "librosa_dp") if name in rows[0]]
    head = f"{'piece':44s} {'true':>6s}"
    for name in trackers:
        head += f" | {name:>10s} {'A1':>2s} {'A2':>2s} {'beatF':>5s} {'dbF':>5s} {'sig':>5s}"
    print(head + f" | {'librosa':>7s} {'A1':>2s} {'A2':>2s} {'beatF':>5s}")
    for r in rows:
        line = f"{r['piece']:44s} {r['true_bpm']:6.1f}"
        for name in trackers:
            t = r[name]
            line += (f" | {t['bpm']:10.1f} {int(t['acc1']):2d} {int(t['acc2']):2d} {t['beat_f']:5.2f} "
                     f"{t['downbeat_f']:5.2f} {t['signature']:>5s}")
        t = r["librosa"]
        print(line + f" | {t['bpm']:7.1f} {int(t['acc1']):2d} {int(t['acc2']):2d} {t['beat_f']:5.2f}")
    count = len(rows)
    labels = {"ours": "midiscribe", "notes": "note onsets (general)", "piano": "note onsets (piano model)",
              "librosa_dp": "with librosa's DP (before)", "librosa": "librosa default"}

    def mean(name: str, figure: str, among: list[dict] = rows) -> float:
        return float(np.mean([r[name][figure] for r in among]))

    print()
    print(f"files: {count}")
    print(f"{'':28s} {'Acc1':>6s} {'Acc2':>6s} {'beat F':>7s} {'dbeat F':>7s} {'metre':>7s} {'on grid':>8s} "
          f"{'key':>5s} {'right':>7s}")
    for name in [*trackers, "librosa"]:
        line = f"{labels[name]:28s} {mean(name, 'acc1'):6.1%} {mean(name, 'acc2'):6.1%} {mean(name, 'beat_f'):7.3f}"
        if name != "librosa":
            landed, matched = sum(r[name]["landed"] for r in rows), sum(r[name]["matched"] for r in rows)
            right = sum(r[name]["signature"] == r["metre"] for r in rows)
            line += f" {mean(name, 'downbeat_f'):7.3f} {right:3d}/{count:<3d} {landed / max(matched, 1):8.1%}"
            keyed = [r[name]["key"] for r in rows if not np.isnan(r[name]["key"])]
            if keyed:  # MIREX's weighted key score, and how many keys were exactly right
                line += f" {np.mean(keyed):5.3f} {sum(k == 1.0 for k in keyed):3d}/{len(keyed):<3d}"
        print(line)
    print(f"{'target':28s} {'>= 90%':>6s} {'':>6s} {'>= 0.85':>7s} {'>= 0.6':>7s} {'':>7s} {'>= 95%':>8s}")
    fonts = sorted({r["font"] for r in rows if r["font"]})
    for font in fonts:
        mine = [r for r in rows if r["font"] == font]
        print(f"  with {font}: {len(mine)} files, Acc1 {mean('ours', 'acc1', mine):.1%}, Acc2 "
              f"{mean('ours', 'acc2', mine):.1%}, beat F {mean('ours', 'beat_f', mine):.3f}, downbeat F "
              f"{mean('ours', 'downbeat_f', mine):.3f} | librosa default: Acc1 {mean('librosa', 'acc1', mine):.1%}, "
              f"beat F {mean('librosa', 'beat_f', mine):.3f}")
    styles = sorted({r["style"] for r in rows})
    if len(styles) > 1:
        print(f"by style (midiscribe | librosa default):  {'files':>5s} {'Acc1':>6s} {'Acc2':>6s} {'beat F':>7s} {'metre':>6s} | "
              f"{'Acc1':>6s} {'beat F':>7s}")
        for style in styles:
            mine = [r for r in rows if r["style"] == style]
            right = sum(r["ours"]["signature"] == r["metre"] for r in mine)
            print(f"  {style:38s} {len(mine):5d} {np.mean([r['ours']['acc1'] for r in mine]):6.0%} "
                  f"{np.mean([r['ours']['acc2'] for r in mine]):6.0%} {np.mean([r['ours']['beat_f'] for r in mine]):7.3f} "
                  f"{right:3d}/{len(mine):<2d} | {np.mean([r['librosa']['acc1'] for r in mine]):6.0%} "
                  f"{np.mean([r['librosa']['beat_f'] for r in mine]):7.3f}")
    print("(Acc1: tempo within 4 % of the notated beat's; Acc2: within 4 % of it, or of twice, three times, half or a "
          "third of it. on grid: matched notes whose 1/16-quantised time is their written grid point. key: the "
          "estimated key's MIREX weighted score against the key the piece is written in, mean; right: exactly it.)")


def all_tuning(pieces: list) -> list[bool]:
    return [True] * len(pieces)


def all_held_back(pieces: list) -> list[bool]:
    return [False] * len(pieces)


# Each dev set (--set): how it is drawn, and which of its pieces are tuning material (True) or held back.
DEV_SETS = {
    "first": (tempo_pieces.dev_set, tempo_pieces.tuning_half),
    "second": (tempo_styles.second_set, tempo_styles.second_set_tuning_half),
    "third": (tempo_styles.third_set, all_tuning),
    "fourth": (tempo_styles.fourth_set, all_held_back),
    "fifth": (tempo_styles.fifth_set, tempo_styles.second_set_tuning_half),
    "sixth": (tempo_styles.sixth_set, all_held_back),
    "seventh": (tempo_styles.seventh_set, all_tuning),
    "eighth": (tempo_styles.eighth_set, all_held_back),
    "ninth": (tempo_styles.ninth_set, all_held_back),
    "tenth": (tempo_styles.tenth_set, all_held_back),
    "eleventh": (tempo_styles.eleventh_set, all_held_back),
    "twelfth": (tempo_styles.twelfth_set, all_held_back),
    "thirteenth": (tempo_styles.thirteenth_set, all_held_back),
    "fourteenth": (tempo_styles.fourteenth_set, all_tuning),
    "fifteenth": (tempo_styles.fifteenth_set, all_held_back),
    "sixteenth": (tempo_styles.sixteenth_set, all_held_back),
    "seventeenth": (tempo_styles.seventeenth_set, all_held_back),
    "eighteenth": (tempo_styles.eighteenth_set, all_held_back),
    "nineteenth": (tempo_styles.nineteenth_set, all_held_back),
    "twentieth": (tempo_styles.twentieth_set, all_held_back),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=tuple(DEV_SETS), default="second",
                        help="the dev set: the first 40 pieces (tempo_pieces.py), the second 80 (tempo_styles.py), "
                             "the third 80 (the second's styles with other seeds; all tuning material), the "
                             "fourth 80 (the same with other seeds, every beat within 60-180 BPM; all held back), "
                             "the fifth 80 (tempos spread evenly over 60-180 BPM whatever the style; halves as "
                             "the second's), the sixth 80 (drawn as the fifth's; all held back), the seventh 160 (as "
                             "the fifth's and the second's; all tuning), the eighth 160 (as the fifth's and the "
                             "fourth's; all held back), the ninth to thirteenth and fifteenth to twentieth 160 "
                             "(each drawn as the eighth's; all held back), the fourteenth 320 (as the seventh's; all "
                             "tuning)")
    parser.add_argument("--half", choices=("tuning", "held-back", "all"), default="held-back")
    parser.add_argument("--librosa-dp", action="store_true",
                        help="also run the tracker with librosa's dynamic program (the one engine/beats.py replaced)")
    parser.add_argument("--constant", action="append", default=[], metavar="MODULE.NAME=VALUE",
                        help="set an engine constant first (repeatable), e.g. beats.FOLD_OCTAVES=inf or "
                             "rhythm.TEMPO_SMOOTHING_PERIODS=0: a change's before run")
    parser.add_argument("--previous-settings", action="store_true",
                        help="the metre settings of commit de140c6b, before bench/tempo_tune.py chose them")
    parser.add_argument("--notes", action="store_true",
                        help="also track the rhythm from the general model's note onsets, as stems do")
    parser.add_argument("--piano", action="store_true",
                        help="solo-piano pieces only, also transcribed by the piano model and tracked from its notes")
    parser.add_argument("--hint-spread", type=float, metavar="S",
                        help="give our trackers a tempo_hint up to S (0.25: a quarter) off the notated tempo (see above)")
    parser.add_argument("--metre-given", action="store_true",
                        help="give our trackers each piece's time signature, as a user's time_signature option")
    parser.add_argument("--clips", type=float, nargs="+", metavar="SECONDS",
                        help="instead: excerpts this long (from 6 s in) of the half's pieces, as short loops: how "
                             "often a tempo is found, and Acc1 / Acc2 (with --notes, the note-onset path too)")
    parser.add_argument("--unseen-fonts", action="store_true",
                        help="play the half's pieces with each of the other GM sound fonts (OTHER_GM_FONTS: csound's "
                             "bank, OPL3 FM) instead of the dev set's three: a check set, never tuned on")
    parser.add_argument("--json", type=Path, help="also write the per-file rows here")
    args = parser.parse_args()
    ensure_fluidsynth()
    if args.unseen_fonts:
        ensure_fluidsynth(OTHER_GM_FONTS, OTHER_GM_FONT_PACKAGES)
    ensure_bench_packages()
    if args.previous_settings:
        use_previous_settings()
    constants = use_constants(args.constant)
    rows = []
    make_set, split = DEV_SETS[args.set]
    pieces = make_set()
    halves = split(pieces)
    fonts = tuple(OTHER_GM_FONTS) if args.unseen_fonts else (None,)
    chosen = [(index, piece, font) for index, (piece, tuning) in enumerate(zip(pieces, halves, strict=True))
              if args.half == "all" or tuning == (args.half == "tuning") for font in fonts]
    if not chosen:
        whole = "tuning material" if any(halves) else "held back"
        parser.error(f"the {args.set} set has no {args.half} half (all of it is {whole}): use --half all")
    played = f"; played with {', '.join(OTHER_GM_FONTS)}" if args.unseen_fonts else ""
    played += f"; constants set: {', '.join(constants)}" if constants else ""
    if args.clips:
        report_clips(chosen, args.clips, args.notes)
        print(f"set: {args.set}; half: {args.half}{played}; excerpts from {CLIP_START_S:g} s; load: {os.getloadavg()}")
        return
    paths = tuple(name for name in ("notes", "piano") if getattr(args, name))
    for index, piece, font in chosen:
        if args.piano and not is_solo_piano(piece):
            continue
        rows.append(evaluate(index, piece, args.librosa_dp, paths, args.hint_spread, args.metre_given, font))
    report(rows)
    settings = "previous (de140c6b)" if args.previous_settings else "current"
    hint = f"tempo_hint within {args.hint_spread:.0%} of the notated tempo" if args.hint_spread is not None else "no tempo_hint"
    hint += "; time_signature given" if args.metre_given else ""
    print(f"set: {args.set}; half: {args.half}{played}; metre settings: {settings}; {hint}; load: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
