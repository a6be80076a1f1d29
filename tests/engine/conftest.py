"""Fixtures for the engine tests; the audio is synthesised (see ``synthesised.py``), never committed."""

from __future__ import annotations

import numpy as np
import pytest
from synthesised import PHRASE, PHRASE_DURATION_S, encode_soundfile, synthesise


@pytest.fixture(scope="session")
def phrase_samples() -> np.ndarray:
    return synthesise(PHRASE, PHRASE_DURATION_S)


@pytest.fixture(scope="session")
def phrase_wav(phrase_samples) -> bytes:
    return encode_soundfile(phrase_samples, 44100, "WAV", "PCM_16")
