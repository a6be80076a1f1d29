"""The model over a whole recording: basic-pitch's framing, batched, streamed.

basic-pitch puts 3840 zeros (half the 30-frame overlap) in front of the audio, cuts 43844-sample
windows every 36164 samples (the last one zero-padded), runs each through the model, drops 15
frames at both edges of each window's 172 and concatenates what is left (142 frames per window),
then keeps ``floor(n_samples * 86 / 22050)`` frames. We cut the same windows from a stream of
blocks and run them in batches, so the audio is never whole in memory and the model sees exactly
the same inputs.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .constants import FFT_HOP, MODEL_SAMPLE_RATE, WINDOW_SAMPLES

FRAMES_PER_WINDOW = 172
OVERLAP_FRAMES = 30
EDGE_FRAMES = OVERLAP_FRAMES // 2
KEPT_FRAMES_PER_WINDOW = FRAMES_PER_WINDOW - 2 * EDGE_FRAMES  # 142
HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_FRAMES * FFT_HOP  # 36164
FRONT_PADDING = OVERLAP_FRAMES * FFT_HOP // 2  # 3840
# basic-pitch counts frames with an integer rate (22050 // 256), not 86.13.
FRAMES_PER_SECOND_INT = MODEL_SAMPLE_RATE // FFT_HOP

INPUT_NAME = "serving_default_input_2:0"
# The exported graph's outputs are unnamed; their order was checked against basic-pitch's own
# mapping and against the posteriorgrams' shapes and behaviour (onsets are brief peaks).
NOTE_OUTPUT = "StatefulPartitionedCall:1"
ONSET_OUTPUT = "StatefulPartitionedCall:2"
CONTOUR_OUTPUT = "StatefulPartitionedCall:0"
OUTPUT_NAMES = [NOTE_OUTPUT, ONSET_OUTPUT, CONTOUR_OUTPUT]

# Windows per model call. Parallelism comes from calls in flight (see ModelRunner), and a
# single-threaded call costs the same per window from 1 to 8 windows (measured), while its
# activations grow with the batch (~20 MB a window). One window per call also gives results
# bit-identical to basic-pitch's, which runs the model one window at a time.
DEFAULT_BATCH_SIZE = 1


def kept_frame_count(n_samples: int) -> int:
    """Frames basic-pitch keeps for ``n_samples`` of 22050 Hz audio."""
    return int(np.floor(n_samples * (FRAMES_PER_SECOND_INT / MODEL_SAMPLE_RATE)))


def window_count(n_samples: int) -> int:
    return math.ceil((n_samples + FRONT_PADDING) / HOP_SAMPLES)


@dataclass
class PosteriorChunk:
    """Consecutive output frames: ``first_frame`` is the index of row 0 in the whole recording."""

    first_frame: int
    note: np.ndarray  # (frames, 88) float32
    onset: np.ndarray  # (frames, 88) float32
    contour: np.ndarray  # (frames, 264) float32


def window_batches(blocks: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """``(batch, 43844, 1)`` float32 arrays of basic-pitch's windows over the padded stream."""
    pending = np.zeros(FRONT_PADDING, dtype=np.float32)  # padded samples not yet fully consumed
    batch: list[np.ndarray] = []

    def flush() -> np.ndarray:
        stacked = np.stack(batch)[:, :, None]
        batch.clear()
        return stacked

    for block in blocks:
        pending = np.concatenate([pending, block]) if pending.size else block
        while pending.shape[0] >= WINDOW_SAMPLES:
            batch.append(pending[:WINDOW_SAMPLES].copy())
            pending = pending[HOP_SAMPLES:]
            if len(batch) == batch_size:
                yield flush()
    # Windows start at every hop while the start is inside the padded signal; the tail is zero-filled.
    while pending.shape[0] > 0:
        window = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
        window[: pending.shape[0]] = pending[:WINDOW_SAMPLES]
        batch.append(window)
        pending = pending[HOP_SAMPLES:]
        if len(batch) == batch_size:
            yield flush()
    if batch:
        yield flush()


