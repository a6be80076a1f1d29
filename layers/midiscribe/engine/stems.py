"""``transcribe_stems``: several named stems in, one multi-track transcription out.

Each stem (a separated part of one recording: Demucs's ``drums``/``bass``/``vocals``/``other``, a
DAW's export, a multitrack session's channels) is transcribed on its own, with the settings for its
instrument family: the family given with it, or the one its name points at (``family_for_stem``).
Drums go to the drum transcriber; every other family to the pitched engine with that family's options
(:func:`stem_options`, the one place a family becomes options). Stems may differ in length, sample
rate and format; the result lasts as long as the longest. Bleed (see the constants below): each general-model
stem drops its notes under the level gate ``STEM_BLEED_GATE_DB`` as it finishes, and once every stem is done
the pitched stems lose the notes that are another stem's sound leaking in (``without_cross_bleed``).

The stems run at the same time in threads; a stem still downloading (a ``Future``) starts when it
arrives. Each pitched stem already keeps one model call per CPU in flight, so this mostly overlaps the
parts that do not use every CPU (decoding, note creation, the drums' factorisation) with other stems'
model calls; onnxruntime and numpy release the GIL. No
processes: Lambda has no /dev/shm for multiprocessing's queues.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .errors import EngineError, InvalidOptionsError
from .instruments import Family, duplicate_stem_message, family_for_stem
from .options import NO_DRUM_SCORE, TranscriptionOptions
from .transcription import Track, Transcription

if TYPE_CHECKING:  # numpy is imported where it is used: the API's function reads this module without it
    import numpy as np

    from .pipeline import LevelMeter

MAX_PITCHED_STEMS = 15  # a MIDI file has 16 channels: one per pitched track, and channel 10 for drums
MAX_STEMS = 32  # drum stems share channel 10 (a multitracked kit), but every stem costs a transcription
MAX_STEM_NAME = 64
FAMILY_NAMES = ", ".join(family.value for family in Family)
# Bleed: a separation's leftovers of the other instruments, or another instrument in a stem's microphone,
# which the models hear at full strength (each reads its window or segment at its own level). Two rules drop it
# from the pitched stems, after all of them are done:
# - a note that starts CROSS_BLEED_QUIET_DB or more below its stem's loud moments, and that another pitched stem
#   also has (the same pitch, starting within CROSS_BLEED_WINDOW_S) at least CROSS_BLEED_MARGIN_DB louder (each
#   note's attack level metered in its own stem), is that stem leaking in. This holds for the piano model's
#   stems too (bench/stems.py --piano-bleed). A note an octave above or below the other stem's is dropped the
#   same way when that one is at least CROSS_BLEED_OCTAVE_MARGIN_DB louder: each stem's model hears a leaked
#   note in its own range (the bass stem the keys an octave down);
# - a general-model note that starts more than STEM_BLEED_GATE_DB below its own stem's loud moments is dropped
#   too (bleed of what no stem transcribes: drums, a stem not sent).
# Chosen on the tuning halves of bench/stems.py --bleed (the other stems leaking in at 20-40 dB; the comping
# part an electric piano, or the piano model's piano), --dynamics (parts from pp to ff, velocities about 20 to
# 125, no bleed) and --doubles (the flute's part doubled in unison by an oboe stem 0-10 dB below it): a level
# gate alone costs the quiet passages (at 25 dB, mean note F1 0.922 -> 0.736 on --dynamics); the cross-stem
# rule without the QUIET condition drops a unison double's notes (0.915 -> 0.344 on --doubles at 6 dB). At 40,
# 6 and 15 dB the rules match the 25-dB gate on bleed (0.739 and 0.720 against 0.738 and 0.722) for at most
# 0.006 of one stem's F1 on --dynamics and 0.002 on --doubles; 20 dB down spared the doubles entirely but let
# more bleed through (0.710, 0.690). The octave matches, at 6 dB, took 0.0135 of one stem's F1 on --dynamics; at 10
# dB none (and 0.0008 of mean F1 on --piano-bleed), and mean note F1 on bleed went 0.739 -> 0.789 (keys) and
# 0.720 -> 0.771 (piano model). A stem transcribed on its own keeps every note.
STEM_BLEED_GATE_DB = 40.0
CROSS_BLEED_MARGIN_DB = 6.0
CROSS_BLEED_WINDOW_S = 0.06
CROSS_BLEED_QUIET_DB = 15.0
CROSS_BLEED_OCTAVE_MARGIN_DB = 10.0
# How often a stem still arriving (a Future) looks whether another stem has failed meanwhile: then it gives up
# waiting, and the task's failure does not wait for a slow download.
ARRIVAL_CHECK_S = 0.1


@dataclass(frozen=True)
class Stem:
    """One stem: its name, its audio (a path, bytes or a binary file object) and its instrument family."""

    name: str
    source: object
    family: Family


def resolve_stems(stems: Iterable) -> list[Stem]:
    """``Stem`` objects from ``Stem``s or ``(name, source)`` / ``(name, source, instrument)`` tuples, checked.

    ``instrument`` is a family name or None (then the stem's name chooses, ``auto`` when it says nothing).
    Raises :class:`InvalidOptionsError` naming the stem and what to change.
    """
    resolved: list[Stem] = []
    seen: dict[str, str] = {}
    for item in stems:
        if isinstance(item, Stem):
            name, source, instrument = item.name, item.source, item.family
        else:
            name, source, *rest = item
            instrument = rest[0] if rest else None
        name = str(name).strip()
        if not name:
            raise InvalidOptionsError("A stem has no name. Name every stem (e.g. drums, bass, vocals).")
        if len(name) > MAX_STEM_NAME:
            raise InvalidOptionsError(f"Stem name {name[:20]!r}… is longer than {MAX_STEM_NAME} characters.")
        if name.casefold() in seen:
            raise InvalidOptionsError(duplicate_stem_message(seen[name.casefold()], name))
        seen[name.casefold()] = name
        resolved.append(Stem(name, source, _family(name, instrument)))
    if not resolved:
        raise InvalidOptionsError("No stems to transcribe: give at least one.")
    pitched = sum(stem.family is not Family.DRUMS for stem in resolved)
    if pitched > MAX_PITCHED_STEMS:
        raise InvalidOptionsError(f"{pitched} pitched stems given; at most {MAX_PITCHED_STEMS} fit in one MIDI file "
                                  "(16 channels, channel 10 is for drums). Mix some stems together first.")
    if len(resolved) > MAX_STEMS:
        raise InvalidOptionsError(f"{len(resolved)} stems given; at most {MAX_STEMS} are transcribed together. "
                                  "Mix some stems together first.")
    return resolved


def _family(name: str, instrument) -> Family:
    if instrument is None or instrument == "":
        return family_for_stem(name)
    try:
        return Family(str(instrument).strip().lower())
    except ValueError:
        raise InvalidOptionsError(f"Stem {name!r}: unknown instrument {instrument!r}; use one of {FAMILY_NAMES}.") from None


def stem_options(options: TranscriptionOptions, family: Family) -> TranscriptionOptions:
    """The options a pitched stem of ``family`` is transcribed with: the shared ones, with the family as
    its ``instrument``; a piano stem runs the piano model, every other the general model."""
    return TranscriptionOptions.parse(options.model_dump(), instrument=family.value,
                                      model="piano" if family is Family.PIANO else "general")


def check_scoreable(families, options: TranscriptionOptions) -> None:
    """Refuse ``score`` when every stem is drums: the score notates the pitched stems only."""
    if options.score and all(Family(family) is Family.DRUMS for family in families):
        raise InvalidOptionsError(f"every stem is drums, and {NO_DRUM_SCORE}.")


def stem_transcriber(options: TranscriptionOptions, family: Family) -> str:
    """What runs on a stem of ``family`` ("general", "piano", "drums"), given the shared options."""
    return "drums" if family is Family.DRUMS else stem_options(options, family).transcriber


def stem_transcribers(families: dict[str, str], options: dict) -> dict[str, str]:
    """What runs on each stem ("general", "piano", "drums"), from the stems' families by name and the
    request's options (its ``instrument`` is each stem's own family)."""
    shared = TranscriptionOptions.parse({name: value for name, value in options.items() if name != "instrument"})
    return {name: stem_transcriber(shared, Family(family)) for name, family in families.items()}


@dataclass(frozen=True)
class MeteredNotes:
    """A stem's notes as arrays, with each note's attack level in its own stem (``pipeline.attack_levels_db``)
    and the level of the stem's loud moments (``pipeline.LOUD_PERCENTILE`` of its 10-ms levels)."""

    starts_s: np.ndarray
    pitches: np.ndarray
    attacks_db: np.ndarray
    loud_db: float


