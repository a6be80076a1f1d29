"""``transcribe_drums``: a drum recording in, General MIDI drum notes out, streamed chunk by chunk.

Audio is read at 44.1 kHz, turned into a log-band spectrogram (``spectrum.py``), factorised a chunk at
a time against the kit's templates (``nmf.py``, templates from ``templates.py``), and each group's
onsets are picked from its activations (``onsets.py``). Memory stays bounded: one chunk of spectrogram
and activations, plus the candidate onsets, whatever the recording's length.
"""

from __future__ import annotations

import time

import numpy as np

from ..audio import AudioStream
from ..instruments import Family
from ..options import TranscriptionOptions, low_rate_drums_note
from ..transcription import NoteEvent, Track, Transcription
from .kit import GROUPS, KIT
from .nmf import semi_adaptive
from .onsets import LOUD_PERCENTILE, Candidates, Hit, OnsetPicker
from .settings import DrumSettings
from .spectrum import FRAME_RATE, SAMPLE_RATE, Spectrogram
from .templates import kit_templates

MODEL_NAME = "midiscribe-drums-nmf"


def transcribe_drums(
    source,
    options: TranscriptionOptions | None = None,
    *,
    settings: DrumSettings | None = None,
    max_duration_s: float | None = None,
    progress=None,
    name: str = "drums",
) -> Transcription:
    """Transcribe a drum recording (a path, bytes or a binary file object) to a one-track transcription.

    ``progress(seconds_done, total_seconds_or_None)`` is called as the audio is processed; ``name`` is
    the track's name. Raises the :mod:`midiscribe.engine.errors` types for bad input.
    """
    options = options or TranscriptionOptions()
    settings = settings or DrumSettings()
    started = time.perf_counter()
    candidates, duration_s, sample_rate = drum_candidates(source, settings, max_duration_s=max_duration_s,
                                                         progress=progress)
    notes = hits_to_notes(candidates.kept(settings), settings, duration_s)
    timings = {"total_s": time.perf_counter() - started}
    track = Track.for_family(name, Family.DRUMS, notes, MODEL_NAME)
    notice = low_rate_drums_note(sample_rate)
    return Transcription(notes=notes, duration_s=duration_s, options=options, model_name=MODEL_NAME,
                         timings=timings, tracks=(track,), family=Family.DRUMS, notices=(notice,) if notice else ())


def drum_candidates(source, settings: DrumSettings, *, max_duration_s: float | None = None,
                    progress=None) -> tuple[Candidates, float, int]:
    """Every candidate onset of the recording (before thresholds), the recording's duration and its own
    sample rate."""
    from threadpoolctl import threadpool_limits

    prior = kit_templates()
    sparsity = np.array([settings.sparsity.get(piece.name, 0.0) for piece in KIT], dtype=np.float32)
    adaptability = np.array([settings.adaptability.get(piece.name, 1.0) for piece in KIT], dtype=np.float32)
    picker = OnsetPicker(settings)
    frames = 0
    # The factorisation's products are small: BLAS threads would only contend with each other and with
    # the other stems' models (measured: 25x slower on a loaded 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"), \
            AudioStream(source, max_duration_s=max_duration_s, sample_rate=SAMPLE_RATE) as audio:
        total_s = audio.info.duration_s
        for spectrum in Spectrogram().chunks(audio.blocks(), settings.chunk_frames):
            _, activations = semi_adaptive(spectrum, prior, settings.iterations, settings.adapt_power, sparsity,
                                           adaptability)
            picker.add(activations, spectrum)
            frames += spectrum.shape[1]
            if progress is not None:
                progress(min(frames / FRAME_RATE, total_s or float("inf")), total_s)
        duration_s = audio.decoded_frames / audio.info.sample_rate
    return picker.finish(), duration_s, audio.info.sample_rate


def hits_to_notes(hits: list[Hit], settings: DrumSettings, duration_s: float) -> list[NoteEvent]:
    """Notes on each piece's GM key; velocity from onset strength against the loudest hits of the group
    it was measured in (the ``LOUD_PERCENTILE`` of their strengths, written at full velocity)."""
    if not hits:
        return []
    strengths = np.array([hit.strength for hit in hits])
    groups = np.array([GROUPS.index(hit.measured_in or KIT[hit.piece].group) for hit in hits])
    reference = np.ones(len(GROUPS))
    for group in np.unique(groups):
        reference[group] = np.percentile(strengths[groups == group], LOUD_PERCENTILE)
    # MIDI velocity is closer to loudness than to amplitude: the square root spreads soft hits out.
    amplitudes = np.clip(np.sqrt(strengths / reference[groups]), 1 / 127, 1.0)
    starts = np.maximum(0.0, np.array([hit.frame for hit in hits]) / FRAME_RATE + settings.onset_offset_s)
    keys = np.array([KIT[hit.piece].key for hit in hits])
    ends = np.minimum(starts + settings.note_length_s, max(duration_s, float(starts.max()) + settings.note_length_s))
    for key in np.unique(keys):
        same = np.flatnonzero(keys == key)
        # A note ends before the next hit of its key starts, so MIDI readers never see them overlap.
        ends[same[:-1]] = np.minimum(ends[same[:-1]], starts[same[1:]])
    return [
        NoteEvent(start_s=float(start), end_s=float(max(end, start + 1e-3)), pitch=int(key), amplitude=float(amplitude))
        for start, end, key, amplitude in zip(starts, ends, keys, amplitudes, strict=True)
    ]
