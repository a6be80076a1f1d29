"""Cutting a stream into the piano model's 16-second segments: where they start, what they hold, and
that none is computed for the padding past the audio's end."""

from __future__ import annotations

import numpy as np
import pytest

from midiscribe.engine.piano.config import SAMPLE_RATE, SEGMENT_SAMPLES
from midiscribe.engine.piano.segments import SegmentPlan, segments


def ramp_stream(seconds: float, channels: int = 2, block: int = 44100):
    """A stream whose sample values are their own positions (+1), so every slice says where it came from."""
    total = round(seconds * SAMPLE_RATE)
    signal = np.tile(np.arange(1, total + 1, dtype=np.float32)[:, None], (1, channels))
    signal[:, 1:] *= -1
    return signal, [signal[start:start + block] for start in range(0, total, block)]


@pytest.mark.parametrize(("seconds", "hop"), [(30.0, 8.0), (33.3, 8.0), (20.0, 14.0), (3.0, 8.0)])
def test_segments_hold_the_padded_signal_and_stop_at_the_audios_end(seconds, hop):
    plan = SegmentPlan(hop)
    signal, blocks = ramp_stream(seconds)
    padded = np.concatenate([np.zeros((plan.padding_samples, 2), np.float32), signal,
                             np.zeros((SEGMENT_SAMPLES + plan.padding_samples, 2), np.float32)]).T

    cut = [(begin, segment.copy()) for begin, segment in segments(blocks, 2, plan)]

    assert len(cut) == plan.segment_count(len(signal))
    for index, (begin, segment) in enumerate(cut):
        start = index * plan.hop_samples
        assert begin == pytest.approx((start - plan.padding_samples) / SAMPLE_RATE)
        np.testing.assert_array_equal(segment, padded[:, start:start + SEGMENT_SAMPLES])
        # Every segment holds some of the audio: none is padding alone.
        assert np.any(segment != 0)
    # The audio's last sample is in the last segment, and one more hop would start past the audio.
    last_start = (len(cut) - 1) * plan.hop_samples
    assert last_start < plan.padding_samples + len(signal) <= last_start + plan.hop_samples


def test_a_stream_ending_on_a_hop_boundary_gets_no_segment_of_padding_alone():
    plan = SegmentPlan(8.0)
    samples = 3 * plan.hop_samples - plan.padding_samples
    signal = np.ones((samples, 1), np.float32)

    cut = [segment.copy() for _, segment in segments([signal], 1, plan)]

    assert len(cut) == 3
    assert cut[-1][:, :plan.hop_samples].all()
