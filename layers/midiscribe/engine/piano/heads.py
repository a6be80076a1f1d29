"""transkun's note heads in numpy: a velocity and refined onset/offset for every decoded interval.

Each interval ``[begin, end]`` of a track is described by the track's frame features at its two ends,
``a`` and ``b``, as ``[a, b, a · b]`` (768 values). Two small MLPs (768 → 512 → GELU → out) read it:
one gives 128 velocity logits (the velocity is their argmax), the other four numbers, the logits of a
continuous Bernoulli for where in its frame the onset and the offset fall (its mean, shifted to ±0.5
frame) and the logits of whether an onset/offset lies on a segment's first/last frame at all.

The frame features are the transposed convolution of the transformer's target tokens; only the
frames at interval ends are computed, each with the kernel phase of its frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .config import UPSAMPLE_PHASES
from .numerics import continuous_bernoulli_mean, gelu

# transkun maps a refined position p in [-0.5, 0.5] to 0.99 · p + 0.5 before fitting the distribution.
POSITION_SPREAD = 0.99
MAX_VELOCITY = 127


@dataclass(frozen=True)
class NoteAttributes:
    velocity: np.ndarray  # int64, 0..127
    onset_shift: np.ndarray  # frames, in [-0.5, 0.5]
    offset_shift: np.ndarray
    onset_present: np.ndarray  # bool: the onset is real even if it falls on a segment's first frame
    offset_present: np.ndarray


class NoteHeads:
    def __init__(self, weights: Mapping[str, np.ndarray]):
        def get(name: str) -> np.ndarray:
            return np.asarray(weights[name], dtype=np.float32)

        self.up_weight = np.ascontiguousarray(get("backbone.upConv1dSkip.weight").transpose(2, 0, 1))  # (phase, in, out)
        self.up_bias = get("backbone.upConv1dSkip.bias")
        # Both MLPs read the same input: their first layers run as one product.
        self.hidden_weight = np.concatenate([get("velocityPredictor.0.weight"), get("refinedOFPredictor.0.weight")]).T
        self.hidden_bias = np.concatenate([get("velocityPredictor.0.bias"), get("refinedOFPredictor.0.bias")])
        self.hidden_size = get("velocityPredictor.0.bias").shape[0]
        self.velocity_weight = np.ascontiguousarray(get("velocityPredictor.3.weight").T)
        self.velocity_bias = get("velocityPredictor.3.bias")
        self.position_weight = np.ascontiguousarray(get("refinedOFPredictor.3.weight").T)
        self.position_bias = get("refinedOFPredictor.3.bias")

    def frame_features(self, context: np.ndarray, track: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """(n, 256) features of ``frame`` of ``track``; ``context`` is (tracks, steps, 256)."""
        step, phase = np.divmod(frame, UPSAMPLE_PHASES)
        tokens = context[track, step]
        features = np.empty((len(frame), self.up_weight.shape[2]), dtype=np.float32)
        for value in np.unique(phase):
            rows = phase == value
            features[rows] = tokens[rows] @ self.up_weight[value]
        features += self.up_bias
        return features

    def __call__(self, context: np.ndarray, track: np.ndarray, begin: np.ndarray, end: np.ndarray) -> NoteAttributes:
        count = len(track)
        if count == 0:
            empty = np.zeros(0)
            return NoteAttributes(empty.astype(np.int64), empty, empty, empty.astype(bool), empty.astype(bool))
        both = self.frame_features(context, np.concatenate([track, track]), np.concatenate([begin, end]))
        at_begin, at_end = both[:count], both[count:]
        described = np.concatenate([at_begin, at_end, at_begin * at_end], axis=1)
        hidden = gelu(described @ self.hidden_weight + self.hidden_bias)
        velocity_logits = hidden[:, : self.hidden_size] @ self.velocity_weight + self.velocity_bias
        position_logits = hidden[:, self.hidden_size :] @ self.position_weight + self.position_bias
        shifts = np.clip((continuous_bernoulli_mean(position_logits[:, :2]) - 0.5) / POSITION_SPREAD, -0.5, 0.5)
        return NoteAttributes(
            velocity=np.argmax(velocity_logits, axis=1).astype(np.int64),
            onset_shift=shifts[:, 0],
            offset_shift=shifts[:, 1],
            onset_present=position_logits[:, 2] > 0,
            offset_present=position_logits[:, 3] > 0,
        )
