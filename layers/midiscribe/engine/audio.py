"""Audio in: any file the user has, out: mono float32 blocks at the model's 22050 Hz, streamed.

This is the project's one decoder: transcription reads the model's blocks, file conversion reads
the same stream at the file's own channels and rate (``AudioStream.source_blocks``), so both
refuse the same inputs with the same messages.

``soundfile`` (libsndfile) reads WAV, FLAC, OGG/Vorbis/Opus, MP3 and AIFF; PyAV (FFmpeg) reads
what libsndfile cannot (m4a/AAC, WebM, MP4 audio, phone recordings). Both are read block by block
and resampled with a streaming ``soxr`` resampler, so a long file is never held in memory whole.

basic-pitch loads with ``librosa.load(sr=22050)``: channel mean, then soxr at "HQ" quality in one
shot, then padded or trimmed to ``ceil(n * 22050 / rate)`` samples. We do the same, streamed.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .audio_header import (
    HEADER_BYTES,
    DeclaredAudio,
    check_complete,
    check_declared,
    check_format,
    read_header,
)
from .constants import MODEL_SAMPLE_RATE
from .errors import (
    AudioDecodeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyInputError,
    NoAudioError,
    NotAudioError,
)

# soxr quality librosa's default ``res_type="soxr_hq"`` maps to.
RESAMPLE_QUALITY = "HQ"
# Source frames read per block: ~1.5 s at 44.1 kHz keeps decode buffers small and calls few.
READ_BLOCK_FRAMES = 1 << 16
# MP3 and some containers only estimate their length; below this share of it, the file was cut short.
TRUNCATION_TOLERANCE = 0.95

Source = "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO"

_SUPPORTED = "WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, M4A/AAC, MP4, WebM"


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about the audio before it is decoded."""

    sample_rate: int
    channels: int
    frames: int | None  # None when the container does not say
    decoder: str  # "soundfile" or "pyav"

    @property
    def duration_s(self) -> float | None:
        return None if self.frames is None else self.frames / self.sample_rate


