"""transkun's interval scorer: from the network's target tokens to each frame's query, key and singleton.

transkun upsamples each track's 88 tokens to frames with a stride-8 transposed convolution and projects
every frame to a query, a key (256 each) and a singleton score. Both steps are linear; ``graph.py``
folds them into one matrix per phase and builds them as a small ONNX graph (``scorer.onnx``), run here
with onnxruntime: on an AMD EPYC (Zen 5), where numpy's OpenBLAS took its Haswell kernels, 66 ms a
segment against 153 ms for the same products in numpy (bench/README.md). The scores themselves,
``(key[begin] · query[end]) · (end - begin)``, are computed by the decoder a block at a time.
"""

from __future__ import annotations

import numpy as np

from .config import SCORE_SIZE, SEGMENT_FRAMES, UPSAMPLE_PHASES
from .decode import IntervalScores


class IntervalScorer:
    def __init__(self, session):
        self.session = session

    def __call__(self, context: np.ndarray) -> tuple[IntervalScores, np.ndarray]:
        """``context``: (tracks, steps, 256). Returns the interval scores and (tracks, frames) singletons."""
        tracks, steps, _ = context.shape
        frames = steps * UPSAMPLE_PHASES
        query, key, singletons = self.session.run(["query", "key", "singletons"], {"context": context})
        # Views of onnxruntime's buffers: each track's frames stay contiguous rows for the block products.
        query = query.reshape(tracks, frames, SCORE_SIZE)[:, :SEGMENT_FRAMES]
        key = key.reshape(tracks, frames, SCORE_SIZE)[:, :SEGMENT_FRAMES]
        return IntervalScores(query, key), np.ascontiguousarray(singletons.reshape(tracks, frames)[:, :SEGMENT_FRAMES])
