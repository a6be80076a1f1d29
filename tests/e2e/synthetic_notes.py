"""A synthetic notes document as large as an hour of music, for the explorer's tests and its bench."""

from __future__ import annotations

import random


def hour_of_notes(count: int = 50_000, seconds: float = 3600.0) -> dict:
    """A synthetic hour: two instruments, pitch bends on some notes, sustain and soft pedals, beats."""
    chooser = random.Random(15)
    instruments = [{"name": "Acoustic Grand Piano", "program": 0, "is_drum": False, "notes": []},
                   {"name": "Electric Bass", "program": 33, "is_drum": False, "notes": []}]
    for index in range(count):
        start = seconds * index / count
        bass = index % 4 == 0
        bends = [round(2 * chooser.uniform(-1, 1)) for _ in range(12)] if index % 10 == 0 else []
        instruments[bass]["notes"].append({
            "pitch": chooser.randint(28, 52) if bass else chooser.randint(55, 96),
            "start": round(start, 4), "end": round(start + chooser.uniform(0.1, 1.5), 4),
            "velocity": chooser.randint(20, 127), "pitch_bends": bends,
        })
    return {
        "format_version": 1, "model": "synthetic", "duration_s": seconds, "tempo_bpm": 120.0,
        "pitch_bend_unit": "third of a semitone per model frame", "model_frame_rate_hz": 86.1328,
        "instruments": instruments,
        "pedals": [{"controller": 64 if n % 3 else 67, "start": n * 4.0, "end": n * 4.0 + 3.0} for n in range(900)],
        "beats": [n * 0.5 for n in range(7200)], "downbeats": [n * 2.0 for n in range(1800)],
    }
