"""Semi-CRF Viterbi decoding of interval scores: the best set of intervals per track, all tracks at once.

transkun scores every interval ``[begin, end]`` of a segment's frames for each of its 90 tracks. A
track's decoding is the set of intervals ``begin < end`` that do not overlap (one may begin on the
frame where the previous one ends) maximising

    sum of the intervals' scores + sum over visited frames of max(singleton score, 0)

where a frame is *visited* unless it lies strictly inside a chosen interval; a visited frame with a
positive singleton score is also an interval ``[frame, frame]`` of the output. It is solved backwards
(transkun's ``viterbiBackward``): ``best[t]``, the value of the frames from ``t`` on, is

    max(best[t + 1], max over e > t of best[e] + score[t, e]) + max(singleton[t], 0),

so the path can be read from any start frame; the segmenter starts each track where the previous
segment's last finished note ends. The recursion loops over frames with every track in one array
operation, computing the scores a block of begin frames at a time (all of a segment's would take
172 MB); the paths are read for all tracks at once by pointer doubling. Tracks are independent, so
given a thread pool the tracks are split into one slice per CPU, decoded side by side (the same
result to the bit: each slice's products are the same BLAS products).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from ..model import available_cpus

SKIP = -1  # pointer value: the path goes on to the next frame without an interval
# Begin frames whose scores are computed together: (90 tracks × 64 × 691) float32 is 16 MB.
ROW_BLOCK = 64


def over_tracks(pool: Executor | None, tracks: int, work: Callable[[slice], None]) -> None:
    """Run ``work`` on contiguous slices of ``range(tracks)``, one per CPU side by side in ``pool``, or on
    all tracks at once without a pool. ``work`` writes its slice of the result; errors are re-raised."""
    if pool is None or tracks < 2:
        work(slice(0, tracks))
        return
    bounds = np.linspace(0, tracks, min(available_cpus(), tracks) + 1).round().astype(int)
    for done in [pool.submit(work, slice(int(a), int(b))) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]:
        done.result()


class IntervalScores:
    """transkun's interval scores ``(key[begin] · query[end]) · (end - begin)`` from the network's
    queries and keys, (tracks, frames, size) each, computed a block of begin frames at a time."""

    def __init__(self, query: np.ndarray, key: np.ndarray):
        if query.shape != key.shape or query.ndim != 3:
            raise ValueError(f"query {query.shape} and key {key.shape} must both be (tracks, frames, size)")
        self.query, self.key = query, key
        self.tracks, self.frames = query.shape[:2]

    def of_tracks(self, tracks: slice) -> IntervalScores:
        return IntervalScores(self.query[tracks], self.key[tracks])

    def rows(self, first: int, stop: int) -> np.ndarray:
        """Scores of begin frames ``first..stop-1`` and end frames ``first..``: (tracks, stop - first,
        frames - first). Entries with end <= begin are meaningless."""
        block = np.matmul(self.key[:, first:stop], self.query[:, first:].transpose(0, 2, 1))
        lengths = np.arange(self.frames - first, dtype=np.float32)[None, :] - np.arange(stop - first, dtype=np.float32)[:, None]
        block *= lengths
        return block


class ScoreMatrix:
    """Scores given whole, (tracks, begin, end): for tests and small problems."""

    def __init__(self, scores: np.ndarray):
        self.scores = scores
        self.tracks, self.frames = scores.shape[:2]
        if scores.shape[2] != self.frames:
            raise ValueError(f"a score matrix is (tracks, frames, frames), not {scores.shape}")

    def of_tracks(self, tracks: slice) -> ScoreMatrix:
        return ScoreMatrix(self.scores[tracks])

    def rows(self, first: int, stop: int) -> np.ndarray:
        return self.scores[:, first:stop, first:]


@dataclass(frozen=True)
class Intervals:
    """Decoded intervals of all tracks, ordered by track, then as each track's path visits them."""

    track: np.ndarray  # int64
    begin: np.ndarray  # int64, frame
    end: np.ndarray  # int64, frame (== begin for a singleton)

    def __len__(self) -> int:
        return len(self.track)


