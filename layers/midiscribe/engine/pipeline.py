"""``transcribe``: audio in, note events out, streamed from the first block to the last."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing

import numpy as np

from .audio import TARGET_SAMPLE_RATE, AudioStream, resampled_length
from .inference import KEPT_FRAMES_PER_WINDOW, ModelRunner, window_count
from .model import MODEL_NAME
from .notes import NoteSettings, PosteriorStore, create_notes, frame_times, note_bends
from .options import TranscriptionOptions
from .rhythm import track_rhythm
from .transcription import NoteEvent, Transcription

Progress = Callable[[float, "float | None"], None]


def transcribe(
    source,
    options: TranscriptionOptions | dict | None = None,
    *,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
) -> Transcription:
    """Transcribe ``source`` (a path, bytes or a binary file object) to note events.

    ``progress(seconds_done, total_seconds_or_None)`` is called as the audio is processed.
    Raises the :mod:`midiscribe.engine.errors` types for bad input or a missing model.
    """
    if options is None:
        options = TranscriptionOptions()
    elif not isinstance(options, TranscriptionOptions):
        options = TranscriptionOptions.parse(options)
    settings = NoteSettings.from_options(options)
    started = time.perf_counter()
    decode_clock = _Stopwatch()
    store_seconds = 0.0

    with AudioStream(source, max_duration_s=max_duration_s) as audio:
        info = audio.info
        expected_frames = None
        if info.frames:
            expected_frames = window_count(resampled_length(info.frames, info.sample_rate)) * KEPT_FRAMES_PER_WINDOW
        store = PosteriorStore(settings, expected_frames)
        runner = ModelRunner()
        report = None
        if progress is not None:
            total = info.duration_s

            def report(samples: int) -> None:
                progress(samples / TARGET_SAMPLE_RATE, total)

        streaming_started = time.perf_counter()
        # closing(): on an error, the decoding thread is stopped before the audio file is closed.
        with closing(runner.run(decode_clock.timed(audio.blocks()), progress=report)) as chunks:
            for chunk in chunks:
                chunk_started = time.perf_counter()
                store.add(chunk.note, chunk.onset, chunk.contour)
                store_seconds += time.perf_counter() - chunk_started
        duration_s = audio.decoded_frames / info.sample_rate
        inference_done = time.perf_counter()

    posteriors = store.finish(runner.frame_count)
    raw_notes = create_notes(posteriors, settings)
    starts = frame_times(np.array([n.start for n in raw_notes], dtype=np.int64))
    ends = frame_times(np.array([n.end for n in raw_notes], dtype=np.int64))
    notes = [
        NoteEvent(
            start_s=float(start_s),
            end_s=float(end_s),
            pitch=raw.pitch,
            amplitude=raw.amplitude,
            pitch_bends=note_bends(posteriors, raw) if settings.include_pitch_bends else (),
        )
        for raw, start_s, end_s in zip(raw_notes, starts, ends, strict=True)
    ]
    notes.sort(key=lambda n: (n.start_s, n.pitch, n.end_s))
    notes_done = time.perf_counter()
    rhythm = track_rhythm(posteriors.onset_strength, notes, duration_s)
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
    }
    return Transcription(notes=notes, duration_s=duration_s, options=options, model_name=MODEL_NAME, timings=timings,
                         rhythm=rhythm)


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
