"""The drum transcriber's settings. Chosen on the tuning half of ``bench/drums.py`` (see the README)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def _per_group(**values: float) -> dict[str, float]:
    return dict(values)


@dataclass(frozen=True)
class DrumSettings:
    # The factorisation (nmf.py).
    iterations: int = 40
    adapt_power: float = 2.0
    sparsity: dict[str, float] = field(default_factory=lambda: {
        "low_tom": 1.0, "mid_tom": 1.0, "high_tom": 1.0})
    # Frames factorised at a time: about 24 s, so an hour of audio never sits in memory whole.
    chunk_frames: int = 2048
    # Picking onsets (onsets.py): a group's onset strength must reach this share of the recording's
    # level (the 99th percentile of the summed activations over all frames).
    threshold: dict[str, float] = field(default_factory=lambda: _per_group(
        kick=0.10, snare=0.56, hihat=0.025, tom=0.0063, crash=0.089, ride=0.032))
    # A snare hit with no kick, tom or crash onset within mask_window_s (whose sound leaks into the
    # snare's template and makes ``threshold`` necessary) needs only threshold_alone: ghost notes are
    # ten times quieter than accents.
    threshold_alone: dict[str, float] = field(default_factory=lambda: {"snare": 0.045})
    masked_by: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"snare": ("kick", "tom", "crash")})
    mask_window_s: float = 0.025
    level_percentile: float = 99.0
    peak_window_s: float = 0.035  # an onset is the strongest within this distance either side
    # How much of an onset's rise is left this long after it (see onsets.py): a hi-hat ringing at least
    # open_hat_ratio is open; a group in minimum_ring must ring at least that much to count.
    ring_probe_s: float = 0.1
    open_hat_ratio: float = 0.35
    minimum_ring: dict[str, float] = field(default_factory=lambda: {"crash": 0.2, "ride": 0.1})
    onset_offset_s: float = -0.010  # added to every onset time: the peaks come about 10 ms after the hits
    note_length_s: float = 0.1  # a drum note's written length (shortened before the next hit of its key)

    @classmethod
    def with_overrides(cls, overrides: dict[str, str]) -> DrumSettings:
        """Settings with ``{"iterations": "30", "threshold.kick": "0.2"}`` applied (for tuning runs)."""
        settings = cls()
        changes: dict[str, object] = {}
        for name, text in overrides.items():
            field_name, _, key = name.partition(".")
            current = getattr(settings, field_name)
            if key:
                changes[field_name] = {**changes.get(field_name, current), key: float(text)}
            else:
                changes[field_name] = type(current)(text)
        return dataclasses.replace(settings, **changes)
