"""``transcribe``: audio in, note events out, streamed from the first block to the last."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing

import numpy as np

from .audio import AudioStream, resampled_length
from .constants import MODEL_SAMPLE_RATE
from .inference import KEPT_FRAMES_PER_WINDOW, ModelRunner, window_count
from .instruments import Family
from .model import MODEL_NAME
from .note_creation import note_creator
from .options import TranscriptionOptions
from .rhythm import rhythm_of_notes, track_rhythm
from .transcription import Transcription

Progress = Callable[[float, "float | None"], None]
# The general model reads every window at its own level (basic-pitch normalises each one), so a reverb tail or
# noise 60-90 dB below the music comes out as loud notes: a FluidSynth render's tail at -93 dBFS gave two notes
# at velocities 82 and 99 a second after the music. A general-model note whose attack is more than this far
# below the recording's loud moments is dropped (bleed_mask), as transcribe_stems drops a stem's bleed.
# Measured (bench/quality.py --bleed-gate, 200 files a half, no recording's onset F1 lowered): mean onset
# F1 0.6572 -> 0.6603 on the tuning half, 0.6474 -> 0.6516 held back; on parts played from pp to ff
# (bench/stems.py --dynamics, tuning seeds, no cross-stem rule) 0.922 -> 0.927 with no case losing, where a
# 35-dB gate cost one case 0.005 and 30 dB cost one 0.149. basic_pitch_compat keeps every note, as basic-pitch.
LEVEL_GATE_DB = 40.0


def transcribe(
    source,
    options: TranscriptionOptions | dict | None = None,
    *,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
    rhythm: bool = True,
    bleed_gate_db: float | None = LEVEL_GATE_DB,
    level_meter: LevelMeter | None = None,
) -> Transcription:
    """Transcribe ``source`` (a path, bytes or a binary file object) to note events.

    ``progress(seconds_done, total_seconds_or_None)`` is called as the audio is processed.
    ``rhythm=False`` leaves out beat and tempo tracking (``Transcription.rhythm`` is None), for a caller
    that tracks them over more notes than these, as :func:`transcribe_stems` does over all its stems.
    ``bleed_gate_db`` drops the general model's notes that start more than that many dB below the
    recording's loud moments (:func:`bleed_mask`): a reverb tail or noise (LEVEL_GATE_DB, the default), or
    other instruments leaking into a stem; None keeps them. It does not apply to the piano model, the drums
    or ``basic_pitch_compat``. ``level_meter`` (a :class:`LevelMeter`)
    meters the input for the caller (the general or the piano model's), which :func:`transcribe_stems`
    compares across stems.
    Raises the :mod:`midiscribe.engine.errors` types for bad input or a missing model.
    """
    if options is None:
        options = TranscriptionOptions()
    elif not isinstance(options, TranscriptionOptions):
        options = TranscriptionOptions.parse(options)
    if options.transcriber == "piano":
        from .piano.pipeline import transcribe_piano

        piano = transcribe_piano(source, options, max_duration_s=max_duration_s, progress=progress,
                                 level_meter=level_meter)
        return with_rhythm(piano) if rhythm else piano
    if options.transcriber == "drums":
        from .drums import transcribe_drums

        drums = transcribe_drums(source, options, max_duration_s=max_duration_s, progress=progress)
        return with_rhythm(drums) if rhythm else drums
    started = time.perf_counter()
    decode_clock = _Stopwatch()
    store_seconds = 0.0
    # Each frame's onset posterior summed over pitches: the onset strength the beat tracker follows.
    onset_sums: list[np.ndarray] = []

    with AudioStream(source, max_duration_s=max_duration_s) as audio:
        info = audio.info
        expected_frames = None
        if info.frames:
            expected_frames = window_count(resampled_length(info.frames, info.sample_rate)) * KEPT_FRAMES_PER_WINDOW
        creator = note_creator(options, expected_frames)
        runner = ModelRunner()
        gated = bleed_gate_db is not None and not options.basic_pitch_compat
        meter = level_meter if level_meter is not None else LevelMeter() if gated else None
        report = None
        if progress is not None:
            total = info.duration_s

            def report(samples: int) -> None:
                progress(samples / MODEL_SAMPLE_RATE, total)

        streaming_started = time.perf_counter()
        # closing(): on an error, the decoding thread is stopped before the audio file is closed.
        blocks = decode_clock.timed(audio.blocks())
        with closing(runner.run(meter.measured(blocks) if meter else blocks, progress=report)) as chunks:
            for chunk in chunks:
                chunk_started = time.perf_counter()
                creator.add(chunk.note, chunk.onset, chunk.contour)
                onset_sums.append(chunk.onset.sum(axis=1, dtype=np.float32))
                store_seconds += time.perf_counter() - chunk_started
        duration_s = audio.decoded_frames / info.sample_rate
        inference_done = time.perf_counter()

    created = creator.finish(runner.frame_count)
    if gated and created.notes:
        keep = bleed_mask(np.array([note.start_s for note in created.notes]), meter.levels_db(), bleed_gate_db)
        created.notes = [note for note, kept in zip(created.notes, keep, strict=True) if kept]
    notes_done = time.perf_counter()
    onset_strength = np.concatenate(onset_sums)[: runner.frame_count] if onset_sums else None
    tracked = track_rhythm(onset_strength, created.notes, duration_s, options.rhythm_hints) if rhythm else None
    finished = time.perf_counter()
    # Decoding runs in its own thread alongside the model: decode_s is that thread's busy time,
    # inference_s the wall time of the streaming phase outside note bookkeeping.
    timings = {
        "decode_s": decode_clock.seconds,
        "inference_s": inference_done - streaming_started - store_seconds,
        "model_calls_s": runner.model_seconds,
        "notes_s": store_seconds + (notes_done - inference_done),
        "rhythm_s": finished - notes_done,
        "total_s": finished - started,
        "windows": float(runner.windows),
        "silent_windows_skipped": float(runner.silent_windows_skipped),
    }
    return Transcription(notes=created.notes, duration_s=duration_s, options=options, model_name=MODEL_NAME,
                         timings=timings, tuning_cents=created.tuning_cents, family=Family(options.instrument),
                         rhythm=tracked)


def with_rhythm(transcription: Transcription) -> Transcription:
    """``transcription`` with the rhythm of its notes, for transcribers without an onset posteriorgram
    (the piano model, drums, stems): the beat tracker follows the notes' onsets (``rhythm_of_notes``),
    the drum tracks' hits read as drums, and what the user said of the tempo and metre first. The order of
    the notes does not matter to it."""
    began = time.perf_counter()
    tracks = transcription.instrument_tracks()
    transcription.rhythm = rhythm_of_notes([note for track in tracks for note in track.notes], transcription.duration_s,
                                           drum=[track.is_drum for track in tracks for _ in track.notes],
                                           hints=transcription.options.rhythm_hints)
    transcription.timings["rhythm_s"] = time.perf_counter() - began
    return transcription


# The bleed gate's level frames (10 ms at the model's rate), what counts as a recording's loud moments
# (this percentile of its frame levels), and how long after a note's start its level is read (its attack).
LEVEL_FRAME_SAMPLES = MODEL_SAMPLE_RATE // 100
LOUD_PERCENTILE = 99.0
ATTACK_S = 0.1
SILENT_DB = -200.0


class LevelMeter:
    """The RMS level of each 10-ms frame of the blocks passing through :meth:`measured`: mono blocks at the
    model's rate, or (samples, channels) blocks at ``sample_rate`` (the piano model's), mixed to mono first as
    the general model's input is."""

    def __init__(self, sample_rate: int = MODEL_SAMPLE_RATE):
        self.frame_samples = LEVEL_FRAME_SAMPLES * sample_rate // MODEL_SAMPLE_RATE
        self._energies: list[np.ndarray] = []
        self._pending = np.zeros(0, dtype=np.float32)

    def measured(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            mono = block if block.ndim == 1 else block.mean(axis=1, dtype=np.float32)
            samples = np.concatenate([self._pending, mono]) if self._pending.size else mono
            whole = samples.size // self.frame_samples * self.frame_samples
            frames = samples[:whole].reshape(-1, self.frame_samples).astype(np.float64)
            self._energies.append(np.mean(frames**2, axis=1))
            self._pending = samples[whole:].copy()
            yield block

    def levels_db(self) -> np.ndarray:
        energies = np.concatenate([*self._energies, np.zeros(0)])
        with np.errstate(divide="ignore"):
            return np.maximum(10 * np.log10(energies), SILENT_DB)


def bleed_mask(starts_s: np.ndarray, levels_db: np.ndarray, gate_db: float) -> np.ndarray:
    """Which notes to keep: those whose attack (the loudest frame of their first ATTACK_S) is within
    ``gate_db`` of the recording's loud moments (the LOUD_PERCENTILE of its frame levels).

    The model reads every window at its own level, so an instrument leaking into another's stem, 30 or
    60 dB down, is transcribed as if it were the stem's own part: in its rests and beside its notes."""
    if not levels_db.size:
        return np.ones(starts_s.size, dtype=bool)
    return attack_levels_db(starts_s, levels_db) >= np.percentile(levels_db, LOUD_PERCENTILE) - gate_db


def attack_levels_db(starts_s: np.ndarray, levels_db: np.ndarray) -> np.ndarray:
    """The level of each note's attack: the loudest 10-ms frame of ``levels_db`` in its first ATTACK_S
    (SILENT_DB past the end, or without levels)."""
    starts_s = np.asarray(starts_s, dtype=np.float64)
    if not levels_db.size:
        return np.full(starts_s.size, SILENT_DB)
    frame_s = LEVEL_FRAME_SAMPLES / MODEL_SAMPLE_RATE
    first = np.minimum((starts_s / frame_s).astype(np.int64), levels_db.size - 1)
    span = max(1, round(ATTACK_S / frame_s))
    # The loudest frame from each start over the attack: a running maximum over a window of ``span`` frames.
    padded = np.concatenate([levels_db, np.full(span - 1, SILENT_DB)])
    attack = np.lib.stride_tricks.sliding_window_view(padded, span).max(axis=1)
    return attack[first]


class _Stopwatch:
    """Time spent producing items of an iterator (decoding runs in its own thread, so it adds up there)."""

    def __init__(self):
        self.seconds = 0.0

    def timed(self, iterable: Iterable) -> Iterator:
        iterator = iter(iterable)
        while True:
            began = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.seconds += time.perf_counter() - began
                return
            self.seconds += time.perf_counter() - began
            yield item
