"""file_convert: the formats a conversion can write, and what one conversion asks for.

The table below is the one statement of what each format can hold: the API validates requests
against it and documents it in the OpenAPI rules, and the worker picks its encoder from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Bit depths each target format can hold; None means the format has no bit depth (lossy).
CONVERT_FORMATS: dict[str, tuple[int, ...] | None] = {
    "wav": (16, 24, 32),
    "flac": (16, 24),
    "aiff": (16, 24, 32),
    "ogg": None,
    "mp3": None,
}
DEFAULT_FORMAT = "wav"
# Other spellings clients use for the same formats.
FORMAT_ALIASES = {"aif": "aiff", "oga": "ogg"}
BIT_DEPTHS = (16, 24, 32)
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192_000
# MPEG-1/2/2.5 layer III define only these rates.
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# The largest file one conversion writes. The worker converts in its /tmp (2 GB), which also holds
# the input (up to MaxUploadMB, 200 MB by default).
MAX_CONVERTED_MB = 1536
MAX_CONVERTED_BYTES = MAX_CONVERTED_MB * 1024 * 1024
CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aiff": "audio/aiff",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
}


MP3_MAX_CHANNELS = 2  # MPEG layer III is mono or stereo


@dataclass(frozen=True)
class ConvertSpec:
    """What a file_convert task produces."""

    target_format: str
    target_sr: int | None = None
    target_bit_depth: int | None = None

    def sample_bytes(self) -> int:
        """Bytes per sample of the output; lossy formats are counted as 16-bit PCM, which they stay below."""
        return (self.target_bit_depth or 16) // 8 if CONVERT_FORMATS[self.target_format] else 2

    def output_bytes(self, frames: int, source_rate: int, channels: int) -> int:
        """About how large the output of ``frames`` frames at ``source_rate`` is (headers aside)."""
        rate = self.target_sr or source_rate
        return int(frames * rate / max(source_rate, 1)) * channels * self.sample_bytes()

    def channel_problem(self, channels: int) -> str | None:
        """Why the target format cannot hold ``channels`` channels at any rate (None when it can)."""
        if self.target_format == "mp3" and channels > MP3_MAX_CHANNELS:
            return f"mp3 holds at most {MP3_MAX_CHANNELS} channels: choose wav, flac, aiff or ogg."
        return None

    def rate_problem(self, source_rate: int) -> str | None:
        """Why the target format cannot keep ``source_rate`` when no target_sr is asked (None when it can)."""
        if self.target_format == "mp3" and self.target_sr is None and source_rate not in MP3_SAMPLE_RATES:
            return (f"mp3 holds only {', '.join(map(str, MP3_SAMPLE_RATES))} Hz: give target_sr (44100 or 48000, "
                    "say), or choose wav, flac, aiff or ogg.")
        return None

    def to_item(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value is not None}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ConvertSpec:
        sr = item.get("target_sr")
        depth = item.get("target_bit_depth")
        return cls(
            target_format=str(item["target_format"]),
            target_sr=int(sr) if sr is not None else None,
            target_bit_depth=int(depth) if depth is not None else None,
        )
