"""transkun's interval scorer in numpy: from the network's target tokens to queries, keys and singletons.

transkun upsamples each track's 88 tokens to frames with a stride-8 transposed convolution (frame
``8 · step + phase`` is ``token[step] @ W[phase] + b``) and projects every frame to a query, a key
(256 each) and a singleton score. Both steps are linear, so they are folded into one matrix per
phase, and the 1/sqrt(256) of the scaled inner product into the query part. The scores themselves,
``(key[begin] · query[end]) · (end - begin)``, are computed by the decoder a block at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import Executor

import numpy as np

from .config import SCORE_SIZE, SEGMENT_FRAMES, UPSAMPLE_PHASES
from .decode import IntervalScores


def folded_projection(w: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The transposed convolution and the scorer's projection as one (256, 8 × 513) matrix and bias.

    Column block ``j`` maps a step's token to the query, key and singleton of frame ``8 · step + j``.
    """
    up_weight = w["backbone.upConv1dSkip.weight"].astype(np.float64)  # (in, out, phase)
    up_bias = w["backbone.upConv1dSkip.bias"].astype(np.float64)
    map_weight = w["scorer.map.0.weight"].astype(np.float64).T.copy()  # (256, 513)
    map_bias = w["scorer.map.0.bias"].astype(np.float64).copy()
    map_weight[:, :SCORE_SIZE] /= math.sqrt(SCORE_SIZE)
    map_bias[:SCORE_SIZE] /= math.sqrt(SCORE_SIZE)
    weight = np.concatenate([up_weight[:, :, phase] @ map_weight for phase in range(UPSAMPLE_PHASES)], axis=1)
    bias = np.tile(up_bias @ map_weight + map_bias, UPSAMPLE_PHASES)
    return weight.astype(np.float32), bias.astype(np.float32)


class IntervalScorer:
    def __init__(self, weights: Mapping[str, np.ndarray]):
        weight, bias = folded_projection(weights)
        # Queries, keys and singletons as three products, so that each comes out contiguous: the
        # decoder's block products run about 1.5 times faster on a contiguous query than on a view
        # of one 513-wide array.
        column = np.arange(weight.shape[1]).reshape(UPSAMPLE_PHASES, 2 * SCORE_SIZE + 1)
        self.parts = [(np.ascontiguousarray(weight[:, columns.ravel()]), bias[columns.ravel()])
                      for columns in (column[:, :SCORE_SIZE], column[:, SCORE_SIZE : 2 * SCORE_SIZE], column[:, -1:])]

    def __call__(self, context: np.ndarray, pool: Executor | None = None) -> tuple[IntervalScores, np.ndarray]:
        """``context``: (tracks, steps, 256). Returns the interval scores and (tracks, frames) singletons.
        With a ``pool``, the products run side by side (each whole, so the result is the same to the bit)."""
        tracks, steps, _ = context.shape
        tokens = context.reshape(tracks * steps, -1)

        def project(part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            weight, bias = part
            product = tokens @ weight
            product += bias  # in place: a second 65 MB array per product cost up to 0.3 s a segment
            return product.reshape(tracks, steps * UPSAMPLE_PHASES, -1)[:, :SEGMENT_FRAMES]

        query, key, singletons = pool.map(project, self.parts) if pool else map(project, self.parts)
        return IntervalScores(query, key), np.ascontiguousarray(singletons[:, :, 0])
