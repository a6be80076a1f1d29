"""file_convert: decode any audio we can read, resample with soxr, write the target format with libsndfile.

Decoding keeps the file's own channels and rate (unlike the engine, which wants mono 22050 Hz):
libsndfile first, PyAV for the containers it cannot read (m4a/AAC, WebM, MP4). What cannot be
decoded raises the engine's error types, so the worker fails the task with the same messages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from midiscribe.engine.errors import AudioTooLongError, EmptyInputError, NoAudioError, NotAudioError

from .tasks import ConvertSpec

# libsndfile's format and subtype for each target; None bit depth means the format's default.
_FORMATS = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF", "ogg": "OGG", "mp3": "MP3"}
_PCM_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}
_LOSSY_SUBTYPES = {"ogg": "VORBIS", "mp3": "MPEG_LAYER_III"}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aiff": "audio/aiff",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
}


def _decode_with_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data, int(rate)


def _decode_with_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        streams = [stream for stream in container.streams if stream.type == "audio"]
        if not streams:
            raise ValueError("no audio stream in the file")
        stream = streams[0]
        # Resample to packed float32 so every codec's planar/integer layout comes out the same.
        resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=stream.rate)
        chunks = []
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray().reshape(-1, stream.channels))
        for converted in resampler.resample(None):
            chunks.append(converted.to_ndarray().reshape(-1, stream.channels))
        rate = int(stream.rate)
    data = np.concatenate(chunks) if chunks else np.zeros((0, 1), dtype=np.float32)
    return data.astype(np.float32, copy=False), rate


def decode(path: Path, *, max_duration_s: float | None = None) -> tuple[np.ndarray, int]:
    """(frames × channels float32, sample rate), or an engine error saying why the file is not usable."""
    if path.stat().st_size == 0:
        raise EmptyInputError("The file is empty (0 bytes): send the audio file's contents.")
    try:
        data, rate = _decode_with_soundfile(path)
    except Exception as first_error:  # libsndfile refuses many containers; PyAV gets the second try
        try:
            data, rate = _decode_with_av(path)
        except Exception:
            raise NotAudioError(
                f"The file could not be decoded as audio ({first_error}). Send WAV, FLAC, OGG, MP3, AIFF, "
                "M4A/AAC or WebM audio."
            ) from None
    if data.shape[0] == 0 or rate <= 0:
        raise NoAudioError("The file decodes but holds no audio samples.")
    duration_s = data.shape[0] / rate
    if max_duration_s is not None and duration_s > max_duration_s:
        raise AudioTooLongError(
            f"The audio is {duration_s:.0f} s long, more than this deployment's limit of {max_duration_s:.0f} s: "
            "cut it into shorter pieces."
        )
    return data, rate


def convert_file(source: Path, destination: Path, spec: ConvertSpec, *, max_duration_s: float | None) -> float:
    """Write ``source`` converted per ``spec`` to ``destination``; returns the audio's duration in seconds."""
    import soundfile
    import soxr

    data, rate = decode(source, max_duration_s=max_duration_s)
    if spec.target_sr and spec.target_sr != rate:
        data = soxr.resample(data, rate, spec.target_sr, quality="HQ").astype(np.float32, copy=False)
        rate = spec.target_sr
    if spec.target_format in _LOSSY_SUBTYPES:
        subtype = _LOSSY_SUBTYPES[spec.target_format]
    else:
        subtype = _PCM_SUBTYPES[spec.target_bit_depth or 16]
    # Resampling can overshoot full scale by a little; PCM writers would wrap instead of clipping.
    np.clip(data, -1.0, 1.0, out=data)
    soundfile.write(str(destination), data, rate, format=_FORMATS[spec.target_format], subtype=subtype)
    return data.shape[0] / rate
