"""Posteriorgrams to note events, with basic-pitch 0.4.0's semantics and our own, linear-time code.

What basic-pitch does, in order (``frames`` is the note posteriorgram, ``rem`` a copy of it that
notes "use up"):

1. Zero both posteriorgrams outside ``[minimum_frequency, maximum_frequency]``.
2. Onsets: the element-wise max of the onset posteriorgram and a frame-difference onset
   (``min`` of the 1- and 2-frame rises of ``frames``, negatives dropped, first two frames zero),
   the latter rescaled so its global max equals the onsets' global max.
3. Candidates: strict local maxima in time of those onsets that reach ``onset_threshold``.
4. From the latest candidate to the earliest (then highest pitch first): walk forward while
   ``rem`` has not stayed below ``frame_threshold`` for 11 frames, end after the last frame above
   it; keep notes longer than the minimum length and zero ``rem`` over the note at ±1 semitone.
5. Melodia trick: repeatedly take the strongest cell left in ``rem`` above ``frame_threshold`` and
   walk both ways the same way, zeroing as it goes; keep what is long enough.
6. Pitch bends: per frame, the argmax of the contour within ±25 bins (±8⅓ semitones) of the note's
   bin, weighted by a Gaussian (σ = 5 bins).

Step 5 as written is quadratic (a global argmax per note). Cells only ever go to zero, so visiting
every cell above the threshold once, strongest first with ties in row-major order, skipping cells
already zeroed, picks exactly the same cells in the same order.

Memory, for a recording streamed through :class:`PosteriorStore`: the note posteriorgram is kept
(float32, exactly as the model gave it); of the onset posteriorgram only the cells at or above the
onset threshold (no other value can change which candidates are found) and each frame's maximum;
of the contour only the bend each (frame, pitch) would get, as int8, and only near frames where
the note posteriorgram reaches the frame threshold (no note can reach further than that).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .options import LOWEST_MIDI, TranscriptionOptions

N_PITCHES = 88
N_CONTOUR_BINS = 264
CONTOUR_BINS_PER_SEMITONE = 3
ENERGY_TOLERANCE = 11  # frames a note may stay below the frame threshold and still go on
ONSET_DIFF_FRAMES = 2
BEND_RANGE_BINS = 25
BEND_UNKNOWN = -128  # int8 marker for bends never computed (no note can cover that cell)
SAMPLE_RATE = 22050
FFT_HOP = 256
FRAMES_PER_SECOND = SAMPLE_RATE / FFT_HOP  # 86.13, used for the minimum note length
WINDOW_FRAMES = 172
WINDOW_SAMPLES = 2 * SAMPLE_RATE - FFT_HOP
# basic-pitch's frame times drift against its stitching; it subtracts this per 172 frames.
# (Its own comment calls the 0.0018 a magic number needed to align properly.)
WINDOW_TIME_OFFSET = (FFT_HOP / SAMPLE_RATE) * (WINDOW_FRAMES - WINDOW_SAMPLES / FFT_HOP) + 0.0018
# Frames per pass over whole posteriorgrams at the end (bounded temporaries: about 1.5 MB of float64 each).
PASS_FRAMES = 2048


def _gaussian_weights() -> np.ndarray:
    offsets = np.arange(0, 2 * BEND_RANGE_BINS + 1) - float(BEND_RANGE_BINS)
    return np.exp(-(offsets**2) / (2 * 5.0 * 5.0))


BEND_WEIGHTS = _gaussian_weights()


@dataclass(frozen=True)
class RawNote:
    """A note in frame indices: ``[start, end)``, pitch as MIDI number."""

    start: int
    end: int
    pitch: int
    amplitude: float


@dataclass(frozen=True)
class NoteSettings:
    """Options turned into what the algorithm works with (frames, bin indices)."""

    onset_threshold: float
    frame_threshold: float
    min_note_frames: int
    zeroed_columns: tuple[slice, ...]
    melodia_trick: bool
    include_pitch_bends: bool

    @classmethod
    def from_options(cls, options: TranscriptionOptions) -> NoteSettings:
        zeroed = []
        # Python slicing with these indices, negative ones included, is what basic-pitch applies.
        if options.maximum_frequency is not None:
            zeroed.append(slice(_frequency_to_bin(options.maximum_frequency), None))
        if options.minimum_frequency is not None:
            zeroed.append(slice(None, _frequency_to_bin(options.minimum_frequency)))
        return cls(
            onset_threshold=float(options.onset_threshold),
            frame_threshold=float(options.frame_threshold),
            min_note_frames=min_note_frames(options.minimum_note_length_ms),
            zeroed_columns=tuple(zeroed),
            melodia_trick=options.melodia_trick,
            include_pitch_bends=options.include_pitch_bends,
        )


def min_note_frames(minimum_note_length_ms: float) -> int:
    return int(np.round(minimum_note_length_ms / 1000 * FRAMES_PER_SECOND))


def _frequency_to_bin(hz: float) -> int:
    midi = 12 * (np.log2(np.asanyarray(hz)) - np.log2(440.0)) + 69
    return int(np.round(midi - LOWEST_MIDI))


def frame_times(indices: np.ndarray) -> np.ndarray:
    """Seconds of frame indices, with basic-pitch's per-window drift correction."""
    indices = np.asarray(indices, dtype=np.int64)
    return (indices * FFT_HOP) / float(SAMPLE_RATE) - WINDOW_TIME_OFFSET * np.floor(indices / WINDOW_FRAMES)


