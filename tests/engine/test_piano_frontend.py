"""The piano model's front end against transkun's steps written out plainly, and the frames two
overlapping segments share computed once with the same result."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from midiscribe.engine.piano.config import (
    HOP_SIZE,
    N_MELS,
    SAMPLE_RATE,
    SEGMENT_FRAMES,
    SEGMENT_SAMPLES,
    WINDOW_SIZE,
)
from midiscribe.engine.piano.frontend import (
    FIRST_WHOLE_FRAME,
    LAST_WHOLE_FRAME,
    FrontEnd,
    gaussian_windows,
    hann_window,
    mel_filterbank,
)
from midiscribe.engine.piano.segments import SegmentPlan, segments


@pytest.fixture(scope="module")
def front_end() -> FrontEnd:
    rng = np.random.default_rng(5)
    windows = np.concatenate([hann_window()[None], gaussian_windows(rng.normal(0, 1, 5), rng.normal(0, 1, 5))])
    return FrontEnd(windows, mel_filterbank())


def transkun_features(front_end: FrontEnd, segment: np.ndarray) -> np.ndarray:
    """transkun's front end step by step in float64: pad, frame, normalise all frames together (unbiased
    std), window, orthonormal FFT, power, mean over channels, mel, rescaled log."""
    padded = np.zeros((segment.shape[0], (SEGMENT_FRAMES - 1) * HOP_SIZE + WINDOW_SIZE))
    padded[:, WINDOW_SIZE // 2 : WINDOW_SIZE // 2 + SEGMENT_SAMPLES] = segment
    frames = np.stack([padded[:, i * HOP_SIZE : i * HOP_SIZE + WINDOW_SIZE] for i in range(SEGMENT_FRAMES)], axis=1)
    frames = (frames - frames.mean()) / (frames.std(ddof=1) + 1e-8)
    spectra = np.fft.rfft(frames[:, :, None, :] * front_end.windows.astype(np.float64), axis=-1, norm="ortho")
    power = (np.abs(spectra) ** 2).mean(axis=0)  # (frames, windows, bins)
    filterbank = np.zeros((WINDOW_SIZE // 2 + 1, N_MELS))
    filterbank[front_end.first_bin : front_end.stop_bin] = front_end.filterbank
    mel = (power @ filterbank).transpose(0, 2, 1)
    return ((np.log(mel + 1e-5) - math.log(1e-5)) / -math.log(1e-5))[None]


def stream_of(seconds: float, channels: int, seed: int) -> np.ndarray:
    """(samples, channels): decaying tones, noise and a DC offset, so that no two segments are alike."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = np.zeros((len(t), channels))
    for onset in np.arange(0.3, seconds, 0.7):
        audible = t >= onset
        tone = np.sin(2 * np.pi * rng.uniform(50, 3000) * (t - onset)) * np.exp(-3 * (t - onset))
        audio[audible] += rng.uniform(0.05, 0.3, channels) * tone[audible, None]
    audio += rng.normal(0, 0.003, audio.shape) + 0.01
    return audio.astype(np.float32)


def test_the_features_are_transkuns_front_end_with_the_normalisation_taken_after_the_fft(front_end):
    segment = stream_of(16.0, 2, seed=1)[:SEGMENT_SAMPLES].T.copy()

    features = front_end.features(segment)

    assert features.shape == (1, SEGMENT_FRAMES, N_MELS, 6) and features.dtype == np.float32
    reference = transkun_features(front_end, segment)
    assert np.abs(features - reference).max() < 2e-5


def test_the_spectra_are_numpys_float32_transform_to_the_bit(front_end, monkeypatch):
    # The front end transforms its windowed frames in float64 and rounds the spectra to complex64, which is
    # faster than numpy's float32 transform and, with numpy 2.5, gives the same bits: nothing downstream moves.
    segment = stream_of(16.0, 2, seed=3)[:SEGMENT_SAMPLES].T.copy()
    features = front_end.features(segment)
    rfft = np.fft.rfft

    def float32_rfft(a, *args, **kwargs):
        return rfft(np.asarray(a, dtype=np.float32), *args, **kwargs)

    monkeypatch.setattr(np.fft, "rfft", float32_rfft)
    assert np.array_equal(front_end.features(segment), features)


@pytest.mark.parametrize(("hop_seconds", "channels"), [(8.0, 2), (3.0, 1)])
def test_overlapping_segments_reuse_the_frames_they_share_with_the_same_features(front_end, hop_seconds, channels):
    plan = SegmentPlan(hop_seconds)
    blocks = np.array_split(stream_of(30.0, channels, seed=2), 9)
    shared, seen = None, 0
    for begin_time, segment in segments(blocks, channels, plan):
        start = round(begin_time * SAMPLE_RATE)
        if shared is not None:
            assert shared.next_start == start
            assert shared.spectra.shape[1] == LAST_WHOLE_FRAME + 1 - FIRST_WHOLE_FRAME - plan.hop_frames
        features, shared = front_end.segment_features(segment, start, shared, plan.hop_frames)
        np.testing.assert_allclose(features, front_end.features(segment), rtol=0, atol=2e-6)
        seen += 1
    assert seen >= 3


def test_the_shared_spectra_are_used_only_for_the_segment_they_were_kept_for(front_end):
    plan = SegmentPlan(8.0)
    audio = stream_of(25.0, 1, seed=3)
    first = audio[:SEGMENT_SAMPLES].T.copy()
    second = audio[plan.hop_samples : plan.hop_samples + SEGMENT_SAMPLES].T.copy()
    _, shared = front_end.segment_features(first, 0, None, plan.hop_frames)
    silenced = dataclasses.replace(shared, spectra=np.zeros_like(shared.spectra))

    used, _ = front_end.segment_features(second, plan.hop_samples, silenced, plan.hop_frames)
    elsewhere, _ = front_end.segment_features(second, plan.hop_samples + HOP_SIZE, silenced, plan.hop_frames)

    truth = front_end.features(second)
    reused_frames = slice(FIRST_WHOLE_FRAME, FIRST_WHOLE_FRAME + shared.spectra.shape[1])
    assert np.abs(used[0, reused_frames] - truth[0, reused_frames]).max() > 0.1  # the spectra kept were read
    np.testing.assert_array_equal(used[0, reused_frames.stop :], truth[0, reused_frames.stop :])
    np.testing.assert_array_equal(elsewhere, truth)  # kept for another start: not read
