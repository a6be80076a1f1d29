"""Step 3 for file_convert: the engine's decoder at the file's own channels and rate, resampled with
soxr if asked, written by libsndfile in the target format, block by block (never whole in memory),
and stopped as soon as the output would pass MAX_CONVERTED_BYTES.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

from midiscribe.domain import outputs
from midiscribe.domain.conversions import CONTENT_TYPES, MAX_CONVERTED_BYTES, MAX_CONVERTED_MB, ConvertSpec
from midiscribe.domain.tasks import Task

from ..config import Settings
from .errors import TaskInputError
from .fetch import FetchedInput, InputFetcher
from .jobs import JobResult, ResultFile

# libsndfile's container and sample format for each target; lossy formats have no bit depth.
_FORMATS = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF", "ogg": "OGG", "mp3": "MP3"}
_PCM_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}
_LOSSY_SUBTYPES = {"ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}
_RESAMPLE_QUALITY = "HQ"


def convert_file(
    source: Path, destination: Path, spec: ConvertSpec, *, max_duration_s: float | None, name: str | None = None,
    max_output_bytes: int = MAX_CONVERTED_BYTES,
) -> float:
    """Write ``source`` converted per ``spec`` to ``destination``; returns the audio's duration in seconds.

    Refuses what the engine refuses, with its messages (``name`` is how they call the file), and an
    output that grows past ``max_output_bytes`` (:class:`TaskInputError`).
    """
    import soundfile
    import soxr

    from midiscribe.engine.audio import AudioStream

    with AudioStream(source, max_duration_s=max_duration_s, name=name) as audio:
        rate, channels = audio.info.sample_rate, audio.info.channels
        target_rate = spec.target_sr or rate
        resampler = None
        if target_rate != rate:
            resampler = soxr.ResampleStream(rate, target_rate, channels, dtype="float32", quality=_RESAMPLE_QUALITY)
        subtype = _LOSSY_SUBTYPES.get(spec.target_format) or _PCM_SUBTYPES[spec.target_bit_depth or 16]
        frame_bytes = channels * spec.sample_bytes()
        written_frames = 0
        try:
            output = soundfile.SoundFile(destination, "w", samplerate=target_rate, channels=channels,
                                         format=_FORMATS[spec.target_format], subtype=subtype)
        except (soundfile.LibsndfileError, RuntimeError):
            advice = (spec.channel_problem(channels) or spec.rate_problem(rate)
                      or "choose wav or flac, or another target_sr.")
            raise TaskInputError(
                f"{spec.target_format} cannot hold {channels}-channel audio at {target_rate} Hz: {advice}",
                "UNSUPPORTED_CONVERSION",
            ) from None
        with output as written:
            for block in _blocks(audio, resampler, channels):
                written_frames += _write(written, block)
                if written_frames * frame_bytes > max_output_bytes:
                    raise TaskInputError(
                        f"The converted file would be larger than {MAX_CONVERTED_MB} MB, the most one conversion "
                        "writes: convert a shorter part, or choose a lower sample rate, bit depth or fewer channels.",
                        "OUTPUT_TOO_LARGE",
                    )
        return audio.decoded_frames / rate


def _blocks(audio: Any, resampler: Any, channels: int) -> Iterator[Any]:
    """The blocks to write: the decoder's, resampled when asked, then the resampler's last samples."""
    import numpy as np

    from midiscribe.engine.audio import finite_copy

    for block in audio.source_blocks():
        if not np.isfinite(block).all():
            # NaN or ±inf samples (float WAVs hold them) become silence, as a transcription reads them:
            # FLAC's encoder refused them with a bare AssertionError, and the resampler would spread them.
            block = finite_copy(block)
        yield resampler.resample_chunk(block) if resampler is not None else block
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)


def _write(destination: Any, block: Any) -> int:
    """Write ``block``; returns its frames."""
    import numpy as np

    # Resampling can overshoot full scale by a little; PCM writers would wrap instead of clipping. Samples
    # near float32's largest overflow the resampler to NaN, which FLAC's encoder refuses and LAME's
    # aborts the process on: they are written as silence.
    if block.shape[0]:
        destination.write(np.nan_to_num(block.clip(-1.0, 1.0), copy=False, nan=0.0))
    return block.shape[0]


@dataclass
class ConversionJob:
    settings: Settings
    _: KW_ONLY
    fetcher: InputFetcher

    def fetch(self, task: Task, workdir: Path) -> list[FetchedInput]:
        if task.convert is None:
            raise TaskInputError("The file_convert task has no target format.", "INVALID_INPUT")
        return [self.fetcher.fetch(task.source, workdir)]

    def run(self, task: Task, inputs: list[FetchedInput], workdir: Path) -> JobResult:
        if task.convert is None:  # fetch refused it already; kept so the check never depends on the caller
            raise TaskInputError("The file_convert task has no target format.", "INVALID_INPUT")
        [fetched] = inputs
        started = time.perf_counter()
        extension = task.convert.target_format
        local = workdir / f"{task.source.stem}-converted.{extension}"
        duration_s = convert_file(fetched.path, local, task.convert, max_duration_s=self.settings.max_duration_s,
                                  name=fetched.shown_name)
        return JobResult(
            files=[ResultFile(outputs.CONVERTED, local, extension, CONTENT_TYPES[extension])],
            audio_duration_s=duration_s,
            timings={"fetch_s": round(fetched.seconds, 4), "convert_s": round(time.perf_counter() - started, 4)},
        )
