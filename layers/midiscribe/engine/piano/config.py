"""transkun 2.0's configuration (its ``2.0.conf``) and the shapes that follow from it, shared by every part."""

from __future__ import annotations

import math

SAMPLE_RATE = 44100
WINDOW_SIZE = 4096
HOP_SIZE = 1024
N_MELS = 229
N_WINDOWS = 6  # Hann plus five learned Gaussians
SEGMENT_SAMPLES = math.ceil(16 * SAMPLE_RATE)
SEGMENT_FRAMES = math.ceil(SEGMENT_SAMPLES / HOP_SIZE) + 1  # 691
TARGET_PITCHES = (-64, -67, *range(21, 109))  # negative: a pedal's controller number
N_TRACKS = len(TARGET_PITCHES)  # 90
BASE_SIZE = 64
MODEL_SIZE = 4 * BASE_SIZE  # 256
N_HEADS = 8
HEAD_SIZE = MODEL_SIZE // N_HEADS
N_LAYERS = 6
TIME_PATCH = 8  # frames per transformer time step
UPSAMPLE_PHASES = TIME_PATCH
SCORE_SIZE = MODEL_SIZE  # query and key size of the interval scorer
# The downsampling stack: padding (2, 1) in frequency and (4, 3) in time, then 3×3 convolutions
# (padding 1) with these (time, frequency) strides.
DOWNSAMPLE_STRIDES = ((2, 1), (2, 2), (2, 2), (1, 1))


def conv_out(length: int, stride: int, pad: int = 1) -> int:
    return (length + 2 * pad - 3) // stride + 1


def token_grid() -> tuple[int, int]:
    """(time steps, frequency bands) of the transformer's spectral tokens, before the aggregation ones."""
    time, freq = SEGMENT_FRAMES + 7, N_MELS + 3
    for stride_t, stride_f in DOWNSAMPLE_STRIDES:
        time, freq = conv_out(time, stride_t), conv_out(freq, stride_f)
    return time, freq


STEPS, BANDS = token_grid()  # 88, 58