def best_pointers(scores: IntervalScores | ScoreMatrix, singletons: np.ndarray, pool: Executor | None = None,
                  ) -> np.ndarray:
    """The backward recursion; ``singletons`` is (tracks, T). Returns (tracks, T) int32 pointers: at
    frame ``t``, ``SKIP`` or the end frame of the interval beginning there (the last frame's is ``SKIP``).
    With a ``pool``, slices of the tracks are decoded side by side.
    """
    tracks, frames = singletons.shape
    if (scores.tracks, scores.frames) != (tracks, frames):
        raise ValueError(f"scores for {scores.tracks} tracks × {scores.frames} frames do not match "
                         f"singletons of shape {singletons.shape}")
    pointers = np.full((tracks, frames), SKIP, dtype=np.int32)
    over_tracks(pool, tracks, lambda part: _recursion(scores.of_tracks(part), singletons[part], pointers[part]))
    return pointers


def _recursion(scores: IntervalScores | ScoreMatrix, singletons: np.ndarray, pointers: np.ndarray) -> None:
    """``best_pointers``' recursion for some tracks, writing their ``pointers``."""
    tracks, frames = singletons.shape
    gains = np.maximum(singletons, 0).astype(np.float32)
    best = np.zeros((tracks, frames), dtype=np.float32)
    best[:, -1] = gains[:, -1]
    rows = np.arange(tracks)
    for stop in range(frames - 1, 0, -ROW_BLOCK):
        first = max(0, stop - ROW_BLOCK)
        block = scores.rows(first, stop)
        for t in range(stop - 1, first - 1, -1):
            candidates = best[:, t + 1 :] + block[:, t - first, t + 1 - first :]
            choice = np.argmax(candidates, axis=1)
            interval_value = candidates[rows, choice]
            # Skipping wins ties (transkun lists the skip first and takes the first maximum).
            take = interval_value > best[:, t + 1]
            best[:, t] = np.where(take, interval_value, best[:, t + 1]) + gains[:, t]
            pointers[:, t] = np.where(take, choice + t + 1, SKIP)


def read_paths(pointers: np.ndarray, singletons: np.ndarray, starts: np.ndarray) -> Intervals:
    """Follow each track's pointers from its start frame to the last frame; collect its intervals.

    Each step from frame ``j`` goes to ``j + 1`` (skip) or to the end of the interval beginning at
    ``j``, so a path visits increasing frames. Doubling the step ``ceil(log2 T)`` times visits every
    frame of every path with array operations only.
    """
    tracks, frames = pointers.shape
    starts = np.asarray(starts, dtype=np.int64)
    following = np.where(pointers >= 0, pointers, np.arange(1, frames + 1)).astype(np.int64)
    following[:, -1] = frames - 1  # the last frame is where every path stops
    rows = np.arange(tracks)[:, None]
    visited = np.minimum(starts, frames - 1)[:, None]
    jump = following
    for _ in range(max(1, math.ceil(math.log2(frames)))):
        visited = np.concatenate([visited, jump[rows, visited]], axis=1)
        jump = jump[rows, jump]
    on_path = np.zeros((tracks, frames), dtype=bool)
    on_path[rows, visited] = True
    on_path[starts >= frames - 1, :] = False  # a path starting at the last frame visits nothing before it
    on_path[:, -1] = False  # the last frame is handled below, as transkun does
    singles = on_path & (singletons > 0)
    spans = on_path & (pointers >= 0)
    last_single = singletons[:, -1] > 0

    # Per track: each visited frame's singleton, then its interval; the last frame's singleton at the end.
    single_track, single_frame = np.nonzero(singles)
    span_track, span_frame = np.nonzero(spans)
    last_track = np.flatnonzero(last_single)
    track = np.concatenate([single_track, span_track, last_track])
    begin = np.concatenate([single_frame, span_frame, np.full(len(last_track), frames - 1)])
    end = np.concatenate([single_frame, pointers[span_track, span_frame], np.full(len(last_track), frames - 1)])
    kind = np.concatenate([np.zeros(len(single_track)), np.ones(len(span_track)), np.full(len(last_track), 2)])
    order = np.lexsort((kind, begin, track))
    return Intervals(track[order].astype(np.int64), begin[order].astype(np.int64), end[order].astype(np.int64))


def decode(scores: IntervalScores | ScoreMatrix | np.ndarray, singletons: np.ndarray, starts: np.ndarray,
           pool: Executor | None = None) -> Intervals:
    """Every track's best intervals from its start frame on; ``scores`` may be a whole (tracks, T, T) array.
    With a ``pool``, slices of the tracks are decoded side by side."""
    if isinstance(scores, np.ndarray):
        scores = ScoreMatrix(scores)
    return read_paths(best_pointers(scores, singletons, pool), singletons, starts)
