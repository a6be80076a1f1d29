"""Semi-adaptive, sparse non-negative matrix factorisation of a drum spectrogram (KL divergence).

``V ≈ W H``: ``W`` holds one spectral template per kit piece, ``H`` how strongly each piece sounds in
each frame. Following Dittmar & Gärtner (DAFx 2014), the templates start from the signal models and are
allowed to drift towards the kit actually heard, but only gradually: after each update of ``W`` it is
blended back towards its prior with a weight that falls from 1 to 0 over the iterations
(``alpha = (1 - i / n) ** adapt_power``), so that early iterations decide which piece explains which
energy and later ones refine the shapes.

Toms share their range with the kick and the snare's head, and cymbals theirs with hi-hats, but they
are played far less often; an L1 penalty on a piece's activations (``sparsity``, in units of the KL
gradient, so independent of the recording's level) makes the factorisation use it only where it
explains the sound clearly better than the common pieces do.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-9


def semi_adaptive(V: np.ndarray, prior: np.ndarray, iterations: int, adapt_power: float,
                  sparsity: np.ndarray, adaptability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, H) for ``V`` (bands, frames): templates held near ``prior`` (bands, pieces), columns summing to 1.

    ``adaptability`` (per piece, 0..1) scales how far each template may drift: 0 keeps it as its model.

    ``H`` is in the spectrogram's units: a column of W sums to 1, so ``H[k, t]`` is the magnitude piece
    ``k`` contributes to frame ``t``.
    """
    W = prior.astype(np.float32, copy=True)
    H = np.maximum(W.T @ V, EPSILON) / W.shape[0]
    penalty = 1.0 + np.asarray(sparsity, dtype=np.float32)[:, None]  # W's columns sum to 1
    freedom = np.asarray(adaptability, dtype=np.float32)[None, :]
    for iteration in range(iterations):
        H *= (W.T @ (V / (W @ H + EPSILON))) / penalty
        W *= ((V / (W @ H + EPSILON)) @ H.T) / (H.sum(axis=1)[None, :] + EPSILON)
        W /= W.sum(axis=0, keepdims=True) + EPSILON
        alpha = (1.0 - (iteration + 1) / iterations) ** adapt_power if adapt_power > 0 else 0.0
        drift = (1.0 - alpha) * freedom
        W = (1.0 - drift) * prior + drift * W
    # One last update of H for the final templates, so H and W agree.
    H *= (W.T @ (V / (W @ H + EPSILON))) / penalty
    return W.astype(np.float32), H.astype(np.float32)
