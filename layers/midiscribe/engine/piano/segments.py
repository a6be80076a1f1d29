"""Cutting a stream into transkun's overlapping 16-second segments, and stitching their notes back together.

transkun (``TransKun.transcribe``) pads ``16 - hop`` seconds of silence at both ends, takes a segment
every ``hop`` seconds (rounded up to whole frames) and decodes each one with every track's path
starting where that track's last finished interval of the previous segment ended. Each segment's
intervals become notes in absolute time; a note whose onset lies on the segment's first frame (and
that the model does not call a real onset) continues the previous segment's note of that pitch, a
note with a real onset that overlaps the previous note of its pitch replaces it. At the end, notes
without an offset are dropped, except each pitch's last, and overlaps between notes of one pitch are
cut. The same rules are kept here for any hop; transkun's own is 8 seconds.

The stream is read block by block: at most one segment and one block of audio are held at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .config import HOP_SIZE, SAMPLE_RATE, SEGMENT_SAMPLES, TARGET_PITCHES
from .decode import Intervals
from .heads import NoteAttributes

SEGMENT_SECONDS = 16.0
FRAME_SECONDS = HOP_SIZE / SAMPLE_RATE
# transkun's frame index for "the segment's end" when deciding whether an offset is real.
LAST_FRAME = round(SEGMENT_SAMPLES / HOP_SIZE)
# A note is at least this long once its start has been pushed past the previous note's end.
MIN_NOTE_SECONDS = 1e-8


@dataclass(frozen=True)
class SegmentPlan:
    """Where segments start for a given hop (seconds), in samples of the padded signal."""

    hop_seconds: float

    def __post_init__(self):
        if not 0 < self.hop_seconds <= SEGMENT_SECONDS:
            raise ValueError(f"the segment hop must be in (0, {SEGMENT_SECONDS}] seconds, not {self.hop_seconds}")

    @property
    def padding_seconds(self) -> float:
        return SEGMENT_SECONDS - self.hop_seconds

    @property
    def padding_samples(self) -> int:
        return math.ceil(self.padding_seconds * SAMPLE_RATE)

    @property
    def hop_samples(self) -> int:
        return math.ceil(self.hop_seconds * SAMPLE_RATE / HOP_SIZE) * HOP_SIZE

    @property
    def hop_frames(self) -> int:
        return self.hop_samples // HOP_SIZE

    @property
    def first_start_frame(self) -> int:
        """Where paths start in the first segment: the first frame of real audio."""
        return math.floor(self.padding_seconds * SAMPLE_RATE / HOP_SIZE)

    def segment_count(self, audio_samples: int) -> int:
        """How many segments :func:`segments` yields: those that start before the audio's end."""
        return math.ceil((audio_samples + self.padding_samples) / self.hop_samples)


def segments(blocks: Iterable[np.ndarray], channels: int, plan: SegmentPlan) -> Iterator[tuple[float, np.ndarray]]:
    """``(start time in seconds, (channels, SEGMENT_SAMPLES) float32)`` for each segment of the padded stream.

    ``blocks`` are (samples, channels) float32 arrays at 44.1 kHz. Yields each segment as soon as
    its audio has arrived; the array is reused, so it is valid until the next one is yielded.
    """
    pending = [np.zeros((channels, plan.padding_samples), dtype=np.float32)]
    pending_samples = plan.padding_samples
    segment = np.zeros((channels, SEGMENT_SAMPLES), dtype=np.float32)
    start = 0  # of the next segment, in samples of the padded signal
    buffered_from = 0  # padded-signal position of pending[0][:, 0]

    def take() -> np.ndarray:
        """The next segment from ``pending`` (zero-filled past its end), then drop what is no longer needed."""
        nonlocal pending, pending_samples, buffered_from, start
        joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
        offset = start - buffered_from
        available = joined[:, offset : offset + SEGMENT_SAMPLES]
        segment[:, : available.shape[1]] = available
        segment[:, available.shape[1] :] = 0.0
        start += plan.hop_samples
        keep_from = min(start - buffered_from, joined.shape[1])
        pending = [joined[:, keep_from:]]
        pending_samples = pending[0].shape[1]
        buffered_from += keep_from
        return segment

    for block in blocks:
        pending.append(np.ascontiguousarray(block.T, dtype=np.float32))
        pending_samples += block.shape[0]
        while buffered_from + pending_samples >= start + SEGMENT_SAMPLES:
            began = start
            yield (began - plan.padding_samples) / SAMPLE_RATE, take()
    audio_end = buffered_from + pending_samples
    pending.append(np.zeros((channels, plan.padding_samples), dtype=np.float32))
    pending_samples += plan.padding_samples
    # transkun also runs the segments that start past the audio's end, all padding: silence, which
    # gives no notes and no pedals, so they are not computed (one segment in seven on 30 s).
    while start < audio_end:
        began = start
        yield (began - plan.padding_samples) / SAMPLE_RATE, take()