class Prefetcher:
    """Runs an iterator in a thread, up to ``depth`` items ahead, from the moment it is created,
    so decoding overlaps the model (and the model's loading). Exceptions raised by the iterator
    (the decoder's typed errors) are re-raised in the consuming thread. Always :meth:`close` it.
    """

    _DONE = object()

    def __init__(self, iterator: Iterator, depth: int):
        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._produce, args=(iterator,), name="midiscribe-decode", daemon=True)
        self._worker.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, iterator: Iterator) -> None:
        try:
            for item in iterator:
                if not self._put((item, None)):
                    return
            self._put((self._DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer as it is
            self._put((self._DONE, exc))
        finally:
            # A generator left at a yield (the consumer closed early) is closed here, in the thread that ran
            # it, so what it holds open is released now: a Prefetcher of its own, which stops in turn.
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator:
        while True:
            item, error = self._items.get()
            if error is not None:
                raise error
            if item is self._DONE:
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._worker.join()


class ModelRunner:
    """Runs the model over 22050 Hz blocks; afterwards ``audio_samples`` and ``frame_count`` are known.

    One model call per CPU is kept in flight, each on one thread: on these small convolutions
    that keeps both cores busier than one call spread over both (measured ~25% faster), and it
    degrades more gracefully when other processes compete for the CPUs.
    """

    def __init__(
        self,
        session=None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        overlap_decoding: bool = True,
        concurrency: int | None = None,
    ):
        from .model import available_cpus

        self._session = session
        self.batch_size = batch_size
        self.overlap_decoding = overlap_decoding
        self.concurrency = concurrency or available_cpus()
        self.audio_samples = 0
        self.windows = 0
        self.silent_windows_skipped = 0  # all-zero windows answered with the first one's outputs, not the model
        self.model_seconds = 0.0  # summed over calls, which overlap
        self._silence: tuple[np.ndarray, ...] | None = None
        self._silence_lock = threading.Lock()

    @property
    def session(self):
        """The model session, loaded on first use (by then decoding is already under way)."""
        if self._session is None:
            from .model import get_session

            self._session = get_session()
        return self._session

    @property
    def frame_count(self) -> int:
        return kept_frame_count(self.audio_samples)

    def _call(self, session, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool]:
        """The model's outputs for ``batch``, the seconds the call took, and whether it was a silent window
        answered without the model.

        Digital silence (a DAW's or a multitrack session's stem where its instrument rests, a render's
        lead-in) gives every all-zero window the same input, so the model runs on the first one only and
        the others get copies of its outputs: the same to the bit, since one window per call on one
        thread always computes the same thing. Near-silence (a separated stem's leakage) is not silence:
        the model normalises each window's level, so it still runs there.
        """
        started = time.perf_counter()
        reused = False
        if batch.shape[0] == 1 and not batch.any():
            # A second silent window in flight waits for the first one's outputs instead of computing them too.
            with self._silence_lock:
                reused = self._silence is not None
                if not reused:
                    self._silence = tuple(session.run(OUTPUT_NAMES, {INPUT_NAME: batch}))
            note, onset, contour = (output.copy() for output in self._silence)
        else:
            note, onset, contour = session.run(OUTPUT_NAMES, {INPUT_NAME: batch})
        return note, onset, contour, time.perf_counter() - started, reused

    def run(
        self, blocks: Iterable[np.ndarray], progress: Callable[[int], None] | None = None
    ) -> Iterator[PosteriorChunk]:
        """Posteriorgram chunks in order. Frames past :attr:`frame_count` are the caller's to drop."""

        def counted(source: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            for block in source:
                self.audio_samples += block.shape[0]
                yield block

        batches = window_batches(counted(blocks), self.batch_size)
        prefetcher = Prefetcher(batches, depth=self.concurrency + 1) if self.overlap_decoding else None
        next_frame = 0
        kept = slice(EDGE_FRAMES, FRAMES_PER_WINDOW - EDGE_FRAMES)

        def finish(call: Future) -> PosteriorChunk:
            nonlocal next_frame
            note, onset, contour, seconds, reused = call.result()
            self.model_seconds += seconds
            self.windows += note.shape[0]
            self.silent_windows_skipped += int(reused)
            chunk = PosteriorChunk(
                first_frame=next_frame,
                note=note[:, kept].reshape(-1, note.shape[2]),
                onset=onset[:, kept].reshape(-1, onset.shape[2]),
                contour=contour[:, kept].reshape(-1, contour.shape[2]),
            )
            next_frame += chunk.note.shape[0]
            return chunk

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="midiscribe-model") as pool:
            in_flight: deque[Future] = deque()
            try:
                session = self.session
                for batch in prefetcher if prefetcher is not None else batches:
                    in_flight.append(pool.submit(self._call, session, batch))
                    if len(in_flight) >= self.concurrency:
                        yield finish(in_flight.popleft())
                        if progress is not None:
                            progress(self.audio_samples)
                while in_flight:
                    yield finish(in_flight.popleft())
                if progress is not None:
                    progress(self.audio_samples)
            finally:
                for call in in_flight:
                    call.cancel()
                # Stop the decoding thread now: the caller closes the audio file next.
                if prefetcher is not None:
                    prefetcher.close()
