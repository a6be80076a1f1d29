"""``transcribe_piano``: audio in, piano notes (with velocities) and pedals out, streamed segment by segment.

Per 16-second segment: the front end (numpy), the network and the scorer (onnxruntime) give interval
scores for 90 tracks, the semi-CRF decoder picks intervals, the note heads give their velocities and
refined times, and the stitcher joins them to the previous segments' notes. Three stages overlap, each in a
thread of its own: decoding the audio and the front end, the network, and the rest (scorer, decoder, heads),
each a segment ahead of the next. The decoder's matrix products are
split over the tracks, one slice per CPU in threads of our own: midiscribe's processes run numpy's BLAS
on one thread (``cli/__init__.py``, the worker's environment), because OpenBLAS's own pool spins for
CPUs that the front end, other stems or other processes hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import numpy as np

from ..audio import AudioStream
from ..inference import Prefetcher
from ..instruments import Family
from ..model import available_cpus
from ..options import TranscriptionOptions
from ..transcription import NoteEvent, PedalEvent, Transcription
from .config import SAMPLE_RATE
from .decode import decode
from .model import MODEL_NAME, PianoModel, get_piano_model
from .segments import SEGMENT_SECONDS, SegmentPlan, Stitcher, segment_events

# Seconds between segment starts: transkun's own 8 (every second is processed twice). Measured on the
# dev set's choosing half (bench/piano.py hops), a 12 or 14-second hop finds the same notes (note F1
# 0.995 against hop 8, onset F1 against the ground truth 0.994 against 0.993) with 1.5-1.75 times fewer
# segments, but a note heard at another place in its segment gets another velocity (within ±5 of
# hop 8's for only 89 % and 85 % of notes) and the sustain pedal fares worse; on the reporting half,
# hop 14's velocity-aware F1 was 0.34 against transkun's 0.51. So the hop stays transkun's, and the
# output is transkun's own, note for note.
DEFAULT_HOP_SECONDS = 8.0
# Segments whose features are computed ahead of the network, and whose network outputs are computed ahead of
# the scorer and decoder. The network running while the previous segment is decoded fills the CPU time the
# decoder's per-frame steps and the heads leave idle: on the first 120 s of the 10-minute speed file, in one
# process under the timing lock, 35.9-40.3 s against 41.0-43.0 s with the network and the decoder taking turns
# (3 alternating rounds), the same notes, velocities and pedals to the bit; on whole 10-minute runs the
# difference was within the machine's drift from run to run (bench/README.md). It was tried
# before and not kept when the decoder's products ran on numpy's BLAS pool, which then fought onnxruntime's
# threads; they now run on one BLAS thread each (cli/__init__.py) and the scorer in onnxruntime.
PREFETCH_SEGMENTS = 1

Progress = Callable[[float, "float | None"], None]


def transcribe_piano(
    source,
    options: TranscriptionOptions | None = None,
    *,
    max_duration_s: float | None = None,
    progress: Progress | None = None,
    hop_seconds: float = DEFAULT_HOP_SECONDS,
    model: PianoModel | None = None,
    reuse_silence: bool = True,
    level_meter=None,
) -> Transcription:
    """Transcribe solo piano in ``source`` (a path, bytes or binary file object). ``reuse_silence=False``
    runs the network on every all-zero segment too (for tests and benches: the result is the same).
    ``level_meter`` (an ``engine.pipeline.LevelMeter`` at this model's rate) meters the audio as it streams.

    Raises the :mod:`midiscribe.engine.errors` types for bad input or a missing model.
    """
    options = options or TranscriptionOptions(model="piano")
    plan = SegmentPlan(hop_seconds)
    started = time.perf_counter()
    timings = {"features_s": 0.0, "network_s": 0.0, "decode_s": 0.0, "heads_s": 0.0, "segments": 0.0,
               "silent_segments_skipped": 0.0}
    # Digital silence (a piano stem resting through a verse, a long lead-in): every all-zero segment has the
    # same features and so the same network output, computed for the first one only. The decoder still runs on
    # each, since where its paths start depends on the segments before. Same to the bit as computing them again.
    silence: dict[str, np.ndarray] = {}
    with AudioStream(source, max_duration_s=max_duration_s, sample_rate=SAMPLE_RATE, mono=False) as audio:
        model = model or get_piano_model()
        total_s = audio.info.duration_s
        stitcher = Stitcher(plan)

        def features() -> Iterator[tuple[float, object]]:
            from .segments import segments

            blocks = audio.blocks() if level_meter is None else level_meter.measured(audio.blocks())
            shared = None  # the spectra of the frames this segment shares with the one before
            for begin_time, segment in segments(blocks, audio.info.channels, plan):
                silent = reuse_silence and not segment.any()
                if silent and "features" in silence:
                    shared = None
                    yield begin_time, silence["features"], True
                    continue
                began = time.perf_counter()
                computed, shared = model.front_end.segment_features(
                    segment, round(begin_time * SAMPLE_RATE), shared, plan.hop_frames)
                timings["features_s"] += time.perf_counter() - began
                if silent:
                    silence["features"] = computed
                yield begin_time, computed, silent

        def contexts() -> Iterator[tuple[float, np.ndarray]]:
            with closing(Prefetcher(features(), depth=PREFETCH_SEGMENTS)) as prefetched:
                for begin_time, segment_features, silent in prefetched:
                    began = time.perf_counter()
                    if silent and "context" in silence:
                        context = silence["context"]  # read, never written, by the scorer and the heads
                        timings["silent_segments_skipped"] += 1
                    else:
                        context = model.network(segment_features)
                        if silent:
                            silence["context"] = context
                    timings["network_s"] += time.perf_counter() - began
                    yield begin_time, context

        with ThreadPoolExecutor(available_cpus(), thread_name_prefix="midiscribe-piano") as pool, \
                closing(Prefetcher(contexts(), depth=PREFETCH_SEGMENTS)) as ready:
            for begin_time, context in ready:
                network_done = time.perf_counter()
                scores, singletons = model.scorer(context)
                intervals = decode(scores, singletons, stitcher.start_frames, pool)
                del scores
                decoded = time.perf_counter()
                attributes = model.heads(context, intervals.track, intervals.begin, intervals.end)
                stitcher.add(*segment_events(intervals, attributes, begin_time))
                finished = time.perf_counter()
                timings["decode_s"] += decoded - network_done
                timings["heads_s"] += finished - decoded
                timings["segments"] += 1
                if progress is not None:
                    done = begin_time + SEGMENT_SECONDS - plan.padding_seconds
                    progress(min(done, total_s) if total_s else max(done, 0.0), total_s)
        duration_s = audio.decoded_frames / audio.info.sample_rate

    notes, pedals = [], []
    for event in stitcher.finish():
        if event.pitch < 0:
            pedals.append(PedalEvent(controller=-event.pitch, start_s=event.start, end_s=event.end))
        else:
            notes.append(NoteEvent(start_s=event.start, end_s=event.end, pitch=event.pitch,
                                   amplitude=event.velocity / 127, model_velocity=event.velocity))
    timings["total_s"] = time.perf_counter() - started
    return Transcription(notes=notes, duration_s=duration_s, options=options, model_name=MODEL_NAME,
                         timings=timings, pedals=pedals, family=Family.PIANO)
