"""Small numerical functions the piano model needs, vectorised in numpy (no SciPy)."""

from __future__ import annotations

import numpy as np


def erf(x: np.ndarray) -> np.ndarray:
    """The error function in float64, to a fractional error below 1.2e-7 (Numerical Recipes' ``erfcc``).

    Plenty for a GELU whose result goes through float32 layers and an argmax.
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    polynomial = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    complement = t * np.exp(polynomial)
    return np.where(x >= 0, 1.0 - complement, complement - 1.0)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x · Φ(x)``, as torch's ``nn.GELU()`` (computed in float64, returned as ``x``'s dtype)."""
    x = np.asarray(x)
    result = 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    return result.astype(x.dtype, copy=False) if np.issubdtype(x.dtype, np.floating) else result


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


# torch.distributions.ContinuousBernoulli's region around p = 0.5 where its closed-form mean is unstable.
_UNSTABLE = (0.499, 0.501)


def continuous_bernoulli_mean(logits: np.ndarray) -> np.ndarray:
    """Mean of the continuous Bernoulli distribution with these logits (torch's formula and Taylor patch)."""
    # torch clamps probabilities a float32 epsilon away from 0 and 1.
    tiny = float(np.finfo(np.float32).eps)
    p = np.clip(sigmoid(logits), tiny, 1.0 - tiny)
    stable = (p <= _UNSTABLE[0]) | (p > _UNSTABLE[1])
    cut = np.where(stable, p, _UNSTABLE[0])
    closed_form = cut / (2.0 * cut - 1.0) + 1.0 / (np.log1p(-cut) - np.log(cut))
    x = p - 0.5
    taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x**2) * x
    return np.where(stable, closed_form, taylor)