def cross_bleed_mask(stem: MeteredNotes, others: Iterable[MeteredNotes], margin_db: float = CROSS_BLEED_MARGIN_DB,
                     window_s: float = CROSS_BLEED_WINDOW_S, quiet_db: float = CROSS_BLEED_QUIET_DB,
                     octave_margin_db: float | None = CROSS_BLEED_OCTAVE_MARGIN_DB) -> np.ndarray:
    """Which of ``stem``'s notes to keep: not those at least ``quiet_db`` below the stem's loud moments that one of
    ``others`` has too (the same pitch, starting within ``window_s``) at least ``margin_db`` louder, or an octave
    above or below at least ``octave_margin_db`` louder (None: not checked), which is that stem's sound leaking into
    this one. A note at the stem's own playing level is kept: a unison or octave double."""
    others = list(others)
    keep = _not_louder_elsewhere(stem, others, margin_db, window_s, quiet_db)
    if octave_margin_db is not None:
        octaves = [MeteredNotes(other.starts_s, other.pitches + shift, other.attacks_db, other.loud_db)
                   for other in others for shift in (-12, 12)]
        keep &= _not_louder_elsewhere(stem, octaves, octave_margin_db, window_s, quiet_db)
    return keep


def _not_louder_elsewhere(stem: MeteredNotes, others: list[MeteredNotes], margin_db: float, window_s: float,
                          quiet_db: float) -> np.ndarray:
    """:func:`cross_bleed_mask`'s test against ``others`` as given (the octave check passes them shifted): False for
    ``stem``'s quiet notes that one of them has at the same pitch, within ``window_s``, ``margin_db`` louder."""
    import numpy as np

    keep = np.ones(stem.starts_s.size, dtype=bool)
    quiet = stem.attacks_db <= stem.loud_db - quiet_db
    for other in others:
        for pitch in np.intersect1d(stem.pitches[quiet], other.pitches):
            mine = np.flatnonzero((stem.pitches == pitch) & quiet)
            theirs = np.flatnonzero(other.pitches == pitch)
            theirs = theirs[np.argsort(other.starts_s[theirs], kind="stable")]
            times = other.starts_s[theirs]
            low = np.searchsorted(times, stem.starts_s[mine] - window_s, side="left")
            high = np.searchsorted(times, stem.starts_s[mine] + window_s, side="right")
            loudest = np.full(mine.size, -np.inf)
            for step in range(int((high - low).max(initial=0))):  # a few notes of one pitch fall in a window
                index = low + step
                inside = index < high
                loudest[inside] = np.maximum(loudest[inside], other.attacks_db[theirs[index[inside]]])
            keep[mine[loudest - stem.attacks_db[mine] >= margin_db]] = False
    return keep