class AudioStream:
    """An opened audio source; iterate :meth:`blocks` once for float32 blocks at ``sample_rate`` (22050 Hz,
    what the model hears, unless asked otherwise: the drum and piano transcribers listen at 44.1 kHz), mono
    unless ``mono=False`` keeps the channels; or :meth:`source_blocks` for the file's own channels and rate
    (what file conversion keeps).

    Use as a context manager so the file (and any spooled copy) is closed.
    """

    def __init__(self, source, *, max_duration_s: float | None = None, name: str | None = None,
                 sample_rate: int = MODEL_SAMPLE_RATE, mono: bool = True):
        self.max_duration_s = max_duration_s
        self.sample_rate = sample_rate
        self.mono = mono
        self.name = name or _describe(source)
        self._closers: list = []
        self._handle, self._path = self._open_source(source)
        self._start = 0 if self._handle is None else self._handle.tell()
        self._size = self._total_size() or 0
        head = self._peek(HEADER_BYTES)
        if not head:
            self.close()
            raise EmptyInputError(
                f"{self.name} is empty (0 bytes). Send the audio file itself, not an empty file."
            )
        kind = sniff_not_audio(head)
        if kind:
            self.close()
            raise NotAudioError(
                f"{self.name} is {kind}, not audio. Send an audio file ({_SUPPORTED})."
            )
        self._head = head
        declared = read_header(head, self._size)
        try:
            # A cut-short file is told as such before its header's length is held to the limit.
            check_complete(head, self._size, self.name, self._read_at)
        except AudioDecodeError:
            self.close()
            raise
        if declared is not None:
            # Before any decoder sizes its buffers by what the header claims.
            try:
                check_declared(declared, self.name, max_duration_s=max_duration_s)
            except AudioDecodeError:
                self.close()
                raise
        if head.startswith(b"OggS") and ogg_cut_mid_page(self._tail(1 << 16)):
            # Decoders quietly play an Ogg stream up to the cut; the user should know it is incomplete.
            self.close()
            raise CorruptAudioError(
                f"{self.name} is a truncated Ogg file (it stops in the middle of a page). "
                "Re-export or re-upload the complete file."
            )
        self._decoder = self._open_decoder(declared)
        self.info: AudioInfo = self._decoder.info
        self._check_declared_length()
        self.decoded_frames = 0  # source-rate frames decoded so far
        self.output_samples = 0  # 22050 Hz samples produced so far

    # -- opening -----------------------------------------------------------------------------------

    def _open_source(self, source) -> tuple[BinaryIO | None, str | None]:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return io.BytesIO(bytes(source)), None
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if not os.path.isfile(path):
                raise AudioDecodeError(f"{path} does not exist or is not a file. Check the path.")
            return None, path
        if hasattr(source, "read"):
            seekable = getattr(source, "seekable", lambda: False)()
            if seekable:
                return source, None
            # libsndfile and FFmpeg both seek while probing: spool pipes and sockets to disk first.
            spool = tempfile.TemporaryFile(prefix="midiscribe-audio-")
            shutil.copyfileobj(source, spool, 1 << 20)
            spool.seek(0)
            self._closers.append(spool.close)
            return spool, None
        raise TypeError(f"audio source must be a path, bytes or a binary file object, not {type(source).__name__}")

    def _peek(self, size: int) -> bytes:
        return self._read_at(0, size)

    def _read_at(self, offset: int, size: int) -> bytes:
        if self._path is not None:
            with open(self._path, "rb") as handle:
                handle.seek(offset)
                return handle.read(size)
        position = self._handle.tell()
        self._handle.seek(self._start + offset)
        data = self._handle.read(size)
        self._handle.seek(position)
        return data

    def _tail(self, size: int) -> bytes:
        return self._read_at(max(self._size - size, 0), size)

    def _total_size(self) -> int | None:
        if self._path is not None:
            return os.path.getsize(self._path)
        try:
            position = self._handle.tell()
            end = self._handle.seek(0, io.SEEK_END)
            self._handle.seek(position)
            return end - position
        except (OSError, ValueError):
            return None

    def _open_decoder(self, declared: DeclaredAudio | None):
        import soundfile

        target = self._path if self._path is not None else self._handle
        try:
            opened = soundfile.SoundFile(target)
        except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
            soundfile_error = f"soundfile: {exc}"
        else:
            if opened.frames or not (declared and declared.frames):
                return _SoundFileDecoder(opened, self.name)
            # A WAV whose data size was never written (0, by a recorder writing into a pipe) reads as empty in
            # libsndfile, though its samples follow the header; FFmpeg reads them to the end of the file.
            opened.close()
            soundfile_error = "soundfile: no frames, where the header's chunk sizes leave some"
        if self._handle is not None:
            self._handle.seek(self._start)
        try:
            return _PyAVDecoder(target, self.name)
        except NoAudioError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - FFmpeg raises many types; all mean "cannot read"
            self.close()
            detail = f"{soundfile_error}; pyav: {exc}"
            if looks_like_audio(self._head):
                raise CorruptAudioError.unreadable(self.name, detail) from None
            raise NotAudioError.unknown_format(self.name, _SUPPORTED, detail) from None

    def _check_declared_length(self) -> None:
        if self.info.frames == 0 and self.info.decoder == "soundfile":
            self.close()
            raise NoAudioError.zero_length(self.name)
        try:
            # What the decoder found, for the formats whose header read_header does not read.
            check_format(self.name, self.info.sample_rate, self.info.channels)
        except AudioDecodeError:
            self.close()
            raise
        duration = self.info.duration_s
        if duration is not None and self.max_duration_s is not None and duration > self.max_duration_s:
            self.close()
            raise AudioTooLongError.over(self.name, duration, self.max_duration_s)

    # -- reading -----------------------------------------------------------------------------------

    def source_blocks(self) -> Iterator[np.ndarray]:
        """float32 blocks of ``(frames, channels)`` at the file's own rate, checked as they are read.

        Each block is valid until the next one is read (decoders reuse their buffers). Raises the
        typed errors: too long (counted while decoding), no samples at all, or cut short.
        """
        rate = self.info.sample_rate
        limit = None if self.max_duration_s is None else math.floor(self.max_duration_s * rate)
        for block in self._decoder.blocks():
            if block.shape[0] == 0:
                continue
            self.decoded_frames += block.shape[0]
            if limit is not None and self.decoded_frames > limit:
                raise AudioTooLongError.over(self.name, self.decoded_frames / rate, self.max_duration_s, at_least=True)
            yield block
        if self.decoded_frames == 0:
            raise NoAudioError.zero_length(self.name)
        declared = self.info.frames
        if declared and self.decoded_frames < declared * TRUNCATION_TOLERANCE:
            raise CorruptAudioError(
                f"{self.name} is truncated or damaged: it announces {declared / rate:.1f} s of audio but only "
                f"{self.decoded_frames / rate:.1f} s could be decoded. Re-export or re-upload the complete file."
            )

    def blocks(self) -> Iterator[np.ndarray]:
        """Float32 blocks at :attr:`sample_rate`: 1-D when mono, else (samples, channels); raises the
        typed errors while reading."""
        import soxr

        rate = self.info.sample_rate
        channels = 1 if self.mono else self.info.channels
        resampler = None if rate == self.sample_rate else soxr.ResampleStream(
            rate, self.sample_rate, channels, dtype="float32", quality=RESAMPLE_QUALITY
        )
        for block in self.source_blocks():
            mono = to_mono(block) if self.mono else finite_copy(block)
            if resampler is not None:
                mono = resampler.resample_chunk(mono)
            if mono.shape[0]:
                self.output_samples += mono.shape[0]
                yield mono
        # librosa pads or trims the resampled signal to exactly ceil(n * ratio) samples; a streaming
        # resampler lags behind the one-shot one until it is flushed, so only the flush can overshoot.
        room = resampled_length(self.decoded_frames, rate, self.sample_rate) - self.output_samples
        shape = (0,) if self.mono else (0, channels)
        tail = np.zeros(shape, dtype=np.float32)
        if resampler is not None:
            tail = resampler.resample_chunk(tail, last=True)[: max(room, 0)]
        if tail.shape[0] < room:
            tail = np.concatenate([tail, np.zeros((room - tail.shape[0], *shape[1:]), dtype=np.float32)])
        if tail.shape[0]:
            self.output_samples += tail.shape[0]
            yield tail

    def close(self) -> None:
        decoder = getattr(self, "_decoder", None)
        if decoder is not None:
            decoder.close()
        for closer in self._closers:
            closer()
        self._closers = []

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def resampled_length(source_frames: int, source_rate: int, target_rate: int = MODEL_SAMPLE_RATE) -> int:
    """librosa's length after resampling: ``ceil(n * target_rate / rate)``."""
    if source_rate == target_rate:
        return source_frames
    return int(np.ceil(source_frames * (float(target_rate) / source_rate)))