class _Rows:
    """A growable (rows, width) array: capacity from the expected length, grown by half when short."""

    def __init__(self, width: int, dtype, expected_rows: int | None):
        self.data = np.empty((max(expected_rows or 0, 1024), width), dtype=dtype)
        self.count = 0

    def append(self, rows: np.ndarray) -> None:
        needed = self.count + rows.shape[0]
        if needed > self.data.shape[0]:
            grown = np.empty((max(needed, self.data.shape[0] * 3 // 2), self.data.shape[1]), self.data.dtype)
            grown[: self.count] = self.data[: self.count]
            self.data = grown
        self.data[self.count : needed] = rows
        self.count = needed

    def view(self, rows: int) -> np.ndarray:
        return self.data[: min(rows, self.count)]


def contour_bends(contour: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
    """Bend (contour bins from the note's own bin) for each (frame, pitch), int8.

    ``cells`` (bool, frames × 88) limits the work to those cells; the rest get ``BEND_UNKNOWN``.
    Bins beyond the contour's edges are padded with -1, which the (non-negative) posteriors always
    beat, so the argmax and its tie-breaking equal basic-pitch's over the clipped window.
    """
    frames = contour.shape[0]
    bends = np.full((frames, N_PITCHES), BEND_UNKNOWN, dtype=np.int8)
    if frames == 0:
        return bends
    padded = np.full((frames, N_CONTOUR_BINS + 2 * BEND_RANGE_BINS), -1.0, dtype=np.float32)
    padded[:, BEND_RANGE_BINS : BEND_RANGE_BINS + N_CONTOUR_BINS] = contour
    if cells is None:
        cells = np.ones((frames, N_PITCHES), dtype=bool)
    frame_idx, pitch_idx = np.nonzero(cells)
    if frame_idx.size == 0:
        return bends
    # windows[t, p] is the 51-bin window centred on pitch p's bin (3 * p), as a view.
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * BEND_RANGE_BINS + 1, axis=1)
    windows = windows[:, ::CONTOUR_BINS_PER_SEMITONE]
    weighted = windows[frame_idx, pitch_idx] * BEND_WEIGHTS
    bends[frame_idx, pitch_idx] = np.argmax(weighted, axis=1) - BEND_RANGE_BINS
    return bends


class PosteriorStore:
    """Collects streamed posteriorgram chunks in the compact form note creation needs."""

    def __init__(self, settings: NoteSettings, expected_frames: int | None = None):
        self.settings = settings
        self._note = _Rows(N_PITCHES, np.float32, expected_frames)
        self._onset_max = _Rows(1, np.float32, expected_frames)
        # Each frame's summed onset posterior: the onset strength the beat tracker follows (engine/beats.py).
        self._onset_sum = _Rows(1, np.float32, expected_frames)
        self._rise_max = _Rows(1, np.float64, expected_frames)
        self._onset_cells: list[np.ndarray] = []  # flat indices (frame * 88 + pitch), ascending
        self._onset_values: list[np.ndarray] = []
        self._bends = _Rows(N_PITCHES, np.int8, expected_frames) if settings.include_pitch_bends else None
        self.frames = 0

    def add(self, note: np.ndarray, onset: np.ndarray, contour: np.ndarray) -> None:
        """Take the next chunk of frames. The arrays may be modified (they are the model's outputs)."""
        settings = self.settings
        for columns in settings.zeroed_columns:
            note[:, columns] = 0
            onset[:, columns] = 0
        first = self.frames
        self._note.append(note)
        self._onset_max.append(onset.max(axis=1, keepdims=True) if note.shape[0] else onset[:, :1])
        self._onset_sum.append(onset.sum(axis=1, keepdims=True, dtype=np.float32))
        if note.shape[0]:
            rise = _frame_rise(self._note.data, first, first + note.shape[0])
            self._rise_max.append(rise.max(axis=1, keepdims=True))
        if settings.onset_threshold > 0:
            frame_idx, pitch_idx = np.nonzero(onset >= np.float64(settings.onset_threshold))
            self._onset_cells.append((frame_idx + first).astype(np.int64) * N_PITCHES + pitch_idx)
            self._onset_values.append(onset[frame_idx, pitch_idx])
        if self._bends is not None:
            self._bends.append(contour_bends(contour, self._cells_notes_can_reach(note)))
        self.frames += note.shape[0]

    def _cells_notes_can_reach(self, note: np.ndarray) -> np.ndarray | None:
        """Cells that have a frame at or above the threshold within the next 11 frames (None: all).

        A note never extends more than 11 frames past a frame whose remaining energy was at or
        above the threshold: every walk stops after 11 frames below it and steps back to the last
        one above. The chunk's last 11 frames need the next chunk to decide, so they are kept whole.
        """
        settings = self.settings
        if settings.frame_threshold <= 0 or settings.min_note_frames == 0:
            return None  # notes can then start anywhere (one-frame notes on silent bins)
        frames = note.shape[0]
        active = note >= np.float64(settings.frame_threshold)
        counts = np.zeros((frames + 1, N_PITCHES), dtype=np.int32)
        np.cumsum(active, axis=0, out=counts[1:])
        ahead = np.minimum(np.arange(frames) + ENERGY_TOLERANCE + 1, frames)
        near = (counts[ahead] - counts[:frames]) > 0
        near[-ENERGY_TOLERANCE:] = True
        return near

    def finish(self, frame_count: int) -> Posteriors:
        """Trim to the frames basic-pitch keeps and hand over for note creation."""
        frame_count = min(frame_count, self.frames)
        onset_cells = np.concatenate(self._onset_cells) if self._onset_cells else np.zeros(0, np.int64)
        onset_values = np.concatenate(self._onset_values) if self._onset_values else np.zeros(0, np.float32)
        keep = onset_cells < frame_count * N_PITCHES
        onset_max = self._onset_max.view(frame_count)[:, 0]
        rise_max = self._rise_max.view(frame_count)[:, 0]
        return Posteriors(
            note=self._note.view(frame_count),
            onset_max=float(onset_max.max()) if frame_count else 0.0,
            rise_max=float(rise_max.max()) if frame_count else 0.0,
            onset_cells=onset_cells[keep],
            onset_values=onset_values[keep],
            bends=None if self._bends is None else self._bends.view(frame_count),
            onset_strength=self._onset_sum.view(frame_count)[:, 0],
        )


@dataclass
class Posteriors:
    """What note creation reads: the whole note posteriorgram and the compact rest."""

    note: np.ndarray  # (frames, 88) float32, frequency limits applied
    onset_max: float  # global max of the (frequency-limited) onset posteriorgram
    rise_max: float  # global max of the frame-difference onsets, before rescaling
    onset_cells: np.ndarray  # flat indices of onset cells >= onset threshold, ascending
    onset_values: np.ndarray  # their values
    bends: np.ndarray | None  # (frames, 88) int8
    onset_strength: np.ndarray | None = None  # (frames,) summed onset posterior, frequency limits applied

    @classmethod
    def from_arrays(
        cls, note: np.ndarray, onset: np.ndarray, contour: np.ndarray, settings: NoteSettings
    ) -> Posteriors:
        store = PosteriorStore(settings, expected_frames=note.shape[0])
        store.add(np.array(note, dtype=np.float32), np.array(onset, dtype=np.float32),
                  np.asarray(contour, dtype=np.float32))
        return store.finish(note.shape[0])


def _frame_rise(note: np.ndarray, start: int, stop: int) -> np.ndarray:
    """basic-pitch's frame-difference onset for frames [start, stop), in float64, before rescaling.

    ``min(x[t] - x[t-1], x[t] - x[t-2])`` is ``x[t] - max(x[t-1], x[t-2])``: the difference of two
    float32 values is exact in float64, so both forms give the same numbers.
    """
    first = max(start - ONSET_DIFF_FRAMES, 0)
    block = note[first:stop]
    missing = ONSET_DIFF_FRAMES - (start - first)
    if missing:  # zeros before the recording's first frame
        block = np.concatenate([np.zeros((missing, N_PITCHES), dtype=note.dtype), block])
    previous = np.maximum(block[ONSET_DIFF_FRAMES - 1 : -1], block[: -ONSET_DIFF_FRAMES])
    rise = block[ONSET_DIFF_FRAMES:].astype(np.float64)
    rise -= previous
    np.maximum(rise, 0, out=rise)
    if start < ONSET_DIFF_FRAMES:
        rise[: ONSET_DIFF_FRAMES - start] = 0
    return rise


def onset_candidates(posteriors: Posteriors, settings: NoteSettings) -> Iterator[tuple[int, int]]:
    """(frame, pitch index) of every onset candidate, latest first and highest pitch first within a
    frame (basic-pitch's order), produced pass by pass so that even a threshold of 0 (every cell a
    candidate) needs no list of them all."""
    note = posteriors.note
    frames = note.shape[0]
    threshold = np.float64(settings.onset_threshold)
    if frames == 0:
        return
    rise_max = posteriors.rise_max
    starts = range((frames - 1) // PASS_FRAMES * PASS_FRAMES, -1, -PASS_FRAMES)
    if threshold <= 0:
        # Non-peaks count as 0, and 0 passes a zero threshold: every cell is a candidate.
        pitches = list(range(N_PITCHES - 1, -1, -1))
        for start in starts:
            for frame in range(min(start + PASS_FRAMES, frames) - 1, start - 1, -1):
                for pitch in pitches:
                    yield frame, pitch
        return
    if rise_max == 0:
        return  # basic-pitch's rescaled onsets are then all NaN: no peak anywhere
    scale = np.float64(posteriors.onset_max)
    cells, values = posteriors.onset_cells, posteriors.onset_values
    for start in starts:
        stop = min(start + PASS_FRAMES, frames)
        lo, hi = max(start - 1, 0), min(stop + 1, frames)  # one frame of context each side
        onset = (scale * _frame_rise(note, lo, hi)) / rise_max
        first, last = np.searchsorted(cells, [lo * N_PITCHES, hi * N_PITCHES])
        rows, cols = np.divmod(cells[first:last], N_PITCHES)
        rows -= lo
        # Cells are unique, so a plain fancy-indexed max is safe.
        onset[rows, cols] = np.maximum(onset[rows, cols], values[first:last].astype(np.float64))
        # Strict maxima in time; the first and last frames of the recording never qualify.
        centre = onset[1:-1]
        peak = (centre > onset[:-2]) & (centre > onset[2:]) & (centre >= threshold)
        frame_idx, pitch_idx = np.nonzero(peak)
        frame_idx += lo + 1
        yield from zip(frame_idx[::-1].tolist(), pitch_idx[::-1].tolist(), strict=True)


class _Energy:
    """basic-pitch's ``remaining_energy``, reduced to what its walks read: per pitch, one byte per
    frame saying whether the remaining energy is at or above the frame threshold.

    A walk then is a search for ``tolerance`` zero bytes (``bytearray.find``), which runs in C;
    zeroing cells is a slice assignment. A zeroed cell reads as 0, which is below any positive
    threshold; with a zero threshold nothing is ever below, so only ``zeroed`` records it.
    """

    def __init__(self, note: np.ndarray, threshold: float, tolerance: int = ENERGY_TOLERANCE):
        frames = note.shape[0]
        threshold64 = np.float64(threshold)
        self.frames = frames
        self.threshold = threshold64
        self.tolerance = tolerance
        self._run = bytes(tolerance)
        self._zeros = memoryview(bytes(frames))
        self.above = [bytearray((note[:, pitch] >= threshold64).tobytes()) for pitch in range(N_PITCHES)]
        self._zero_is_below = threshold > 0
        self._zeroed = None if self._zero_is_below else [bytearray(frames) for _ in range(N_PITCHES)]

    def is_zeroed(self, frame: int, pitch: int) -> bool:
        """For cells whose energy exceeds the threshold: has a note zeroed it since?"""
        if self._zeroed is None:
            return not self.above[pitch][frame]
        return bool(self._zeroed[pitch][frame])

    def clear(self, pitch: int, lo: int, hi: int) -> None:
        """Zero frames [lo, hi) at the pitch and the semitones either side."""
        if hi <= lo:
            return
        for neighbour in range(max(pitch - 1, 0), min(pitch + 2, N_PITCHES)):
            if self._zero_is_below:
                self.above[neighbour][lo:hi] = self._zeros[: hi - lo]
            else:
                self._zeroed[neighbour][lo:hi] = b"\x01" * (hi - lo)

    def zeroed_block(self, lo: int, hi: int) -> np.ndarray:
        """(frames, 88) bool: which cells of frames [lo, hi) notes have zeroed (for cells above the threshold)."""
        columns = self.above if self._zeroed is None else self._zeroed
        block = np.stack([np.frombuffer(column, dtype=np.uint8, count=hi - lo, offset=lo) for column in columns], axis=1)
        return block == 0 if self._zeroed is None else block != 0

    def clear_cell(self, frame: int, pitch: int) -> None:
        if self._zero_is_below:
            self.above[pitch][frame] = 0
        else:
            self._zeroed[pitch][frame] = 1

    def walk_forward(self, pitch: int, first: int, stop: int) -> tuple[int, int]:
        """Walk frames first, first+1, … (before ``stop``) until ``tolerance`` in a row are below.

        Returns ``(kept, visited)``: frames before that final run of below frames, frames visited.
        """
        if stop <= first:
            return 0, 0
        if not self._zero_is_below:
            return stop - first, stop - first  # nothing is ever below a zero threshold
        flags = self.above[pitch]
        run = flags.find(self._run, first, stop)
        if run >= 0:
            kept = run - first
            return kept, kept + self.tolerance
        last_above = flags.rfind(b"\x01", first, stop)
        return (last_above + 1 - first if last_above >= 0 else 0), stop - first

    def walk_backward(self, pitch: int, first: int, lowest: int) -> tuple[int, int]:
        """The same walk downwards: frames first, first-1, … down to ``lowest`` included."""
        if first < lowest:
            return 0, 0
        if not self._zero_is_below:
            return first - lowest + 1, first - lowest + 1
        flags = self.above[pitch]
        run = flags.rfind(self._run, lowest, first + 1)
        if run >= 0:
            kept = first - (run + self.tolerance - 1)
            return kept, kept + self.tolerance
        first_above = flags.find(b"\x01", lowest, first + 1)
        return (first - first_above + 1 if first_above >= 0 else 0), first - lowest + 1


def create_notes(posteriors: Posteriors, settings: NoteSettings) -> list[RawNote]:
    """Note events in frame indices, in basic-pitch's order (onset notes latest first, then melodia)."""
    note = posteriors.note
    frames = note.shape[0]
    if frames == 0:
        return []
    energy = _Energy(note, settings.frame_threshold)
    shortest = settings.min_note_frames
    notes: list[RawNote] = []

    for start, pitch in onset_candidates(posteriors, settings):
        if start >= frames - 1:
            continue
        kept, _ = energy.walk_forward(pitch, start + 1, frames - 1)
        end = start + 1 + kept
        if end - start <= shortest:
            continue
        energy.clear(pitch, start, end)
        notes.append(RawNote(start, end, pitch + LOWEST_MIDI, float(np.mean(note[start:end, pitch]))))

    if settings.melodia_trick:
        for middle, pitch in _strongest_first(note, energy):
            if energy.is_zeroed(middle, pitch):
                continue
            # basic-pitch zeroes only this cell of the middle frame, not its neighbours.
            energy.clear_cell(middle, pitch)
            kept_after, visited_after = energy.walk_forward(pitch, middle + 1, frames - 1)
            energy.clear(pitch, middle + 1, middle + 1 + visited_after)
            kept_before, visited_before = energy.walk_backward(pitch, middle - 1, 1)
            energy.clear(pitch, middle - visited_before, middle)
            start, end = middle - kept_before, middle + kept_after
            if end - start <= shortest:
                continue
            notes.append(RawNote(start, end, pitch + LOWEST_MIDI, float(np.mean(note[start:end, pitch]))))
    return notes


# Cells sorted at a time by the melodia trick: bounds its memory (about 20 bytes a cell) however
# low the frame threshold is.
MELODIA_BAND_CELLS = 1 << 20


def _strongest_first(note: np.ndarray, energy: _Energy) -> Iterator[tuple[int, int]]:
    """Cells above the frame threshold not yet zeroed: strongest first, ties in row-major order.

    Done in bands of values, from the top, each band sorted when it is reached: cells are only
    ever zeroed, never raised, so a band built later simply has fewer cells left in it.
    """
    threshold = energy.threshold
    edges = _band_edges(note, energy)
    for upper, lower in zip(edges[:-1], edges[1:], strict=True):
        flat_parts, value_parts = [], []
        for start in range(0, note.shape[0], PASS_FRAMES):
            block = note[start : start + PASS_FRAMES]
            candidate = (block > threshold) & (block >= lower) & (block < upper)
            candidate &= ~energy.zeroed_block(start, start + block.shape[0])
            rows, cols = np.nonzero(candidate)
            flat_parts.append((rows + start).astype(np.int64) * N_PITCHES + cols)
            value_parts.append(block[rows, cols])
        flat = np.concatenate(flat_parts)
        order = np.lexsort((flat, -np.concatenate(value_parts)))
        for first in range(0, order.size, 1 << 16):
            rows, cols = np.divmod(flat[order[first : first + (1 << 16)]], N_PITCHES)
            yield from zip(rows.tolist(), cols.tolist(), strict=True)


def _band_edges(note: np.ndarray, energy: _Energy) -> list[float]:
    """Descending value edges such that each band [lower, upper) holds about MELODIA_BAND_CELLS cells."""
    threshold = float(energy.threshold)
    bins = np.linspace(threshold, 1.0, 1025)
    counts = np.zeros(bins.size - 1, dtype=np.int64)
    for start in range(0, note.shape[0], PASS_FRAMES):
        block = note[start : start + PASS_FRAMES]
        values = block[(block > energy.threshold) & ~energy.zeroed_block(start, start + block.shape[0])]
        counts += np.histogram(values, bins=bins)[0]
    edges = [np.inf]
    in_band = 0
    for index in range(counts.size - 1, 0, -1):
        in_band += counts[index]
        if in_band >= MELODIA_BAND_CELLS:
            edges.append(float(bins[index]))
            in_band = 0
    edges.append(-np.inf)
    return edges


def note_bends(posteriors: Posteriors, raw: RawNote) -> tuple[int, ...]:
    column = posteriors.bends[raw.start : raw.end, raw.pitch - LOWEST_MIDI]
    if (column == BEND_UNKNOWN).any():
        raise RuntimeError(f"pitch bend requested outside the cells notes can reach: {raw}")
    return tuple(column.tolist())
