"""What an audio file's header declares (sample rate, channels, length), read without decoding, and
the limits the engine holds every input to.

Decoders trust these numbers and size their buffers by them, so a few hundred bytes can declare an
hour of 384 kHz, 8-channel audio. The API reads the header when a file is submitted and refuses such
a file at once; the decoder (``midiscribe.engine.audio``) applies the same check when it opens a file,
whatever the route it came by. Plain Python and ``struct`` only: the API's functions carry no audio
libraries.

Read here: WAV (RIFF, RF64), AIFF/AIFC, FLAC (also behind an ID3 tag) and Ogg (Vorbis, Opus; no
length). Anything else returns None and is left to the decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AudioTooLongError, CorruptAudioError, NoAudioError, UnsupportedAudioError

# What the engine reads. Below 4 kHz no musical pitch survives; above 192 kHz (the highest studio
# rate) a file only costs memory; 8 channels is 7.1 surround.
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 8
# Beyond these no audio format goes (768 kHz is the highest rate in use; WAV counts channels in 16 bits, but
# 256 is already far past any file): a header that declares more, or none, is damaged, not unusual.
DAMAGED_SAMPLE_RATE = 1_000_000
DAMAGED_CHANNELS = 256
# Enough of the file's start to find its format chunk behind metadata.
HEADER_BYTES = 64 * 1024

_WAVE_EXTENSIBLE = 0xFFFE
_PCM_FORMATS = {1, 3, _WAVE_EXTENSIBLE}  # integer PCM, float PCM, extensible (PCM in practice)
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # written while streaming: the size was never filled in
# Chunk headers read past HEADER_BYTES when looking for the data chunk: real files have a handful.
_MAX_CHUNKS_PAST_HEAD = 1000


@dataclass(frozen=True)
class DeclaredAudio:
    """What a header says, before anything is decoded."""

    container: str  # "WAV", "AIFF", "FLAC", "Ogg"
    sample_rate: int
    channels: int
    frames: int | None  # None when the header does not say

    @property
    def duration_s(self) -> float | None:
        if self.frames is None or self.sample_rate <= 0:
            return None
        return self.frames / self.sample_rate


def read_header(head: bytes, total_size: int | None = None) -> DeclaredAudio | None:
    """What ``head`` (a file's first bytes; HEADER_BYTES is plenty) declares; None for other formats.

    ``total_size`` (the whole file's) stands in for a WAV or AIFF data size that was never written.
    """
    head = _after_id3(head)
    try:
        if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
            return _wav(head, total_size)
        if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            return _aiff(head, total_size)
        if head[:4] == b"fLaC":
            return _flac(head)
        if head[:4] == b"OggS":
            return _ogg(head)
    except (struct.error, IndexError):
        return None  # cut short inside a chunk: the decoder says what is wrong with it
    return None


def check_declared(declared: DeclaredAudio, name: str, *, max_duration_s: float | None) -> None:
    """Refuse what the engine will not decode: a sample rate or channel count out of range, no samples at
    all (a header with an empty data chunk), or too long."""
    check_format(name, declared.sample_rate, declared.channels)
    if declared.frames == 0:
        raise NoAudioError.zero_length(name)
    duration = declared.duration_s
    if duration is not None and max_duration_s is not None and duration > max_duration_s:
        raise AudioTooLongError.over(name, duration, max_duration_s)


def pcm_shortfall(head: bytes, total_size: int | None,
                  read_at: Callable[[int, int], bytes] | None = None) -> tuple[int, int] | None:
    """For WAV and AIFF: (declared, present) data bytes when the data chunk is cut short, else None.

    libsndfile quietly shortens such files to what is there; a user would rather know (``check_complete``).
    ``read_at(offset, size)`` reads the rest of the file: with it, chunk headers past ``head`` are read
    too (a recorder's metadata or cover art can put the data chunk beyond the first 64 KB).
    """
    if total_size is None or len(head) < 12:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        little, wanted = True, b"data"
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        little, wanted = False, b"SSND"
    else:
        return None
    offset, chunks_past_head = 12, 0
    while offset + 8 <= total_size:
        if offset + 8 <= len(head):
            chunk = head[offset : offset + 8]
        elif read_at is not None and chunks_past_head < _MAX_CHUNKS_PAST_HEAD:
            chunk, chunks_past_head = read_at(offset, 8), chunks_past_head + 1
            if len(chunk) < 8:
                return None
        else:
            return None
        chunk_id = chunk[:4]
        (size,) = struct.unpack("<I" if little else ">I", chunk[4:8])
        if chunk_id == wanted:
            present = total_size - (offset + 8)
            # 0 and 0xFFFFFFFF mean "written while streaming, size unknown".
            if size not in (0, 0xFFFFFFFF) and size > present:
                return size, max(present, 0)
            return None
        offset += 8 + size + (size & 1)
    return None


def check_complete(head: bytes, total_size: int | None, name: str,
                   read_at: Callable[[int, int], bytes] | None = None) -> None:
    """Raise :class:`CorruptAudioError` when a WAV or AIFF's data chunk is cut short (``pcm_shortfall``):
    checked before the declared length, which a cut-short file's header overstates."""
    shortfall = pcm_shortfall(head, total_size, read_at)
    if shortfall:
        declared, present = shortfall
        raise CorruptAudioError(
            f"{name} is truncated: its header announces {declared} bytes of audio but only "
            f"{present} are present. Re-export or re-upload the complete file."
        )


def check_format(name: str, sample_rate: int, channels: int) -> None:
    if not 0 < sample_rate < DAMAGED_SAMPLE_RATE or not 0 < channels < DAMAGED_CHANNELS:
        # Resampling or mixing down is no advice for a file whose header is garbage.
        raise CorruptAudioError(
            f"{name} has a damaged header: it declares {sample_rate} Hz and {channels} channels, which no audio "
            "has. Export or copy the file again from where it came from, and send that."
        )
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise UnsupportedAudioError(
            f"{name} declares a sample rate of {sample_rate} Hz; audio from {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} Hz is accepted. Resample it (e.g. to 44100 or 48000 Hz) and send it again."
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise UnsupportedAudioError(
            f"{name} declares {channels} channels; audio with 1 to {MAX_CHANNELS} channels is accepted. "
            "Mix it down (e.g. to stereo) and send it again."
        )


def _after_id3(head: bytes) -> bytes:
    """The bytes after an ID3v2 tag (FLAC and MP3 files may start with one)."""
    if head[:3] == b"ID3" and len(head) >= 10:
        size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        footer = 10 if head[5] & 0x10 else 0
        return head[10 + size + footer:]
    return head


def _chunks(head: bytes, little_endian: bool):
    """(id, offset of its data, declared size) of each chunk of a RIFF or IFF file's ``head``."""
    size_format = "<I" if little_endian else ">I"
    offset = 12
    while offset + 8 <= len(head):
        chunk_id = head[offset:offset + 4]
        (size,) = struct.unpack(size_format, head[offset + 4:offset + 8])
        yield chunk_id, offset + 8, size
        offset += 8 + size + (size & 1)


def _wav(head: bytes, total_size: int | None) -> DeclaredAudio | None:
    fmt = None
    data_size: int | None = None
    sample_count: int | None = None
    rf64_data_size: int | None = None
    for chunk_id, start, size in _chunks(head, little_endian=True):
        if chunk_id == b"ds64":
            _, rf64_data_size, _ = struct.unpack("<QQQ", head[start:start + 24])
        elif chunk_id == b"fmt ":
            fmt = struct.unpack("<HHIIHH", head[start:start + 16])
        elif chunk_id == b"fact":
            (sample_count,) = struct.unpack("<I", head[start:start + 4])
        elif chunk_id == b"data":
            data_size = rf64_data_size if (head[:4] == b"RF64" and size == 0xFFFFFFFF) else size
            if data_size in _UNKNOWN_SIZES:
                # Never filled in: what follows the header is the data, when the file's size is known.
                data_size = max(total_size - start, 0) if total_size is not None else None
            break
    if fmt is None:
        return None
    format_tag, channels, rate, _, block_align, _ = fmt
    frames = None
    if format_tag in _PCM_FORMATS and data_size is not None and block_align:
        frames = data_size // block_align
    elif sample_count:  # a fact chunk's 0 is left unfilled by some streaming encoders: unknown
        frames = sample_count
    return DeclaredAudio("WAV", rate, channels, frames)


def _aiff(head: bytes, total_size: int | None) -> DeclaredAudio | None:
    comm = None
    sound_bytes: int | None = None  # sample bytes in the SSND chunk, when known
    for chunk_id, start, size in _chunks(head, little_endian=False):
        if chunk_id == b"COMM" and comm is None:
            channels, frames, _ = struct.unpack(">hIh", head[start:start + 8])
            comm = _extended_to_int(head[start + 8:start + 18]), channels, frames
        elif chunk_id == b"SSND":
            if size in _UNKNOWN_SIZES:
                size = total_size - start if total_size is not None else None
            if size is not None:
                (offset,) = struct.unpack(">I", head[start:start + 4]) if len(head) >= start + 4 else (0,)
                sound_bytes = max(size - 8 - offset, 0)  # after the chunk's offset and block size fields
            break
    if comm is None:
        return None
    rate, channels, frames = comm
    if frames == 0 and sound_bytes != 0:
        # A streaming encoder (ffmpeg into a pipe) leaves COMM's frame count at 0 with samples behind it,
        # which libsndfile reads by the SSND chunk: the length is unknown, not zero.
        frames = None
    return DeclaredAudio("AIFF", rate, channels, frames)


def _extended_to_int(raw: bytes) -> int:
    """An 80-bit IEEE 754 extended float (AIFF's sample rate), as a whole number (huge ones capped)."""
    exponent, mantissa = struct.unpack(">HQ", raw)
    sign, exponent = exponent >> 15, exponent & 0x7FFF
    shift = exponent - 16383 - 63
    if shift > 64:
        value = 1 << 64  # far beyond any limit; the exact number does not matter
    else:
        value = mantissa << shift if shift >= 0 else mantissa >> -shift
    return -value if sign else value


def _flac(head: bytes) -> DeclaredAudio | None:
    # The first metadata block is STREAMINFO: 18 bytes of block and frame sizes, then 64 bits of
    # rate (20), channels - 1 (3), bits per sample - 1 (5) and total samples (36, 0 = unknown).
    if head[4] & 0x7F != 0:
        return None
    (packed,) = struct.unpack(">Q", head[18:26])
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    total = packed & ((1 << 36) - 1)
    return DeclaredAudio("FLAC", rate, channels, total or None)


def _ogg(head: bytes) -> DeclaredAudio | None:
    # The first page holds the codec's identification packet; its length needs the last page.
    segments = head[26]
    packet = head[27 + segments:]
    if packet[:7] == b"\x01vorbis":
        channels = packet[11]
        (rate,) = struct.unpack("<I", packet[12:16])
        return DeclaredAudio("Ogg", rate, channels, None)
    if packet[:8] == b"OpusHead":
        channels = packet[9]
        # Opus always decodes at 48 kHz; the header's rate is the original's, for information only.
        return DeclaredAudio("Ogg", 48_000, channels, None)
    return None