class _Stopped(Exception):
    """A stem's transcription given up because another stem failed."""


class _CombinedProgress:
    """Reports the stems' progress together: seconds done over all stems, of their summed length.

    Every stem's transcriber calls its stem's function as it goes; once :attr:`stopped` is set (a stem
    failed), the next call raises :class:`_Stopped`, so the other stems end early instead of finishing
    work whose result would be thrown away.
    """

    def __init__(self, report: Callable[[float, float | None], None] | None, count: int):
        self.report = report
        self.done = [0.0] * count
        self.totals: list[float | None] = [None] * count
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def for_stem(self, index: int) -> Callable[[float, float | None], None]:
        def update(done_s: float, total_s: float | None) -> None:
            if self.stopped.is_set():
                raise _Stopped
            if self.report is None:
                return
            with self.lock:
                self.done[index], self.totals[index] = done_s, total_s
                known = None if any(total is None for total in self.totals) else sum(self.totals)
                done = sum(self.done)
            self.report(done, known)

        return update


def transcribe_stems(
    stems: Iterable,
    options: TranscriptionOptions | dict | None = None,
    *,
    max_duration_s: float | None = None,
    progress: Callable[[float, float | None], None] | None = None,
    workers: int | None = None,
) -> Transcription:
    """Transcribe each stem with its family's settings into one transcription with a track per stem.

    ``stems``: ``(name, source)`` or ``(name, source, instrument)`` tuples (or :class:`Stem`), in the
    order the tracks should have. A source may be a ``concurrent.futures.Future`` of one (a stem still
    downloading): that stem starts when it resolves, the others without waiting for it, and its error is
    raised unchanged. ``max_duration_s`` applies to each stem. ``progress(seconds_done,
    total_seconds_or_None)`` sums over the stems. An engine error in any stem is raised with the stem's
    name in its message (of the stems that failed before the others stopped, the first in order), after
    the others have stopped: a failure stops the other stems at their next step rather than letting them
    finish, and a stem still arriving stops waiting for its audio (its download is the caller's to cancel).
    """
    if options is None:
        options = TranscriptionOptions()
    elif not isinstance(options, TranscriptionOptions):
        options = TranscriptionOptions.parse(options)
    resolved = resolve_stems(stems)
    pitched_options = {stem.family: stem_options(options, stem.family) for stem in resolved
                       if stem.family is not Family.DRUMS}
    combined = _CombinedProgress(progress, len(resolved))
    started = time.perf_counter()

    def run(index: int, stem: Stem) -> tuple[Track, float, float, tuple[str, ...]]:
        try:
            return transcribe_one(index, stem)
        except BaseException:
            combined.stopped.set()
            raise

    meters: dict[int, LevelMeter] = {}  # of the pitched stems, by index, for the bleed rules

    def transcribe_one(index: int, stem: Stem) -> tuple[Track, float, float, tuple[str, ...]]:
        from .constants import MODEL_SAMPLE_RATE
        from .drums import transcribe_drums
        from .piano.config import SAMPLE_RATE as PIANO_SAMPLE_RATE
        from .pipeline import LevelMeter, transcribe

        stem_progress = combined.for_stem(index)
        source = stem.source
        if isinstance(source, Future):  # a stem still arriving: this stem starts once it is here, not the others
            while not wait([source], timeout=ARRIVAL_CHECK_S).done:
                if combined.stopped.is_set():
                    raise _Stopped
            source = source.result()
        began = time.perf_counter()
        if combined.stopped.is_set():
            raise _Stopped
        try:
            if stem.family is Family.DRUMS:
                result = transcribe_drums(source, options, max_duration_s=max_duration_s,
                                          progress=stem_progress, name=stem.name)
                track = result.tracks[0]
            else:
                # The rhythm comes from all the stems' notes together (below), not from each stem's.
                chosen = pitched_options[stem.family]
                meters[index] = LevelMeter(PIANO_SAMPLE_RATE if chosen.transcriber == "piano" else MODEL_SAMPLE_RATE)
                result = transcribe(source, chosen, max_duration_s=max_duration_s,
                                    progress=stem_progress, rhythm=False, bleed_gate_db=STEM_BLEED_GATE_DB,
                                    level_meter=meters[index])
                track = Track.for_family(stem.name, stem.family, result.notes, result.model_name, result.pedals,
                                         result.tuning_cents)
        except EngineError as exc:
            raise exc.prefixed(f"Stem {stem.name!r}: ") from None
        notices = tuple(f"Stem {stem.name!r}: {notice}" for notice in result.notices)
        return track, result.duration_s, time.perf_counter() - began, notices

    with ThreadPoolExecutor(max_workers=workers or len(resolved), thread_name_prefix="midiscribe-stem") as pool:
        futures = [pool.submit(run, index, stem) for index, stem in enumerate(resolved)]
        try:
            wait(futures)
        except BaseException:
            combined.stopped.set()
            for future in futures:
                future.cancel()
            raise
    failures = [future.exception() for future in futures]
    first = next((error for error in failures if error is not None and not isinstance(error, _Stopped)), None)
    if first is not None:
        raise first
    results = [future.result() for future in futures]
    tracks = without_cross_bleed([track for track, _, _, _ in results], meters)
    timings = {f"stem_{stem.name}_s": seconds for stem, (_, _, seconds, _) in zip(resolved, results, strict=True)}
    timings["total_s"] = time.perf_counter() - started
    duration_s = max(duration for _, duration, _, _ in results)
    from .pipeline import with_rhythm

    notices = tuple(notice for *_, stem_notices in results for notice in stem_notices)
    return with_rhythm(Transcription.from_tracks(tracks, duration_s, options, timings, notices))