def finite_copy(block: np.ndarray) -> np.ndarray:
    """A new float32 array of all channels, with NaN and ±inf replaced by silence (as in ``to_mono``)."""
    copy = np.array(block, dtype=np.float32, copy=True)
    if not np.isfinite(copy).all():
        np.nan_to_num(copy, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return copy


def to_mono(block: np.ndarray) -> np.ndarray:
    """A new array: the channel mean as librosa's ``to_mono`` computes it (channels summed in
    order in float32, then divided), with NaN and ±inf replaced by silence."""
    channels = block.shape[1]
    mono = block[:, 0].astype(np.float32, copy=True)
    for channel in range(1, channels):
        mono += block[:, channel]
    if channels > 1:
        mono /= channels
    if not np.isfinite(mono).all():
        # A non-finite sample would spread through the resampler's filter and the model's CQT.
        np.nan_to_num(mono, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return mono


class _SoundFileDecoder:
    def __init__(self, handle, name: str):
        self._file = handle
        self._name = name
        frames = handle.frames
        # libsndfile reports a huge sentinel for streams of unknown length.
        known = 0 <= frames < (1 << 62)
        self.info = AudioInfo(handle.samplerate, handle.channels, frames if known else None, "soundfile")

    def blocks(self) -> Iterator[np.ndarray]:
        """Views into one reused buffer: each block is valid until the next one is read."""
        import soundfile

        buffer = np.empty((READ_BLOCK_FRAMES, self.info.channels), dtype=np.float32)
        while True:
            try:
                block = self._file.read(dtype="float32", always_2d=True, out=buffer)
            except (soundfile.LibsndfileError, RuntimeError) as exc:
                raise CorruptAudioError.damaged_part_way(self._name, f"soundfile: {exc}") from None
            if block.shape[0] == 0:
                return
            yield block

    def close(self) -> None:
        self._file.close()


class _PyAVDecoder:
    def __init__(self, target, name: str):
        import av

        self._container = av.open(target, mode="r")
        try:
            audio_streams = self._container.streams.audio
            if not audio_streams:
                raise NoAudioError(f"{name} has no audio track. Send a file with sound in it.")
            self._stream = audio_streams[0]
            context = self._stream.codec_context
            rate = int(context.sample_rate or self._stream.rate or 0)
            channels = int(context.channels or 0)
            if rate <= 0 or channels <= 0:
                raise CorruptAudioError(f"{name} has an audio track without a sample rate or channels.")
            # Only the audio track's own length counts: a container's may be the video's.
            frames = None
            if self._stream.duration is not None and self._stream.time_base is not None:
                frames = int(round(float(self._stream.duration * self._stream.time_base) * rate))
            self.info = AudioInfo(rate, channels, frames, "pyav")
            self._name = name
        except Exception:
            self._container.close()
            raise

    def blocks(self) -> Iterator[np.ndarray]:
        import av

        rate = self.info.sample_rate
        channels = self.info.channels
        # Packed float at the stream's own rate and layout: soxr does the resampling, we do the mixing.
        converter = av.AudioResampler(format="flt", layout=self._stream.codec_context.layout, rate=rate)
        try:
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    for converted in converter.resample(frame):
                        yield converted.to_ndarray().reshape(-1, channels)
            for converted in converter.resample(None):
                yield converted.to_ndarray().reshape(-1, channels)
        except av.error.FFmpegError as exc:
            raise CorruptAudioError.damaged_part_way(self._name, f"pyav: {exc}") from None

    def close(self) -> None:
        self._container.close()


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "the input"


_NOT_AUDIO_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"MThd", "a MIDI file (midiscribe turns audio into MIDI; a MIDI file is already notes)"),
)


