"""Tempo, beat, downbeat and quantisation figures on a generated dev set. Prints figures; asserts nothing.

    .venv/bin/python bench/tempo.py --half held-back      # the figures to report
    .venv/bin/python bench/tempo.py --half tuning         # the half settings are chosen on
    .venv/bin/python bench/tempo.py --speed               # tracking time against transcription, 10-minute file

The dev set (bench/tempo_pieces.py): 40 pieces of about 40 s in 2/4, 3/4, 4/4 and 6/8 at 60-180 BPM
(6/8: 60-120 dotted quarters), steady or with a step or gradual tempo change, five ensembles, some
with drums and some with human timing, rendered by FluidSynth with three sound fonts. Every other
piece of each (metre, tempo change) kind is in the tuning half; the rest are held back. Audio and transcriptions are cached
under bench/.cache/tempo/.

Per file: tempo Acc1 (within 4 % of the median true tempo of the notated beat: the dotted quarter in
6/8), mir_eval's beat F-measure (70 ms window, first 5 s skipped) and downbeat F-measure, the time
signature, next to librosa's default beat tracker (``librosa.beat.beat_track`` on the audio at
22050 Hz, its own onset strength and tempo estimate). Quantisation: transcribed notes matched to the
written ones (same pitch, onset within 50 ms, mir_eval), then snapped to the 1/16 grid of our tempo
map; a note lands when the written grid point nearest to its quantised time is its own.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import tempo_pieces  # noqa: E402
from engine import ensure_fluidsynth, render_midi, say  # noqa: E402

CACHE = BENCH / ".cache" / "tempo"
SOUND_FONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
)
TEMPO_TOLERANCE = 0.04
BEAT_WINDOW_S = 0.07
MATCH_ONSET_S = 0.05
SPEED_PIECE_S = 600.0
# mir_eval scores the beats; a bench-only package, so it goes to a folder of the bench's own rather than
# into the product's venv (its needs, numpy, scipy and decorator, come with librosa already).
BENCH_SITE = BENCH / ".cache" / "site"
MIR_EVAL = "mir_eval==0.8.2"


def ensure_mir_eval() -> None:
    sys.path.insert(0, str(BENCH_SITE))
    try:
        import mir_eval  # noqa: F401
    except ImportError:
        say(f"installing {MIR_EVAL} into {BENCH_SITE}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--target", str(BENCH_SITE), MIR_EVAL], check=True)
        importlib.invalidate_caches()  # the folder did not exist when the path was first searched


def render(piece: tempo_pieces.Piece, index: int) -> Path:
    """The piece as 44.1 kHz WAV (cached); the sound font rotates with the piece's index."""
    audio = CACHE / f"{piece.name}.wav"
    if audio.exists():
        return audio
    CACHE.mkdir(parents=True, exist_ok=True)
    midi = audio.with_suffix(".mid")
    piece.to_midi(np.random.default_rng(index)).save(midi)
    render_midi(midi, audio, SOUND_FONTS[index % len(SOUND_FONTS)], gain=0.6)
    return audio


def transcribed(audio: Path) -> tuple[np.ndarray, list, float]:
    """(onset strength, notes, duration) of our transcription, cached, so tracking can be rerun alone."""
    from midiscribe.engine import pipeline
    from midiscribe.engine.transcription import NoteEvent

    cached = audio.with_suffix(".ours.npz")
    if not cached.exists():
        kept: dict = {}
        original = pipeline.track_rhythm

        def keep(onset_strength, notes, duration_s):
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


def librosa_default(audio: Path) -> np.ndarray:
    import librosa

    cached = audio.with_suffix(".librosa.npy")
    if not cached.exists():
        samples, rate = librosa.load(audio, sr=22050, mono=True)
        _, beats = librosa.beat.beat_track(y=samples, sr=rate, units="time")
        np.save(cached, beats)
    return np.load(cached)


def tempo_of(beats: np.ndarray) -> float:
    return float(60.0 / np.median(np.diff(beats))) if len(beats) > 1 else float("nan")


def beat_f(reference: np.ndarray, estimate: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference),
                                         mir_eval.beat.trim_beats(np.asarray(estimate, dtype=float)), BEAT_WINDOW_S))


def downbeat_f(reference: np.ndarray, estimate: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(reference, np.asarray(estimate, dtype=float), BEAT_WINDOW_S))


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