def without_cross_bleed(tracks: list[Track], meters: Mapping[int, LevelMeter]) -> list[Track]:
    """The tracks, the metered ones (by index: the pitched stems) without the notes another metered track has
    louder (:func:`cross_bleed_mask`)."""
    if len(meters) < 2:
        return tracks
    metered = {index: metered_notes(tracks[index].notes, meter.levels_db()) for index, meter in meters.items()}
    kept = list(tracks)
    for index in sorted(metered):
        keep = cross_bleed_mask(metered[index], [other for at, other in metered.items() if at != index])
        if not keep.all():
            kept[index] = replace(tracks[index], notes=tuple(n for n, k in zip(tracks[index].notes, keep, strict=True)
                                                               if k))
    return kept


def metered_notes(notes, levels_db: np.ndarray) -> MeteredNotes:
    """``notes`` (NoteEvents) with their attack levels in ``levels_db``, their stem's 10-ms levels."""
    import numpy as np

    from .pipeline import LOUD_PERCENTILE, SILENT_DB, attack_levels_db

    starts = np.array([note.start_s for note in notes], dtype=np.float64)
    loud = float(np.percentile(levels_db, LOUD_PERCENTILE)) if levels_db.size else SILENT_DB
    return MeteredNotes(starts, np.array([note.pitch for note in notes], dtype=np.int64),
                        attack_levels_db(starts, levels_db), loud)
