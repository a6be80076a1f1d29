"""From activations to drum hits: onsets picked per group of pieces, then kept or dropped by level.

Each group (kick, snare, hi-hat, toms, crash, ride) gets an onset strength per frame: how far its summed
activation rises above the lower of the two frames before. A candidate onset is a frame whose strength
is the largest within ``peak_window_s`` either side. Candidates are gathered while the audio streams by
(a few per second per group, so an hour's worth is a few megabytes) along with histograms of the frame
levels, the whole recording's and each group's. Only at the end, when the levels are known, is each
candidate's strength divided by its group's level (a high percentile of the group's activation, or a
share of the recording's level if that is higher: a piece never played has only leakage to measure)
and kept if it reaches the group's threshold. So a quiet recording and a loud one give the same notes,
and so do kits mixed with loud hats or loud kicks. Toms and snares have two thresholds: a strict one
when a kick or snare (for toms) or a kick, tom or crash (for snares) starts at the same moment, since
their sound leaks into the group's templates, and a lenient one otherwise (snare ghost notes).

Within a group, the piece is the one with the most activation at the onset (which tom), except for the
hi-hat, where open and closed differ in how long they ring more than in their spectra. Each candidate's
ring is how much of its rise is left (its lowest point until ``ring_probe_s`` later, over what was
sounding before it): a hi-hat is open when the metal's ring (hi-hats and cymbals share it) reaches
``open_hat_ratio``; a crash or ride must ring at least ``minimum_ring`` (a stick click or a snare's wires
that the cymbal templates pick up do not).

A snare onset must also decay about as the recording's clear snare hits do: its activation 35-70 ms on
(its *sustain*, over its first frames' peak) may exceed theirs by at most ``sustain_margin`` (or reach
their spread's top, where their own sustains vary widely), since a rise inside something still sounding
(a ringing cymbal, an open hat, a tom) is leakage, not a hit. Nor
is a weak snare onset whose activation then falls further below where it stood than it rose: a bump on
the tail of a gated or reverberant snare; nor one that is gone at once and has no wires (less 2-8 kHz
than 30-400 Hz): a kick's click; nor a weak one with no head of its own, whose 30-400 Hz band rings on
under a cymbal's share of 2-8 kHz: a ride's or a hat's stroke that the snare templates took. A weak
snare or tom onset in the first half second of a crash's ring is the ring's own fluctuation: a real
cymbal's modes beat as they decay; so is a weak hi-hat onset there that would be open, the crash's
sizzle. A tom onset that is gone at once (its sustain under ``minimum_sustain``) is a click or an attack
that the tom templates took; and a tom onset soon after a kept tom hit is that stroke's echo when it is
weaker, or when the stroke's sound was still building (a click before the head's body).

Ride or closed hi-hat is read from how the onset rings in the spectrogram itself, 90-140 ms on (its
*band rings*, 2-8 kHz and above 8 kHz; see ``DrumSettings``), not from the activations: the two sound
alike to the factorisation. A ride onset must ring as a ride does, and a closed hi-hat hit that rings so
is written as a ride where most of the closed hi-hat hits around it do too (a ride groove); a ride onset
on a hat stroke in a hi-hat groove is the hat's. An open hi-hat must also ring above 8 kHz, and not be
struck with a crash, whose ring is what would ring on. A crash onset whose band rings are both high
rings enough, whatever its activation does, and none is a crash unless it rings from 2 to 8 kHz. A weak
snare or crash onset that was not kept but rings on in both bands and decays is an open hi-hat the
hi-hat templates missed (a dark one, with little above 8 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kit import CLOSED_HAT, GROUPS, KIT, OPEN_HAT, RIDE, TOM_PITCH_HZ
from .settings import DrumSettings
from .spectrum import FRAME_RATE, band_centres_hz

GROUP_MEMBERS = tuple(np.array([i for i, piece in enumerate(KIT) if piece.group == group]) for group in GROUPS)
HIHAT = GROUPS.index("hihat")
_CLOSED, _OPEN, _RIDE = KIT.index(CLOSED_HAT), KIT.index(OPEN_HAT), KIT.index(RIDE)
# The spectrogram's bands whose rings tell a ride from a hi-hat (see DrumSettings): 2-8 kHz and above.
_MID_BANDS = (band_centres_hz() >= 2000.0) & (band_centres_hz() < 8000.0)
_HIGH_BANDS = band_centres_hz() >= 8000.0
# And those whose ring and strongest band tell a tom from a kick or a snare: a drum head's range.
_LOW_BANDS = (band_centres_hz() >= 30.0) & (band_centres_hz() < 400.0)
_LOW_CENTRES_HZ = band_centres_hz()[_LOW_BANDS]
_PITCH_FRAMES = (3, 9)  # frames after an onset over which its strongest low band is read (35-100 ms)
_TOMS = np.array([KIT.index(piece) for piece in TOM_PITCH_HZ])
_LOG_TOM_PITCHES = np.log(np.array(list(TOM_PITCH_HZ.values())))
# An open hi-hat's ring is often explained partly by the cymbal templates, so its decay is read from all metal.
METAL = np.array([i for i, piece in enumerate(KIT) if piece.group in ("hihat", "crash", "ride")])
_HISTORY = 2  # frames before a frame that its onset strength looks at
_PEAK_SPAN = 3  # frames after an onset whose activation counts as its peak
LOUD_PERCENTILE = 95.0  # a group's loudest hits, in matching the strengths of hits found elsewhere to it


@dataclass(frozen=True)
class Hit:
    frame: int
    piece: int  # index into KIT
    strength: float  # onset strength, as a share of its group's level (of ``measured_in``'s, if that is set)
    # The group whose level the strength was measured against, where it is not the piece's own: a tom
    # heard as a kick or a snare keeps that group's scale, and so the velocity it would have had there.
    measured_in: str = ""


@dataclass(frozen=True)
class Candidates:
    """Every candidate onset of a recording: strengths divided by their group's level, how much of each
    onset's rise still rings ``ring_probe_s`` later (hi-hats: all the metal's; others: their group's), and
    its group's mean activation from ``sustain_start_s`` to ``sustain_end_s`` on over its peak; and,
    when the spectrogram was given, its band rings (2-8 kHz and above 8 kHz)."""

    frames: np.ndarray  # in time order
    pieces: np.ndarray  # hi-hats are all CLOSED_HAT here: open or closed is decided by the ring
    strengths: np.ndarray
    rings: np.ndarray
    sustains: np.ndarray
    mid_rings: np.ndarray | None = None
    high_rings: np.ndarray | None = None
    # With the spectrogram too: the 30-400 Hz band ring, the 2-8 kHz peak over the 30-400 Hz peak in the
    # onset's first frames (a snare's wires), the centre of its strongest band from 30 to 400 Hz, and the
    # 30-400 Hz ring read earlier (``tom_early_ring_start_s``..``tom_early_ring_end_s``).
    low_rings: np.ndarray | None = None
    wire_shares: np.ndarray | None = None
    low_pitches_hz: np.ndarray | None = None
    early_low_rings: np.ndarray | None = None

    def ride_like(self, settings: DrumSettings) -> np.ndarray:
        """Which candidates ring as a ride does (all of them when the band rings are unknown)."""
        if self.mid_rings is None or self.high_rings is None:
            return np.ones(len(self.frames), dtype=bool)
        return (self.mid_rings >= settings.ride_mid_ring) & (self.high_rings < settings.ride_high_ring)

    def eligible(self, settings: DrumSettings) -> np.ndarray:
        """Which candidates are hits at all, whatever their strength: for the groups in ``sustain_margin``,
        those that decay about as the recording's clear hits of their group do (within the margin of their
        median, or of the top of their spread); for those in
        ``minimum_sustain``, those still sounding that long after the onset; for those in ``tail_ring``,
        not a weak bump on a decaying tail (a ring below the group's ``tail_ring``); no snare onset that
        is gone at once without a snare's wires (a kick's click), and no weak one without a head of its own
        (its low band rings on under a cymbal's share of 2-8 kHz: metal the snare templates took)."""
        groups = np.array([piece.group for piece in KIT])[self.pieces]
        eligible = np.ones(len(self.frames), dtype=bool)
        for group, margin in settings.sustain_margin.items():
            mine = groups == group
            clear = self.sustains[mine & (self.strengths >= settings.sustain_reference_strength)]
            cap = settings.fallback_sustain
            if len(clear) >= 3:
                spread_top = float(np.percentile(clear, settings.sustain_spread_percentile))
                cap = max(float(np.median(clear)) + margin, spread_top + settings.sustain_spread_margin)
            eligible[mine] = self.sustains[mine] <= cap
        for group, least in settings.minimum_sustain.items():
            eligible &= ~((groups == group) & (self.sustains < least))
        for group, ring in settings.tail_ring.items():
            eligible &= ~((groups == group) & (self.rings < ring) & (self.strengths < settings.tail_strength))
        if self.wire_shares is not None:
            eligible &= ~((groups == "snare") & (self.sustains < settings.click_sustain)
                          & (self.wire_shares < settings.click_wire_share))
        if self.low_rings is not None and self.wire_shares is not None:
            eligible &= ~((groups == "snare") & (self.strengths < settings.headless_strength)
                          & (self.low_rings >= settings.headless_low_ring)
                          & (self.wire_shares >= settings.tom_wire_share_cap))
        return eligible

    def kept(self, settings: DrumSettings) -> list[Hit]:
        """The candidates strong enough (and, for cymbals, ringing long enough) to be notes, in time order."""
        groups = np.array([piece.group for piece in KIT])[self.pieces]
        thresholds = np.array([settings.threshold[piece.group] for piece in KIT], dtype=np.float64)[self.pieces]
        minimum_ring = np.array([settings.minimum_ring.get(piece.group, -np.inf) for piece in KIT])
        ride_like = self.ride_like(settings)
        rings_enough = (self.rings >= minimum_ring[self.pieces]) & self.eligible(settings) & (
            (self.pieces != _RIDE) | ride_like)
        if self.mid_rings is not None:
            rings_enough |= (groups == "crash") & (self.mid_rings >= settings.crash_band_ring) & (
                self.high_rings >= settings.crash_band_ring)
            rings_enough &= (groups != "crash") | (self.mid_rings >= settings.crash_mid_ring)
        kept = (self.strengths >= thresholds) & (self.strengths > 0) & rings_enough
        window = int(round(settings.mask_window_s * FRAME_RATE))
        for group, alone in settings.threshold_alone.items():
            masking = kept & np.isin(groups, settings.masked_by.get(group, ()))
            order = np.argsort(self.frames[masking])
            masker_frames, masker_strengths = self.frames[masking][order], self.strengths[masking][order]
            mine = np.flatnonzero(groups == group)
            loudest_masker = _loudest_near(self.frames[mine], masker_frames, masker_strengths, window)
            masked = loudest_masker > 0
            strengths = self.strengths[mine]
            kept[mine] = rings_enough[mine] & np.where(
                masked,
                (strengths >= thresholds[mine]) & (strengths >= settings.masker_ratio.get(group, 0.0) * loudest_masker),
                strengths >= alone)
        opening = (self.pieces == _CLOSED) & (self.rings >= settings.open_hat_ratio)
        if self.high_rings is not None:
            opening &= self.high_rings >= settings.open_hat_high_ring
        ringing = np.sort(self.frames[kept & np.isin(groups, settings.open_hat_masked_by)])
        opening &= ~_any_near(self.frames, ringing, window)
        kept = self._under_ringing_cymbals(kept, groups, opening, settings)
        pieces = np.where(opening, _OPEN, self.pieces)
        strengths = self.strengths
        doubled_rides = np.zeros(0, dtype=np.int64)
        if self.mid_rings is not None:
            kept, pieces, doubled_rides = self._rides_among_hats(kept, pieces, groups, ride_like, settings)
            kept, pieces, strengths = self._missed_open_hats(kept, pieces, groups, settings)
        measured_in = np.full(len(self.frames), "", dtype=object)
        if self.low_rings is not None:
            heard = self._toms_heard_as_kicks_or_snares(kept, pieces, groups, settings)
            pieces = np.where(heard >= 0, heard, pieces)
            measured_in[heard >= 0] = groups[heard >= 0]
        kept = self._tom_echoes(kept, pieces, settings)
        order = np.lexsort((pieces[kept], self.frames[kept]))
        hits = [Hit(int(f), int(p), float(s), str(m)) for f, p, s, m in zip(
            self.frames[kept][order], pieces[kept][order], strengths[kept][order], measured_in[kept][order],
            strict=True)]
        if len(doubled_rides):
            hits += [Hit(int(self.frames[i]), _RIDE, float(self.strengths[i])) for i in doubled_rides]
            hits.sort(key=lambda hit: (hit.frame, hit.piece))
        return hits

    def _under_ringing_cymbals(self, kept: np.ndarray, groups: np.ndarray, opening: np.ndarray,
                               settings: DrumSettings) -> np.ndarray:
        """Kept hits that start while a kept ``ring_maskers`` onset struck up to ``ring_mask_s`` before them
        (and not with them: that is ``masked_by``'s) still rings, and that are weak beside it, are the ring's
        swells, dropped: those of the ``ring_masked`` groups under ``ring_mask_ratio`` of its strength, and
        hi-hats that would be open (``opening``) under ``ring_open_hat_ratio``."""
        if settings.ring_mask_s <= 0:
            return kept
        cymbals = kept & np.isin(groups, settings.ring_maskers)
        if not cymbals.any():
            return kept
        order = np.argsort(self.frames[cymbals])
        cymbal_frames, cymbal_strengths = self.frames[cymbals][order], self.strengths[cymbals][order]
        reach = int(round(settings.ring_mask_s * FRAME_RATE))
        window = int(round(settings.mask_window_s * FRAME_RATE))
        masked = np.isin(groups, settings.ring_masked)
        mine = np.flatnonzero(kept & (masked | opening))
        loudest = _loudest_near(self.frames[mine], cymbal_frames, cymbal_strengths, reach, -window - 1)
        ratio = np.where(masked[mine], settings.ring_mask_ratio, settings.ring_open_hat_ratio)
        kept = kept.copy()
        kept[mine[self.strengths[mine] < ratio * loudest]] = False
        return kept

    def _rides_among_hats(self, kept: np.ndarray, pieces: np.ndarray, groups: np.ndarray, ride_like: np.ndarray,
                          settings: DrumSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closed hi-hat hits that ring as a ride become rides where at least ``ride_share`` of the kept
        closed hi-hat hits within ``ride_window_s`` ring so. A hit struck with a kept ``ride_masked_by``
        onset does not count in that share and follows it whatever its rings; one struck with a
        ``ride_doubled_by`` onset stays a closed hi-hat, and its index is returned (third) as a ride
        stroke as well. A ride that lands on a kept ride onset is that onset, not a second stroke. And a
        ride onset on a closed hi-hat stroke where the hits around it are a hi-hat groove (under
        ``hat_groove_share`` of them ring as a ride) is the hat's ring, dropped."""
        none = np.zeros(0, dtype=np.int64)
        hats = np.flatnonzero(kept & (pieces == _CLOSED))
        if len(hats) == 0:
            return kept, pieces, none
        window = settings.ride_window_s * FRAME_RATE
        near = int(round(settings.mask_window_s * FRAME_RATE))
        frames = self.frames[hats]

        def struck_with(names: tuple[str, ...]) -> np.ndarray:
            others = np.sort(self.frames[kept & np.isin(groups, names)])
            return _any_near(frames, others, near)

        masked, doubled = struck_with(settings.ride_masked_by), struck_with(settings.ride_doubled_by)
        like = np.concatenate(([0], np.cumsum(ride_like[hats] & ~masked)))
        counted = np.concatenate(([0], np.cumsum(~masked)))

        def around(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(ride-like, counted) hats within ``ride_window_s`` of each time."""
            low = np.searchsorted(frames, at - window, side="left")
            high = np.searchsorted(frames, at + window, side="right")
            return like[high] - like[low], counted[high] - counted[low]

        ringing, total = around(frames)
        in_ride_groove = (total > 0) & (ringing >= settings.ride_share * total)
        rides = hats[(ride_like[hats] | (masked & ~doubled)) & in_ride_groove]
        also = hats[~ride_like[hats] & masked & doubled & in_ride_groove]
        if settings.hat_groove_share > 0:
            onsets = np.flatnonzero(kept & (self.pieces == _RIDE))
            at = self.frames[onsets]
            ringing, total = around(at)
            hat_groove = (total > 0) & (ringing < settings.hat_groove_share * total)
            kept = kept.copy()
            kept[onsets[_any_near(at, frames, near) & hat_groove]] = False
        struck = np.sort(self.frames[kept & (self.pieces == _RIDE)])
        also = also[~_any_near(self.frames[also], struck, near)]
        if len(rides) == 0:
            return kept, pieces, also
        pieces, kept = pieces.copy(), kept.copy()
        pieces[rides] = _RIDE
        kept[rides[_any_near(self.frames[rides], struck, near)]] = False
        return kept, pieces, also

    def _tom_echoes(self, kept: np.ndarray, pieces: np.ndarray, settings: DrumSettings) -> np.ndarray:
        """Kept tom hits (those heard as kicks or snares included) that come within ``tom_echo_s`` after the
        kept tom hit before them, under ``tom_echo_ratio`` of its strength or whatever their strength when
        that hit's sound is still building (its sustain at least ``tom_echo_building``), are its echo:
        dropped."""
        toms = np.flatnonzero(kept & np.isin(pieces, _TOMS))
        if settings.tom_echo_s <= 0 or len(toms) < 2:
            return kept
        later, earlier = toms[1:], toms[:-1]
        gaps = self.frames[later] - self.frames[earlier]
        echoes = (gaps > 0) & (gaps <= int(round(settings.tom_echo_s * FRAME_RATE))) & (
            (self.strengths[later] < settings.tom_echo_ratio * self.strengths[earlier])
            | (self.sustains[earlier] >= settings.tom_echo_building))
        kept = kept.copy()
        kept[later[echoes]] = False
        return kept

    def _missed_open_hats(self, kept: np.ndarray, pieces: np.ndarray, groups: np.ndarray, settings: DrumSettings,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Snare and crash onsets that were not kept but ring as an open hi-hat does become open hi-hats
        (``missed_open_hat_*`` in DrumSettings). Their strengths were measured against another group's
        templates, which explain only part of them: they are scaled so that the loudest of them (the
        ``LOUD_PERCENTILE``) are as strong as the loudest kept hi-hats."""
        found = (~kept & np.isin(groups, settings.missed_open_hat_from)
                 & (self.strengths >= settings.missed_open_hat_strength) & (self.rings >= settings.missed_open_hat_ring)
                 & (self.mid_rings >= settings.missed_open_hat_mid_ring)
                 & (self.high_rings >= settings.missed_open_hat_high_ring)
                 & (self.high_rings < settings.missed_open_hat_high_cap))
        if not found.any():
            return kept, pieces, self.strengths
        window = int(round(settings.mask_window_s * FRAME_RATE))
        metal = np.sort(self.frames[kept & np.isin(pieces, (_CLOSED, _OPEN, _RIDE))])
        found &= ~_any_near(self.frames, metal, window)
        crashes = np.sort(self.frames[kept & (groups == "crash")])
        after = int(round(settings.missed_open_hat_after_crash_s * FRAME_RATE))
        found &= ~_any_near(self.frames, crashes, after, window)
        chosen, last = [], None
        for index in np.flatnonzero(found):  # in time order: one hit where a snare and a crash onset both qualify
            if last is None or self.frames[index] - last > window:
                chosen.append(index)
                last = self.frames[index]
        if not chosen:
            return kept, pieces, self.strengths
        hats = self.strengths[kept & (groups == "hihat")]
        strengths = self.strengths.copy()
        if len(hats):
            strengths[chosen] *= np.percentile(hats, LOUD_PERCENTILE) / np.percentile(strengths[chosen], LOUD_PERCENTILE)
        kept, pieces = kept.copy(), pieces.copy()
        kept[chosen], pieces[chosen] = True, _OPEN
        return kept, pieces, strengths

    def _toms_heard_as_kicks_or_snares(self, kept: np.ndarray, pieces: np.ndarray, groups: np.ndarray,
                                       settings: DrumSettings) -> np.ndarray:
        """Kept kick and snare hits whose head rings on well past the median of the recording's kept hits of
        their group, without a snare's wires, are toms (``tom_*`` in DrumSettings): for each candidate, the
        tom whose pitch is nearest the hit's strongest low band, or -1 where it is not such a hit. A hit of
        a ``tom_early_ring_from`` group that another kept stroke follows within its low ring's span is
        read at its early low ring instead, since that stroke sounds in the span."""
        window = int(round(settings.mask_window_s * FRAME_RATE))
        toms = np.sort(self.frames[kept & (groups == "tom")])
        lone = ~_any_near(self.frames, toms, window)
        followed = None  # whether a kept stroke sounds in each candidate's low ring span (for the early rings)
        if self.early_low_rings is not None and settings.tom_early_ring_from:
            struck = np.sort(self.frames[kept & np.isin(groups, ("kick", "snare", "tom"))])
            followed = _any_near(self.frames, struck, -int(round(settings.tom_followed_from_s * FRAME_RATE)),
                                 int(round(settings.ride_ring_end_s * FRAME_RATE)))
        toms_heard = np.full(len(self.frames), -1, dtype=np.int64)
        for group in settings.toms_from:
            mine = kept & (groups == group)
            if mine.sum() < 3:
                continue
            limit = np.median(self.low_rings[mine]) + settings.tom_low_ring_margin
            rings_on = self.low_rings > limit
            if followed is not None and group in settings.tom_early_ring_from:
                early_limit = np.median(self.early_low_rings[mine]) + settings.tom_early_ring_margin
                rings_on = np.where(followed, self.early_low_rings > early_limit, rings_on)
            heard = mine & lone & rings_on & (self.wire_shares < settings.tom_wire_share_cap)
            distance = np.abs(np.log(np.maximum(self.low_pitches_hz[heard], 1.0))[:, None] - _LOG_TOM_PITCHES[None, :])
            toms_heard[heard] = _TOMS[distance.argmin(axis=1)]
        return toms_heard


def _any_near(frames: np.ndarray, sorted_others: np.ndarray, before: int, after: int | None = None) -> np.ndarray:
    """For each frame, whether any of ``sorted_others`` lies from ``before`` frames before it to ``after``
    frames after it (``after`` defaults to ``before``)."""
    after = before if after is None else after
    return (np.searchsorted(sorted_others, frames + after, side="right")
            > np.searchsorted(sorted_others, frames - before, side="left"))


def _loudest_near(frames: np.ndarray, sorted_others: np.ndarray, strengths: np.ndarray, before: int,
                  after: int | None = None) -> np.ndarray:
    """For each frame, the largest strength of ``sorted_others`` from ``before`` frames before it to ``after``
    frames after it (``after`` defaults to ``before``; a negative one ends the span before the frame), or 0
    if none lies there."""
    after = before if after is None else after
    loudest = np.zeros(len(frames), dtype=np.float64)
    if len(sorted_others) == 0:
        return loudest
    first = np.searchsorted(sorted_others, frames - before, side="left")
    last = np.searchsorted(sorted_others, frames + after, side="right")
    for index in np.flatnonzero(last > first):
        loudest[index] = strengths[first[index]:last[index]].max()
    return loudest


class LevelHistogram:
    """Percentiles of per-frame levels over a whole recording in constant memory (log-spaced bins)."""

    EDGES = np.logspace(-9, 6, 15 * 40 + 1)

    def __init__(self):
        self.counts = np.zeros(len(self.EDGES) + 1, dtype=np.int64)

    def add(self, levels: np.ndarray) -> None:
        self.counts += np.bincount(np.searchsorted(self.EDGES, levels), minlength=len(self.counts))

    def percentile(self, q: float) -> float:
        total = int(self.counts.sum())
        if total == 0:
            return 0.0
        index = int(np.searchsorted(np.cumsum(self.counts), q / 100.0 * total))
        return float(self.EDGES[min(index, len(self.EDGES) - 1)])


class OnsetPicker:
    """Feed activation chunks (pieces, frames) in order with :meth:`add`; :meth:`finish` gives the hits."""

    def __init__(self, settings: DrumSettings):
        self.settings = settings
        self.half_window = max(1, int(round(settings.peak_window_s * FRAME_RATE)))
        self.probe = max(_PEAK_SPAN + 1, int(round(settings.ring_probe_s * FRAME_RATE)))
        self.sustain_from = max(1, int(round(settings.sustain_start_s * FRAME_RATE)))
        self.sustain_to = max(self.sustain_from, int(round(settings.sustain_end_s * FRAME_RATE)))
        self.lookahead = max(self.half_window, self.probe, _PEAK_SPAN, self.sustain_to)
        # Activations of frames start, start + 1, …; it begins with silence before frame 0.
        self.start = -_HISTORY - self.half_window
        self.buffer = np.zeros((len(KIT), -self.start), dtype=np.float32)
        self.next_frame = 0  # first frame not yet examined
        self.levels = LevelHistogram()
        self.group_levels = [LevelHistogram() for _ in GROUPS]
        self._frames: list[np.ndarray] = []
        self._pieces: list[np.ndarray] = []
        self._strengths: list[np.ndarray] = []
        self._rings: list[np.ndarray] = []
        self._sustains: list[np.ndarray] = []
        self.ride_from = int(round(settings.ride_ring_start_s * FRAME_RATE))
        self.ride_to = max(self.ride_from, int(round(settings.ride_ring_end_s * FRAME_RATE)))
        self.lookahead = max(self.lookahead, self.ride_to, _PITCH_FRAMES[1])
        # The spectrogram's 2-8 kHz and >8 kHz levels, then its bands from 30 to 400 Hz, frame for frame
        # with ``buffer``, when it is given.
        self.bands: np.ndarray | None = None
        self._mid_rings: list[np.ndarray] = []
        self._high_rings: list[np.ndarray] = []
        self._low_rings: list[np.ndarray] = []
        self._wire_shares: list[np.ndarray] = []
        self._low_pitches: list[np.ndarray] = []
        self._early_low_rings: list[np.ndarray] = []
        self.early_from = int(round(settings.tom_early_ring_start_s * FRAME_RATE))
        self.early_to = max(self.early_from, int(round(settings.tom_early_ring_end_s * FRAME_RATE)))
        self.lookahead = max(self.lookahead, self.early_to)

    def add(self, activations: np.ndarray, spectrum: np.ndarray | None = None) -> None:
        """Feed the next chunk's activations and, for the ride's band rings, the same frames' spectrogram
        (always or never)."""
        self.levels.add(activations.sum(axis=0))
        for histogram, members in zip(self.group_levels, GROUP_MEMBERS, strict=True):
            histogram.add(activations[members].sum(axis=0))
        if spectrum is not None:
            levels = np.vstack((spectrum[_MID_BANDS].sum(axis=0), spectrum[_HIGH_BANDS].sum(axis=0),
                                spectrum[_LOW_BANDS]))
            if self.bands is None:
                self.bands = np.zeros((len(levels), self.buffer.shape[1]), dtype=np.float32)
            self.bands = np.concatenate((self.bands, levels.astype(np.float32)), axis=1)
        self.buffer = np.concatenate((self.buffer, activations), axis=1)
        self._examine(final=False)

    def finish(self) -> Candidates:
        padding = np.zeros((len(KIT), self.lookahead + 1), dtype=np.float32)
        end = self.start + self.buffer.shape[1]
        self.buffer = np.concatenate((self.buffer, padding), axis=1)
        if self.bands is not None:
            self.bands = np.concatenate((self.bands, np.zeros((len(self.bands), padding.shape[1]), np.float32)), axis=1)
        self._examine(final=True, end=end)
        return self._candidates()

    def _examine(self, final: bool, end: int | None = None) -> None:
        """Find candidates among frames whose look-ahead is in the buffer, then drop what is no longer needed."""
        buffered_end = self.start + self.buffer.shape[1]
        stop = end if final else buffered_end - self.lookahead
        if stop <= self.next_frame:
            return
        first = self.next_frame - self.start  # buffer index of the first frame to examine
        count = stop - self.next_frame
        low = self.bands[2:].sum(axis=0) if self.bands is not None else None  # the 30-400 Hz level
        for group, members in enumerate(GROUP_MEMBERS):
            activation = self.buffer[members].sum(axis=0)
            strength = np.maximum(0.0, activation[_HISTORY:] - np.minimum(activation[1:-1], activation[:-2]))
            # strength[i] belongs to buffer index i + _HISTORY.
            lo, hi = first - _HISTORY, first - _HISTORY + count
            around = np.lib.stride_tricks.sliding_window_view(
                strength[lo - self.half_window:hi + self.half_window], 2 * self.half_window + 1)
            centre = strength[lo:hi]
            is_peak = (centre > 0) & (centre >= around.max(axis=1))
            indices = np.flatnonzero(is_peak) + first  # buffer indices of the onsets
            if len(indices) == 0:
                continue
            self._frames.append(indices + self.start)
            self._strengths.append(strength[indices - _HISTORY].astype(np.float32))
            self._pieces.append(self._pieces_at(group, members, indices))
            self._rings.append(self._rings_at(self.buffer[METAL if group == HIHAT else members].sum(axis=0), indices))
            self._sustains.append(self._sustains_at(activation, indices))
            if self.bands is not None:
                for found, level in zip((self._mid_rings, self._high_rings, self._low_rings),
                                        (self.bands[0], self.bands[1], low), strict=True):
                    found.append(self._band_rings_at(level, indices))
                self._early_low_rings.append(self._band_rings_at(low, indices, self.early_from, self.early_to))
                spans = indices[:, None] + np.arange(_PEAK_SPAN)[None, :]
                wires = self.bands[0][spans].max(axis=1) / np.maximum(low[spans].max(axis=1), 1e-12)
                self._wire_shares.append(wires.astype(np.float32))
                after = indices[:, None] + np.arange(*_PITCH_FRAMES)[None, :]
                strongest = self.bands[2:][:, after].mean(axis=2).argmax(axis=0)
                self._low_pitches.append(_LOW_CENTRES_HZ[strongest].astype(np.float32))
        self.next_frame = stop
        keep_from = max(0, self.next_frame - self.start - _HISTORY - self.half_window - 1)
        self.buffer = self.buffer[:, keep_from:]
        if self.bands is not None:
            self.bands = self.bands[:, keep_from:]
        self.start += keep_from

    def _pieces_at(self, group: int, members: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """The piece of each onset: the group's member with the most activation (hi-hats: closed, for now)."""
        if group == HIHAT:
            return np.full(len(indices), _CLOSED, dtype=np.int8)
        spans = indices[:, None] + np.arange(_PEAK_SPAN)[None, :]
        strongest = self.buffer[members][:, spans].max(axis=2).argmax(axis=0)
        return members[strongest].astype(np.int8)

    def _rings_at(self, activation: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """How much of each onset's rise (over what rang before it) is left until the probe time."""
        before = np.minimum(activation[indices - 1], activation[indices - 2])
        spans = indices[:, None] + np.arange(_PEAK_SPAN)[None, :]
        rise = activation[spans].max(axis=1) - before
        later = indices[:, None] + np.arange(_PEAK_SPAN, self.probe + 1)[None, :]
        remaining = activation[later].min(axis=1) - before
        return (remaining / np.maximum(rise, 1e-12)).astype(np.float32)

    def _sustains_at(self, activation: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Each onset's mean activation ``sustain_start_s``..``sustain_end_s`` on, over its peak."""
        peak = activation[indices[:, None] + np.arange(_PEAK_SPAN)[None, :]].max(axis=1)
        later = activation[indices[:, None] + np.arange(self.sustain_from, self.sustain_to + 1)[None, :]].mean(axis=1)
        return (later / np.maximum(peak, 1e-12)).astype(np.float32)

    def _band_rings_at(self, level: np.ndarray, indices: np.ndarray, start: int | None = None,
                       end: int | None = None) -> np.ndarray:
        """Each onset's lowest band level from ``start`` to ``end`` frames on (``ride_ring_start_s``..
        ``ride_ring_end_s`` unless given), over its peak."""
        start = self.ride_from if start is None else start
        end = self.ride_to if end is None else end
        peak = level[indices[:, None] + np.arange(_PEAK_SPAN)[None, :]].max(axis=1)
        later = level[indices[:, None] + np.arange(start, end + 1)[None, :]].min(axis=1)
        return (later / np.maximum(peak, 1e-12)).astype(np.float32)

    def _candidates(self) -> Candidates:
        level = self.levels.percentile(self.settings.level_percentile)
        if not self._frames or level <= 0:
            empty = np.zeros(0, dtype=np.int64)
            return Candidates(empty, empty.astype(np.int8), empty.astype(np.float32), empty.astype(np.float32),
                              empty.astype(np.float32))
        # Each group's strengths against its own loud moments, but never against less than a share of
        # the whole recording's level: a piece that is never played has only leakage to measure.
        percentiles = [self.settings.group_level_percentiles.get(group, self.settings.group_level_percentile)
                       for group in GROUPS]
        references = np.array([max(histogram.percentile(percentile), self.settings.group_level_floor * level)
                               for histogram, percentile in zip(self.group_levels, percentiles, strict=True)])
        frames, pieces = np.concatenate(self._frames), np.concatenate(self._pieces)
        order = np.lexsort((pieces, frames))  # the same order however the audio was chunked
        frames, pieces = frames[order], pieces[order]
        groups = np.array([GROUPS.index(piece.group) for piece in KIT])[pieces]
        band_rings = [np.concatenate(rings)[order] if self.bands is not None else None
                      for rings in (self._mid_rings, self._high_rings, self._low_rings, self._wire_shares,
                                    self._low_pitches, self._early_low_rings)]
        return Candidates(frames, pieces, (np.concatenate(self._strengths)[order] / references[groups]).astype(np.float32),
                          np.concatenate(self._rings)[order], np.concatenate(self._sustains)[order], *band_rings)
