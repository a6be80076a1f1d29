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


def transcribe(
    source,
    options: TranscriptionOptions | dict | None = None,
    *,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
    rhythm: bool = True,
) -> Transcription:
    """Transcribe ``source`` (a path, bytes or a binary file object) to note events.

    ``progress(seconds_done, total_seconds_or_None)`` is called as the audio is processed.
    ``rhythm=False`` leaves out beat and tempo tracking (``Transcription.rhythm`` is None), for a caller
    that tracks them over more notes than these, as :func:`transcribe_stems` does over all its stems.
    Raises the :mod:`midiscribe.engine.errors` types for bad input or a missing model.
    """
    if options is None:
        options = TranscriptionOptions()
    elif not isinstance(options, TranscriptionOptions):
        options = TranscriptionOptions.parse(options)
    if options.transcriber == "piano":
        from .piano.pipeline import transcribe_piano

        piano = transcribe_piano(source, options, max_duration_s=max_duration_s, progress=progress)
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
        report = None
        if progress is not None:
            total = info.duration_s

            def report(samples: int) -> None:
                progress(samples / MODEL_SAMPLE_RATE, total)

        streaming_started = time.perf_counter()
        # closing(): on an error, the decoding thread is stopped before the audio file is closed.
        with closing(runner.run(decode_clock.timed(audio.blocks()), progress=report)) as chunks:
            for chunk in chunks:
                chunk_started = time.perf_counter()
                creator.add(chunk.note, chunk.onset, chunk.contour)
                onset_sums.append(chunk.onset.sum(axis=1, dtype=np.float32))
                store_seconds += time.perf_counter() - chunk_started
        duration_s = audio.decoded_frames / info.sample_rate
        inference_done = time.perf_counter()

    created = creator.finish(runner.frame_count)
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
