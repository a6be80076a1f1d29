"""The transcriber's starting templates: each kit piece's signal model (``kit.py``) as the spectrogram sees it.

A template is the piece's one-shot passed through the same spectrogram as the recording and summed
over its first 150 ms, normalised to sum to 1. They are made at run time, the same on every run (the
noise is seeded), in a few milliseconds, and the factorisation then adapts them to the kit it hears.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .kit import KIT, Piece, one_shot
from .spectrum import FRAME_RATE, SAMPLE_RATE, spectrogram_of

TEMPLATE_S = 0.15
TEMPLATE_SEED = 20140901


@cache
def kit_templates(kit: tuple[Piece, ...] = KIT) -> np.ndarray:
    """(bands, pieces) templates, each column summing to 1. Treat as read-only (cached)."""
    rng = np.random.default_rng(TEMPLATE_SEED)
    frames = int(round(TEMPLATE_S * FRAME_RATE))
    columns = []
    for piece in kit:
        spectrum = spectrogram_of(one_shot(piece, SAMPLE_RATE, rng).astype(np.float32))
        column = spectrum[:, :frames].sum(axis=1)
        columns.append(column / column.sum())
    templates = np.stack(columns, axis=1).astype(np.float32)
    templates.flags.writeable = False
    return templates