def evaluate(index: int, piece: tempo_pieces.Piece) -> dict:
    from midiscribe.engine.options import TranscriptionOptions
    from midiscribe.engine.rhythm import track_rhythm
    from midiscribe.engine.tempo_map import tempo_map_for
    from midiscribe.engine.transcription import Transcription

    audio = render(piece, index)
    onset, notes, duration = transcribed(audio)
    rhythm = track_rhythm(onset, notes, duration)
    truth_beats = piece.beat_times[:-1]
    truth_tempo = piece.median_tempo_bpm
    theirs = librosa_default(audio)
    row = {"piece": piece.name, "metre": piece.metre, "true_bpm": truth_tempo}
    if rhythm is None:
        row.update(bpm=float("nan"), acc1=False, beat_f=0.0, downbeat_f=0.0, signature="-", landed=0, matched=0)
    else:
        numerator, denominator = rhythm.time_signature
        tempo_map = tempo_map_for(Transcription(notes, duration, TranscriptionOptions(), rhythm=rhythm))
        landed, matched = quantisation(piece, notes, tempo_map)
        row.update(
            bpm=rhythm.tempo_bpm, acc1=abs(rhythm.tempo_bpm / truth_tempo - 1) <= TEMPO_TOLERANCE,
            beat_f=beat_f(truth_beats, rhythm.beats), downbeat_f=downbeat_f(piece.downbeat_times[:-1], rhythm.downbeats),
            signature=f"{numerator}/{denominator}", landed=landed, matched=matched,
        )
    their_bpm = tempo_of(theirs)
    row.update(librosa_bpm=their_bpm, librosa_acc1=abs(their_bpm / truth_tempo - 1) <= TEMPO_TOLERANCE,
               librosa_beat_f=beat_f(truth_beats, theirs))
    return row


def report(rows: list[dict]) -> None:
    print(f"{'piece':44s} {'true':>6s} {'ours':>6s} {'A1':>2s} {'beatF':>5s} {'dbF':>5s} {'sig':>5s} "
          f"{'q-land':>7s} | {'librosa':>7s} {'A1':>2s} {'beatF':>5s}")
    for r in rows:
        print(f"{r['piece']:44s} {r['true_bpm']:6.1f} {r['bpm']:6.1f} {int(r['acc1']):2d} {r['beat_f']:5.2f} "
              f"{r['downbeat_f']:5.2f} {r['signature']:>5s} {r['landed']:3d}/{r['matched']:<3d} | "
              f"{r['librosa_bpm']:7.1f} {int(r['librosa_acc1']):2d} {r['librosa_beat_f']:5.2f}")
    count = len(rows)
    landed, matched = sum(r["landed"] for r in rows), sum(r["matched"] for r in rows)
    signature_right = sum(r["signature"] == r["metre"] for r in rows)
    print()
    print(f"files: {count}")
    print(f"tempo Acc1 (4 %):        ours {sum(r['acc1'] for r in rows) / count:6.1%}   "
          f"librosa default {sum(r['librosa_acc1'] for r in rows) / count:6.1%}   (target >= 90 %)")
    print(f"beat F-measure (mean):   ours {np.mean([r['beat_f'] for r in rows]):6.3f}   "
          f"librosa default {np.mean([r['librosa_beat_f'] for r in rows]):6.3f}   (target >= 0.85)")
    print(f"downbeat F (mean):       ours {np.mean([r['downbeat_f'] for r in rows]):6.3f}   (target >= 0.6)")
    print(f"time signature right:    {signature_right}/{count}")
    print(f"quantised on the written grid: {landed}/{matched} = {landed / max(matched, 1):.1%} of matched notes "
          f"(target >= 95 %)")


def speed() -> None:
    """Rhythm tracking time against the whole transcription on a 10-minute file (warm, then cold)."""
    from midiscribe.engine import transcribe

    piece = tempo_pieces.make_piece(7, "4/4", 104.0, "steady", "band", seconds=SPEED_PIECE_S, drums=True)
    piece.name = f"speed-{int(SPEED_PIECE_S)}s"
    audio = render(piece, 0)
    started = time.perf_counter()
    cold = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); "
                           "from midiscribe.engine.beats import track_pulse; import numpy as np; "
                           "track_pulse(np.random.default_rng(0).random(2000)); print(time.perf_counter() - t)"],
                          capture_output=True, text=True, check=True)
    say(f"cold start measured in {time.perf_counter() - started:.1f} s")
    transcribe(audio)  # warm-up: model session, librosa import and numba compilation
    runs = [transcribe(audio).timings for _ in range(3)]
    rhythm = [run["rhythm_s"] for run in runs]
    total = [run["total_s"] for run in runs]
    print(f"10-minute file ({audio.name}), 3 warm runs: rhythm {np.median(rhythm):.3f} s of {np.median(total):.2f} s "
          f"total = {np.median(rhythm) / np.median(total):.2%} (target <= 5 %)")
    print(f"cold start of the tracker in a fresh process (import librosa + first call, numba compiles): "
          f"{float(cold.stdout.strip()):.2f} s")
    print(f"load: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=("tuning", "held-back", "all"), default="held-back")
    parser.add_argument("--speed", action="store_true", help="only the 10-minute timing figure")
    parser.add_argument("--json", type=Path, help="also write the per-file rows here")
    args = parser.parse_args()
    if args.speed:
        ensure_fluidsynth()
        speed()
        return
    ensure_fluidsynth()
    ensure_mir_eval()
    rows = []
    pieces = tempo_pieces.dev_set()
    for index, (piece, tuning) in enumerate(zip(pieces, tempo_pieces.tuning_half(pieces), strict=True)):
        if args.half == "all" or tuning == (args.half == "tuning"):
            rows.append(evaluate(index, piece))
    report(rows)
    print(f"half: {args.half}; load: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