def sniff_not_audio(head: bytes) -> str | None:
    """Name what ``head`` is when it is clearly not audio (an image, a document, text), else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    for signature, kind in _NOT_AUDIO_SIGNATURES:
        if head.startswith(signature):
            return kind
    if looks_like_audio(head):
        return None
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # The peek may cut a multi-byte character in two: only that is forgiven.
            if exc.start < len(head) - 3:
                return None
            text = head[: exc.start].decode("utf-8")
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
        if text and printable >= 0.95 * len(text):
            return "a text file"
    return None


def looks_like_audio(head: bytes) -> bool:
    """Whether ``head`` starts like an audio or media container (to tell corrupt from not-audio)."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return True
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return True
    if head[:4] in (b"fLaC", b"OggS", b"caff", b".snd", b"wvpk", b"MAC ", b"\x1aE\xdf\xa3"):
        return True
    if head[:3] == b"ID3" or head[4:8] == b"ftyp":
        return True
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def ogg_cut_mid_page(tail: bytes) -> bool:
    """Whether the last Ogg page in ``tail`` (the file's last bytes) is missing part of its body."""
    page = tail.rfind(b"OggS")
    if page < 0:
        return False
    table_end = page + 27 + (tail[page + 26] if len(tail) > page + 26 else 0)
    if len(tail) < table_end:
        return True
    return len(tail) < table_end + sum(tail[page + 27 : table_end])