@dataclass
class _Event:
    start: float
    end: float
    pitch: int
    velocity: int
    has_onset: bool
    has_offset: bool


def segment_events(intervals: Intervals, attributes: NoteAttributes, begin_time: float) -> tuple[list[_Event], np.ndarray]:
    """A segment's intervals as events in absolute time, and each track's last finished end frame."""
    track, begin, end = intervals.track, intervals.begin, intervals.end
    has_onset = (begin > 0) | attributes.onset_present
    has_offset = (end < LAST_FRAME) | attributes.offset_present
    last_finished = np.zeros(len(TARGET_PITCHES), dtype=np.int64)
    np.maximum.at(last_finished, track[has_offset], end[has_offset])
    starts = (begin + attributes.onset_shift) * FRAME_SECONDS
    ends = (end + attributes.offset_shift) * FRAME_SECONDS
    events = []
    previous_track, last_end = -1, 0.0
    for index in range(len(track)):
        # A track's notes do not overlap: each starts no earlier than the previous one ended.
        if track[index] != previous_track:
            previous_track, last_end = track[index], 0.0
        start = max(float(starts[index]), last_end)
        stop = max(float(ends[index]), start + MIN_NOTE_SECONDS)
        last_end = stop
        start_abs = max(start + begin_time, 0.0)
        events.append(_Event(start_abs, max(stop + begin_time, start_abs), TARGET_PITCHES[track[index]],
                             int(attributes.velocity[index]), bool(has_onset[index]), bool(has_offset[index])))
    events.sort(key=lambda event: (event.start, event.end, event.pitch))
    return events, last_finished


@dataclass
class Stitcher:
    """Joins the segments' events into one list of notes per pitch (transkun's ``mergeIncompleteEvent``)."""

    plan: SegmentPlan
    by_pitch: dict[int, list[_Event]] = field(default_factory=dict)
    start_frames: np.ndarray | None = None

    def __post_init__(self):
        self.start_frames = np.full(len(TARGET_PITCHES), self.plan.first_start_frame, dtype=np.int64)

    def add(self, events: list[_Event], last_finished: np.ndarray) -> None:
        for event in events:
            previous = self.by_pitch.get(event.pitch)
            if previous and event.start < previous[-1].end:
                if event.has_onset:
                    previous[-1] = event
                else:  # the same note, carried on from the previous segment
                    previous[-1].has_offset = event.has_offset
                    previous[-1].end = max(event.end, previous[-1].end)
                continue
            if event.has_onset:
                self.by_pitch.setdefault(event.pitch, []).append(event)
        self.start_frames = np.maximum(last_finished - self.plan.hop_frames, 0)

    def finish(self) -> list[_Event]:
        """All events with an offset, sorted by (start, end, pitch), overlaps within a pitch cut."""
        for events in self.by_pitch.values():
            if events:
                events[-1].has_offset = True
        kept = sorted((event for events in self.by_pitch.values() for event in events if event.has_offset),
                      key=lambda event: (event.start, event.end, event.pitch))
        last_of_pitch: dict[int, _Event] = {}
        for event in kept:
            previous = last_of_pitch.get(event.pitch)
            if previous is not None and previous.end > event.start:
                previous.end = event.start
            last_of_pitch[event.pitch] = event
        return sorted((event for event in kept if event.start < event.end),
                      key=lambda event: (event.start, event.end, event.pitch))
