"""Metre and downbeats from the pulse and the notes: which level is the beat, how beats group into bars.

A beat tracker finds a pulse, but not which metrical level it is: the same music gives a pulse at
the quarter, the eighth or the half note. The beat is the reading of the pulse (as it is, doubled,
tripled, halved, in thirds, or 2:3 and 3:2; those built on halves of the pulse only where the notes
do not clearly divide it in thirds, and the reverse) with the best level score: the pulse as tracked starts
ahead (its tempo curve already weighed every periodicity against a tempo prior), and a reading
gains by how much more note weight its points carry than the points between them and by a prior
over notated beat tempi, which moves a pulse tracked at half or double speed. Bars are then found
at that level: music marks them with what happens at their start (a bass note, a change of chord, a
long note, more notes at once; a drum kit, with its kick and a crash), so for each bar length of 2, 3 or 4
beats and each phase the bar score is how much the would-be downbeats stand out from the other beats in
those marks. Onsets on the beat's thirds rather than its half (and often enough) tell compound metre (6/8)
from simple.

The level scores' choice then gets a second look against its double and its half (``second_look``): a logistic
score, fitted on the tuning pieces, of how the two differ in short gaps between onsets, bar clarity, onset density,
salience and harmonic rhythm. Then a compound look (``compound_look``): where the beat's halves group in threes
(6/8's eighths) far more clearly than in twos, the beat is the dotted quarter, at 2:3 of the tempo. Last, a beat
faster than written music counts one is read two or three at a time (``below_the_ceiling``), and one slower is
divided in two or three (``above_the_floor``).

Between the level and the bars the beat's phase is checked against the bass: a pulse follows the
strongest onsets, and in an oom-pah (a march's bass on the beat, its chords on the off-beat) or a jig
(bass on the dotted quarter, chords on its third eighth) those are the chords. When the points half
a beat or a third of a beat on carry far more bass than the beats do, the beats move there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .options import Hints

BAR_LENGTHS = (2, 3, 4)
# The notated beat's tempo prior (log-normal): most written music counts its beat at 60-180 BPM.
BEAT_PRIOR_CENTRE_BPM = 120.0
BEAT_PRIOR_WIDTH_OCTAVES = 0.7
# Weights, in choosing the beat level, of being the tracked pulse itself (its tempo curve already
# weighed the periodicities with a tempo prior), of a reading's salience and of the beat tempo prior.
# Chosen on the tuning pieces (bench/tempo_tune.py).
PULSE_WEIGHT = 1.5
SALIENCE_WEIGHT = 2.0
PRIOR_WEIGHT = 0.5
# The onset-density prior: written music's beat holds about two onsets (a chord counted once), so a reading
# with many more per beat is likely the beat's half speed, and one with about one per beat its double (where
# the salience does not outweigh it). The score loses DENSITY_WEIGHT / 2 per squared octave between a
# reading's onsets per beat and DENSITY_CENTRE. The tempo prior alone cannot tell a beat from its half or
# double where both lie in 60-180 BPM (it is even about 85 and 170); onsets per beat can: over the 200 tuning
# pieces the notated beat holds 1.2-3.5 onsets (5th-95th percentile), the fast pieces read at half speed held
# 2.1-7.5 per beat read, the slow ballads read at their running eighths 0.9-1.3. Chosen with the three weights
# above by bench/tempo_tune.py. Two-fold cross-validation on the tuning pieces (5 random splits) chose a
# density prior in all 10 folds (centre 1.4-2.0, 1.8 in 6) and gained, on the other fold, 1 tempo in 100 and
# 0.074 of band-balanced Acc1 on average (-6 to +5 tempi). Whole tracker, with the cap below: tuning pieces
# 163 -> 170 of 200 right, Acc1 averaged over the 20-BPM bands of 60-180 0.738 -> 0.820; held back (the second
# set's half, the fourth set, the fifth's half) 126 -> 128 of 160, 0.701 -> 0.762; a sixth set drawn afterwards
# 61 -> 67 of 80 (bench/tempo.py). Pitched notes only (``find_metre``).
DENSITY_WEIGHT = 2.0
DENSITY_CENTRE = 1.8
# ... and no more than this far (octaves) counts: a texture far outside the dev sets' (32nd-note runs, 8 onsets
# a beat) would otherwise be pulled two levels up by the prior alone (100 BPM read at 300). Of the 440 pieces of
# the six tempo sets the cap changes one, a tuning piece (a 6/8 piece at 118 BPM over drums, 7.5 onsets a beat
# read at half speed, now read so); at 1 octave it would cost 7 of the 200 tuning pieces.
DENSITY_CAP_OCTAVES = 1.5
# Chords and grace notes closer together than this are one onset.
DENSITY_CHORD_S = 0.03
# The second look (``second_look``): once the level scores have chosen a reading, it is weighed against the
# reading at twice its tempo (a fast piece tracked at its half notes) and then against the one at half its tempo
# (a slow piece tracked at its running eighths), by a logistic score of how the two readings' LOOK_FEATURES differ:
# - "short": the share of the gaps between onsets shorter than SHORT_IOI_SHARE of a beat (at the slower reading
#   the faster one's eighths become sixteenths, which written music holds fewer of);
# - "bar": how clearly the beats group into bars (``bar_clarity``: at the right level the downbeats stand out);
# - "density" and "salience": the onset-density prior's term and the salience, as in ``level_scores``;
# - "harmony": how far the beats a chord lasts lie from HARMONY_BEATS (``harmonic_rhythm``): written music
#   changes chord every two to four beats, read at half speed every one or two, at double every four to eight.
# The other reading is taken when bias + weights . (its features - the chosen one's) > 0, and never when its onsets
# a beat lie beyond DENSITY_CAP_OCTAVES of DENSITY_CENTRE (textures the look was not fitted on: 32nd-note runs
# over a bass on every beat at 100 BPM were halved). The level scores weigh every reading at once, thirds and 3:2
# included, and could not use these cues: a conditional logit over all the readings with them (and with the
# onset envelope's autocorrelation, the harmony's and the bass's salience, the notes' length) gained little in
# cross-validation (+2 tempi per 180, -3 to +6). The choice between a reading and its double or half is where
# most misses are.
# Fitted (logistic regression, L2 1.0 on standardised features; bench/tempo_tune.py --second-look) on the 360
# tuning pieces (the 200 and the seventh set's 160), where exactly one of the two readings is right. Level
# choice alone (that script's proxy): 289 -> 309 of the 360 right; two-fold cross-validation over them (10
# random splits) gained 7.8 tempi per 180 pieces on the other fold (+5 to +10, never a loss); fitted on the 200
# alone it took the seventh set from 120 to 126 of 160, fitted on the seventh set alone the 200 from 169 to 177.
# It costs some Acc2 (330 against 333 of the 360): a compound piece read at its eighths (3x) and halved is at
# 1.5x, though its bars then fall on the music's bars. Refitted on the folded tempo curve (engine/beats.py
# ``folded``, stop 56) the weights move by at most 0.36 and cross-validate at +8.0 per 180; they are left as fitted.
# Stop 57 added 320 tuning pieces (bench/tempo.py --set fourteenth): the four-feature weights fitted on the 360 took
# the level choice there from 240 to 255 right, as many as a refit on all 680 (566 of the 680 against their 567):
# the fit was no longer short of data. Refits tried and not kept: every 20-BPM band weighed alike (a fresh set,
# --set thirteenth, lost 5 of 160), and the top voice's or the bass's onsets a beat as a fifth feature. The
# harmonic rhythm as the fifth ("harmony", below) was kept: the weights below are fitted on all 680 with it. Level
# choice: 567 -> 574 of the 680 right; fitted on the other two groups, the fourteenth set 255 -> 262, the seventh
# 130 -> 133, the 200 178 -> 179; two-fold cross-validation +17.9 per 340 (+12 to +26) against +14.6 (+8 to +20).
# Whole tracker (bench/tempo.py --notes) on the 680: 599 -> 607 right, beat F 0.929 -> 0.934, time signatures
# 546 -> 555; from the note onsets 522 -> 526. A sixteenth set, rendered before the choice and scored after it
# (--set sixteenth): 137 -> 140 of 160 (four gained, one lost), from the notes 121 -> 125.
LOOK_FEATURES = ("short", "bar", "density", "salience", "harmony")
SHORT_IOI_SHARE = 0.3
# The harmonic rhythm (stop 57): a beat whose span's pitch classes differ from the span before by more than
# HARMONY_CHANGE (``harmonic_change``, 1 - cosine) starts a chord; the feature loses 1/2 per squared octave between
# the beats per chord and HARMONY_BEATS, counted to HARMONY_CAP_OCTAVES. Chosen on the 680 tuning pieces (the 200,
# the seventh and the fourteenth sets; /tmp scripts applied each setting to bench/tempo_tune.py's look material):
# two-fold cross-validation of the whole fit, tempi right per 340 on the other fold, +14.6 without the feature;
# with it, change 0.1 to 0.25 and 3 beats +17.9 to +18.5, 4 beats +17.6, 2 beats +15.1, 1.5 beats +14.4, change 0.5
# +14.2. Tried before it and not kept: the top voice's and the bass's onsets a beat (+13.2 to +15.2).
HARMONY_CHANGE = 0.2
HARMONY_BEATS = 3.0
HARMONY_CAP_OCTAVES = 2.0
LOOK_TOLERANCE = 0.03
# (ratio of the other reading's tempo to the chosen one's, (bias, weights in LOOK_FEATURES' order)), in the
# order they are looked at; a reading counts as that ratio within LOOK_TOLERANCE.
LOOK_WEIGHTS = (
    (2.0, (-6.46, (-11.06, 0.78, 2.30, 3.73, 1.53))),
    (0.5, (-1.04, (0.17, 0.61, 4.51, 0.98, 5.66))),
)
# The compound look (``compound_look``), after the second look: a 6/8 piece whose pulse was tracked at every second
# eighth (its "quarter", 3:2 of the dotted quarter; the pulse tracker's tempo prior favours it) is read at the dotted
# quarter when its eighths group in threes more clearly than in twos: the best bar score (``bar_scores``, the same
# marks of bass, harmony, length and accent) of the eighths taken three at a time beats the best taken two at a time
# by at least GROUPING_MARGIN. The salience and the second look's cues barely tell 6/8 from 3/4 (a logistic fit on
# them, with the bass's and the harmony's salience besides, never took the 2:3 reading); how the eighths group does.
# Chosen on the 360 tuning pieces (bench/tempo_tune.py --compound-look), where after the second look the 2:3 reading
# is the right one in 10 and the reading itself in 309: 309 -> 313 right, a plateau from 0.7 to 1.2 (0.5 gains
# nothing, 0.2 loses 11); two-fold cross-validation (20 splits) +1.4 tempi per 180 on the other fold (-1 to +3).
# Whole tracker (bench/tempo.py): the tuning pieces 315 -> 319 of 360 (one 3/4 piece at 149 BPM lost, read at 99);
# a ninth set drawn afterwards and held back whole 138 -> 140 of 160, none lost. A user's simple metre turns it off.
# Read again on the folded tempo curve (engine/beats.py ``folded``, stop 56): 312 -> 315, the same plateau.
GROUPING_MARGIN = 0.9
# ... and needs this many beats at 2:3 among the notes (six bars of 6/8): in 4 to 8-s excerpts of the tuning pieces
# (bench/tempo.py --half tuning --clips 4 6 8), with 4 to 8 such beats, it took five excerpts of 3/4 and 4/4 pieces
# to 2:3 and none of 6/8.
MIN_GROUPING_BEATS = 12
# A beat faster than this (BPM) is a subdivision: written music seldom counts one, and the readings above it that
# the looks kept were a jig's or a pop song's eighths, or a 6/8 ballad's. Such beats are read slower
# (``below_the_ceiling``): taken three at a time where they group in threes by THIRDS_MARGIN more clearly than in
# twos (``threes_over_twos``, as GROUPING_MARGIN's), two at a time otherwise. Like the looks it is left
# out with a tempo hint or a drum backbeat, which choose the level themselves. Chosen on the 360 tuning pieces
# (bench/tempo.py --notes --constant metre.BEAT_CEILING_BPM=C --constant metre.THIRDS_MARGIN=M; tempi right from the
# posterior / the note onsets, 323 / 276 without the ceiling): 195 and 205 BPM 324 / 282, 210 324 / 281, 190
# 323 / 282 (a piece whose beat is at 193 after a tempo change), 220 323 / 279; margins 0.9 and 1.5 324 / 282, 2.0
# 324 / 281. On their 4, 6 and 8 s excerpts (each margin applied to the readings kept without the ceiling) 1.5 gains
# one more than 0.9; bench/tempo.py --clips then measured seven gained at 1.5, none lost. Taking the
# slower reading the level scores prefer, without the grouping, read two 6/8 ballads' eighths at half their tempo.
BEAT_CEILING_BPM = 205.0
THIRDS_MARGIN = 1.5
# A beat slower than this (BPM) is a bar or half a bar: the readings below it that the looks kept were mostly a
# minuet read a bar a beat (as 12/8) or a ballad read two beats a beat. Such beats are read faster
# (``above_the_floor``): in thirds where the notes between them fall on thirds more than on halves and quarters
# (``subdivision_weights``), in halves otherwise. Left out with a tempo hint or a drum backbeat, as the ceiling.
# Chosen on the 680 tuning pieces (bench/tempo.py --notes --constant metre.BEAT_FLOOR_BPM=F; tempi right from the
# posterior / the note onsets, 607 / 526 without the floor): 48 BPM 610 / 529, 52.5 612 / 529, 53.5 and 54 613 / 531,
# 55 613 / 530, 57 610 / 528. A seventeenth set, rendered before the choice and scored after it (--set seventeenth):
# 143 -> 144 of 160; the 1520 pieces held back before it 1366 -> 1377 (notes 1229 -> 1243), none lost.
BEAT_FLOOR_BPM = 54.0
# With a user's tempo hint the level is chosen with the weights HINT_WIDTH_OCTAVES was chosen with: pulse,
# salience and the hint's prior at 1, no density prior (the hint says more about the level than the notes).
HINTED_WEIGHTS = (1.0, 1.0, 1.0)
# With a user's tempo hint (``tempo_hint``, BPM) the prior is centred on it instead, and narrower: the
# level nearest the hint wins unless the music clearly says otherwise, and a guess a quarter off still
# finds its level. Chosen on the 160 tuning pieces' pulses and notes, with hints drawn at random within
# ±10, 20, 25 and 33 % of the notated tempo (five draws each): 156, 155.6, 155.4 and 152.8 of them get the
# right level at 0.35 octaves, against 134 without a hint (156 have a right reading to choose); 0.3 and
# 0.4 are within 0.6 of that, 0.2 and 0.5 lose up to 5. bench/tempo.py --hint-spread reports it.
HINT_WIDTH_OCTAVES = 0.35
# Marks of a downbeat and their weights in the bar score. Drum hits (``beat_marks``) mark it with the kick,
# counted as bass, and with crashes, which drummers play on the one, after a fill and at a phrase's start;
# a drum recording has no harmony, and its hits no written length or accent of their own. The crash's
# weight was chosen on the drum dev set's tuning half (bench/drums.py --tempo: downbeat F 0.842 at 0.5,
# 0.915 at 1.5, 0.947 at 2, 0.924 at 3); pitched notes never reach it.
MARK_WEIGHTS = {"bass": 1.0, "harmony": 1.0, "length": 0.5, "accent": 0.5, "crash": 2.0}
# A note belongs to a beat when it starts within this fraction of a beat period of it.
ONSET_TOLERANCE = 0.2
# Notes in the lowest quarter of the piece's pitches count as its bass.
BASS_QUANTILE = 0.25
# General MIDI keys of the drum hits that mark a downbeat: the bass drums, and crash cymbals 1 and 2.
KICK_KEYS = (35, 36)
CRASH_KEYS = (49, 57)
# The backbeat: most grooves put the snare's strokes (acoustic and electric snare) on beats 2 and 4, so
# the time from one loud snare stroke to the next is, more often than any other, two beats. A loud stroke
# is at least LOUD_SNARE_SHARE of the 90th percentile of the snare's velocities (not a ghost note). Of the
# intervals in BACKBEAT_RANGE_S (at least BACKBEAT_MIN_INTERVALS of them), the most common is the one the
# most others lie within BACKBEAT_SPREAD of, and it counts when at least BACKBEAT_SUPPORT of all the loud
# strokes' intervals do (fills and ghost notes make the rest).
# Longer intervals are no backbeat: a half-time groove's snare on 3 comes once a bar, four beats apart; they
# still count in the support, so its fills alone make none. Two intervals are enough: a one-bar loop of
# 4 s has only two or three strokes (at six, as first chosen, funk and 16th-note rock loops of 4-8 s were
# read at twice their tempo; bench/drums.py --clips).
# Readings whose period is within BACKBEAT_TOLERANCE of half that interval gain BACKBEAT_WEIGHT in the
# level score: twice the tracked pulse's bonus, so a pulse tracked at the hi-hats' eighths gives way.
# Chosen on the drum dev set's tuning half (bench/drums.py --tempo): Acc1 92 -> 98 % for weights from 1
# to 10 and supports of 0.3 and 0.5 alike (funk at 107 BPM was read at 215, its eighths).
SNARE_KEYS = (38, 40)
LOUD_SNARE_SHARE = 0.6
BACKBEAT_RANGE_S = (0.25, 2.0)
BACKBEAT_SPREAD = 0.06
BACKBEAT_SUPPORT = 0.5
BACKBEAT_MIN_INTERVALS = 2
BACKBEAT_TOLERANCE = 0.08
BACKBEAT_WEIGHT = 2.0
# Time resolution of the running pitch-class integral the harmonic change is read from.
CHROMA_RATE_HZ = 100.0
# Bar lengths are scored relative to 2 beats: a longer bar must earn its place by this much.
LONGER_BAR_MARGIN = 0.1
# The beat's phase: the shifts (in beats) tried, the bass that counts (notes in this lowest share of the
# pitches: the lowest quarter takes in the low notes of the chords), how near a note must start (a
# share of the beat), and how many times the beats' own bass weight a shift must carry to be taken.
# Chosen on the tuning pieces (bench/tempo.py --set third, the first set and the second's tuning half):
# 8 pieces there are off by half or a third of a beat, with bass ratios 1.18 and 1.81-4.85; among the
# others the highest is 1.28, then 1.01.
PHASE_SHIFTS = (1 / 2, 1 / 3, 2 / 3)
PHASE_BASS_QUANTILE = 0.15
PHASE_TOLERANCE = 0.15
PHASE_BASS_MARGIN = 1.5
# The readings a pulse can have follow how the music divides it: when the notes start on its thirds this
# many times more than on its halves and quarters (or the reverse), the readings built on the other
# division are not candidates. A fast waltz tracked a bar at a time is read in thirds of the bar (its
# beats), never in halves. Chosen on the 160 tuning pieces: the level choice alone gets 133 -> 135 right
# (1.0 gives 136), none lost; the whole tracker gains one of them, with equal figures from 1.25 to 2.
DIVISION_MARGIN = 1.5
# Compound metre needs onsets on the beat's thirds weighing at least this share of those on the beat;
# an onset is on a subdivision within this fraction of the beat.
MIN_THIRDS_SHARE = 0.4
SUBDIVISION_TOLERANCE = 0.06


@dataclass(frozen=True)
class NoteArrays:
    """The notes as columns, which every mark below reads."""

    starts: np.ndarray
    ends: np.ndarray
    pitches: np.ndarray
    amplitudes: np.ndarray

    @classmethod
    def of(cls, notes) -> NoteArrays:
        return cls(
            starts=np.array([note.start_s for note in notes], dtype=np.float64),
            ends=np.array([note.end_s for note in notes], dtype=np.float64),
            pitches=np.array([note.pitch for note in notes], dtype=np.int64),
            amplitudes=np.array([note.amplitude for note in notes], dtype=np.float64),
        )

    def only(self, chosen: np.ndarray) -> NoteArrays:
        """The notes flagged in ``chosen``."""
        return NoteArrays(self.starts[chosen], self.ends[chosen], self.pitches[chosen], self.amplitudes[chosen])


@dataclass(frozen=True)
class Metre:
    beats: np.ndarray  # seconds of every beat at the chosen level
    beats_per_bar: int
    compound: bool  # each beat divides in three (6/8) rather than two
    first_downbeat: int  # index into beats


def readings(pulse: np.ndarray, division: int | None = None) -> list[np.ndarray]:
    """The pulse read at the levels a beat tracker confuses with the beat: as it is, doubled, tripled,
    halved and in thirds (every phase), and the 2:3 and 3:2 readings that turn a quarter-note pulse
    into 6/8's dotted quarters and back. With ``division`` 2 (the music divides the pulse in halves,
    ``pulse_division``) the readings built on its thirds are left out, with 3 those built on its halves."""
    doubled, tripled = subdivided(pulse, 2), subdivided(pulse, 3)
    halves = [doubled] if division != 3 else []
    thirds = [tripled] if division != 2 else []
    found = [pulse, *halves, *thirds]
    found += [pulse[phase::2] for phase in range(2)] + [pulse[phase::3] for phase in range(3)]
    found += [beats[phase::3] for beats in halves for phase in range(3)]
    found += [beats[phase::2] for beats in thirds for phase in range(2)]
    return [beats for beats in found if len(beats) >= 4]


def median_bpm(beats: np.ndarray) -> float:
    """The beats' tempo (BPM) from their median period."""
    return 60.0 / float(np.median(np.diff(beats)))


def subdivided(beats: np.ndarray, parts: int) -> np.ndarray:
    """The beats with ``parts - 1`` evenly spaced points added in every interval."""
    fractions = np.arange(parts) / parts
    inner = (beats[:-1, None] + np.diff(beats)[:, None] * fractions[None, :]).ravel()
    return np.append(inner, beats[-1])


def onset_weight_at(times: np.ndarray, period: float, notes: NoteArrays, tolerance: float = ONSET_TOLERANCE,
                    ) -> np.ndarray:
    """The summed amplitude of the notes starting within ``tolerance`` periods of each time."""
    order = np.argsort(notes.starts)
    starts, amplitudes = notes.starts[order], np.concatenate(([0.0], np.cumsum(notes.amplitudes[order])))
    low = np.searchsorted(starts, times - tolerance * period)
    high = np.searchsorted(starts, times + tolerance * period)
    return amplitudes[high] - amplitudes[low]


def weight_on_and_between(beats: np.ndarray, notes: NoteArrays) -> tuple[float, float]:
    """Mean onset weight on the beats, and at the busiest of their halves and thirds in between."""
    period = float(np.median(np.diff(beats)))
    on_beats = float(onset_weight_at(beats, period, notes).mean())
    between = max(float(onset_weight_at(beats[:-1] + fraction * np.diff(beats), period / 2, notes).mean())
                  for fraction in (1 / 2, 1 / 3, 2 / 3))
    return on_beats, between


def on_the_bass(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None) -> np.ndarray:
    """The beats, or the points PHASE_SHIFTS of a beat after them, whichever carry the most bass onset
    weight, provided a shift carries PHASE_BASS_MARGIN times what the beats carry (see the module's doc).
    ``pitched`` flags the notes that are pitches (drum hits' General MIDI keys are not): only they can be bass."""
    pitched = np.ones(len(notes.pitches), dtype=bool) if pitched is None else np.asarray(pitched, dtype=bool)
    if len(beats) < 4 or not pitched.any():
        return beats
    bass = pitched & (notes.pitches <= np.quantile(notes.pitches[pitched], PHASE_BASS_QUANTILE))
    low = notes.only(bass)
    period = float(np.median(np.diff(beats)))
    best, best_weight = beats, PHASE_BASS_MARGIN * float(onset_weight_at(beats, period, low, PHASE_TOLERANCE).mean())
    for shift in PHASE_SHIFTS:
        moved = beats[:-1] + shift * np.diff(beats)
        weight = float(onset_weight_at(moved, period, low, PHASE_TOLERANCE).mean())
        if weight > best_weight:
            best, best_weight = moved, weight
    return best


def nearest_beat(beats: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the beat nearest each time (``beats`` sorted, at least two)."""
    nearest = np.clip(np.searchsorted(beats, times), 1, len(beats) - 1)
    return nearest - ((times - beats[nearest - 1]) < (beats[nearest] - times))


def beat_marks(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None) -> np.ndarray:
    """(marks, beats) z-scored marks of a downbeat at each beat. ``pitched`` flags the notes that are
    pitches (all of them when None); the others are drum hits on General MIDI keys, which mark a
    downbeat with the kick (as bass) and the crash only (see MARK_WEIGHTS)."""
    count = len(beats)
    period = np.median(np.diff(beats))
    pitched = np.ones(len(notes.pitches), dtype=bool) if pitched is None else np.asarray(pitched, dtype=bool)
    nearest = nearest_beat(beats, notes.starts)
    on_beat = np.abs(notes.starts - beats[nearest]) <= ONSET_TOLERANCE * period
    index, amplitude, keys = nearest[on_beat], notes.amplitudes[on_beat], notes.pitches[on_beat]
    lengths = np.minimum(notes.ends[on_beat] - notes.starts[on_beat], 4 * period) / period
    tuned = pitched[on_beat]
    bass_line = np.quantile(notes.pitches[pitched], BASS_QUANTILE) if pitched.any() else -1
    is_bass = np.where(tuned, keys <= bass_line, np.isin(keys, KICK_KEYS))
    bass_lengths = np.where(tuned, np.minimum(lengths, 2.0), 1.0)
    crash = ~tuned & np.isin(keys, CRASH_KEYS)
    marks = {
        "accent": np.bincount(index[tuned], amplitude[tuned], count),
        "bass": np.bincount(index[is_bass], (amplitude * bass_lengths)[is_bass], count),
        "length": np.bincount(index[tuned], (amplitude * lengths)[tuned], count),
        "harmony": harmonic_change(beats, notes.only(pitched)) if pitched.any() else np.zeros(count),
        "crash": np.bincount(index[crash], amplitude[crash], count),
    }
    rows = []
    for name, weight in MARK_WEIGHTS.items():
        values = marks[name]
        spread = values.std()
        rows.append(weight * (values - values.mean()) / spread if spread > 0 else np.zeros(count))
    return np.array(rows)


def harmonic_change(beats: np.ndarray, notes: NoteArrays) -> np.ndarray:
    """How much the sounding pitch classes change at each beat (1 - cosine of neighbouring spans; the
    first beat gets the mean of the others).

    Each span's chroma is the integral of the notes' amplitude per pitch class over it, read off a
    running integral sampled at CHROMA_RATE_HZ, so the cost does not grow with notes times beats.
    """
    count = len(beats)
    edges = np.append(beats, beats[-1] + (beats[-1] - beats[-2]))
    horizon = max(edges[-1], notes.ends.max() if len(notes.ends) else 0.0)
    slots = int(np.ceil(horizon * CHROMA_RATE_HZ)) + 2
    change_of_level = np.zeros((slots, 12))
    classes = notes.pitches % 12
    np.add.at(change_of_level, (np.round(notes.starts * CHROMA_RATE_HZ).astype(int), classes), notes.amplitudes)
    np.add.at(change_of_level, (np.round(notes.ends * CHROMA_RATE_HZ).astype(int), classes), -notes.amplitudes)
    level = np.cumsum(change_of_level, axis=0)
    integral = np.vstack((np.zeros((1, 12)), np.cumsum(level, axis=0))) / CHROMA_RATE_HZ
    positions = np.clip(edges * CHROMA_RATE_HZ, 0, slots)
    at_edges = np.stack([np.interp(positions, np.arange(slots + 1), integral[:, pc]) for pc in range(12)], axis=1)
    chroma = np.diff(at_edges, axis=0)
    norms = np.linalg.norm(chroma, axis=1)
    unit = chroma / np.maximum(norms, 1e-9)[:, None]
    change = np.zeros(count)
    change[1:] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    change[1:][(norms[1:] < 1e-9) | (norms[:-1] < 1e-9)] = 0.0
    # The first beat has no span before it: a neutral value, neither a change nor its absence (0 here
    # would stand out as strongly as a real chord change, against the first beat as a downbeat).
    if count > 1:
        change[0] = change[1:].mean()
    return change


def bar_scores(marks: np.ndarray, first: int = 0) -> dict[tuple[int, int], float]:
    """For each (bar length, phase): how much the would-be downbeats stand out, summed over marks. The marks
    are of the beats from index ``first`` on; a phase counts from beat 0."""
    total = marks.sum(axis=0)
    scores = {}
    for length in BAR_LENGTHS:
        positions = (np.arange(len(total)) + first) % length
        for phase in range(length):
            chosen = positions == phase
            if chosen.sum() < 2 or (~chosen).sum() < 2:
                continue
            scores[(length, phase)] = float(total[chosen].mean() - total[~chosen].mean())
    return scores


def bars_among_the_notes(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None,
                         ) -> dict[tuple[int, int], float]:
    """``bar_scores`` of the beats ``among_the_notes`` (``pitched`` as in ``beat_marks``), phases counted from beat 0."""
    marked = among_the_notes(beats, notes)
    return bar_scores(beat_marks(beats[marked], notes, pitched), marked.start)


def among_the_notes(beats: np.ndarray, notes: NoteArrays) -> slice:
    """The beats from half a period before the first note's start to half a period after the last's (all of
    them if fewer than four). The tracker may keep a beat or two where no note starts, and those would count
    as bars' worth of empty would-be downbeats: one empty beat after a four-bar clip in 4/4 read it as 3/4."""
    period = np.median(np.diff(beats))
    inside = np.flatnonzero((beats >= notes.starts.min() - period / 2) & (beats <= notes.starts.max() + period / 2))
    return slice(int(inside[0]), int(inside[-1]) + 1) if len(inside) >= 4 else slice(0, len(beats))


def subdivision_weights(beats: np.ndarray, onset_times: np.ndarray, onset_weights: np.ndarray,
                        ) -> tuple[float, float, float]:
    """(on the beats, on their thirds, on their halves and quarters): the summed weight of the onsets
    within SUBDIVISION_TOLERANCE of a beat of each place between the first beat and the last."""
    if len(beats) < 3 or len(onset_times) == 0:
        return 0.0, 0.0, 0.0
    inside = (onset_times >= beats[0]) & (onset_times < beats[-1])
    times, weights = onset_times[inside], onset_weights[inside]
    index = np.searchsorted(beats, times, side="right") - 1
    phase = (times - beats[index]) / (beats[index + 1] - beats[index])

    def weight_near(points) -> float:
        return float(sum(weights[np.minimum(np.abs(phase - point), 1 - np.abs(phase - point)) < SUBDIVISION_TOLERANCE]
                         .sum() for point in points))

    return weight_near((0.0,)), weight_near((1 / 3, 2 / 3)), weight_near((1 / 4, 1 / 2, 3 / 4))


def is_compound(beats: np.ndarray, onset_times: np.ndarray, onset_weights: np.ndarray) -> bool:
    """Whether onsets between beats fall on thirds of the beat more than on its half and quarters, and
    often enough to count: a waltz or a minuet that seldom divides its beat stays simple."""
    on, thirds, duple = subdivision_weights(beats, onset_times, onset_weights)
    return thirds > duple and thirds > MIN_THIRDS_SHARE * on


def pulse_division(pulse: np.ndarray, notes: NoteArrays) -> int | None:
    """3 when the notes inside the pulse's periods start on its thirds DIVISION_MARGIN times more (in
    weight) than on its halves and quarters, 2 for the reverse, None when neither is that clear."""
    _, thirds, duple = subdivision_weights(pulse, notes.starts, notes.amplitudes)
    if thirds > DIVISION_MARGIN * duple:
        return 3
    if duple > DIVISION_MARGIN * thirds:
        return 2
    return None


def level_evidence(candidates: list[np.ndarray], notes: NoteArrays) -> np.ndarray:
    """(readings, 2): each reading's salience and tempo (BPM); ``candidates[0]`` is the pulse as tracked."""
    weights = [weight_on_and_between(beats, notes) for beats in candidates]
    heaviest = max(max(on for on, _ in weights), 1e-9)
    return np.array([((on - between) / heaviest, median_bpm(beats))
                     for beats, (on, between) in zip(candidates, weights, strict=True)])


def distinct_onsets(starts: np.ndarray) -> np.ndarray:
    """The onsets among sorted note ``starts``: a chord is one (starts within DENSITY_CHORD_S of the one before)."""
    return starts[np.concatenate(([True], np.diff(starts) > DENSITY_CHORD_S))] if len(starts) else starts


def onsets_per_second(notes: NoteArrays) -> float | None:
    """Distinct onsets (``distinct_onsets``) per second between the first and the last, or None with fewer than
    two."""
    starts = np.sort(notes.starts)
    if len(starts) < 2 or starts[-1] <= starts[0]:
        return None
    return len(distinct_onsets(starts)) / float(starts[-1] - starts[0])


def density_octaves(onset_rate: float, bpm: np.ndarray | float) -> np.ndarray | float:
    """How far (octaves, signed) a reading at ``bpm`` holds its onsets a beat from DENSITY_CENTRE."""
    return np.log2(onset_rate * 60.0 / bpm / DENSITY_CENTRE)


def beyond_density_cap(onset_rate: float, bpm: float) -> bool:
    """Whether a reading at ``bpm`` holds its onsets a beat further than DENSITY_CAP_OCTAVES from DENSITY_CENTRE:
    a texture the looks (``second_look``, ``compound_look``) were never fitted on, which they never move to."""
    return bool(abs(density_octaves(onset_rate, bpm)) > DENSITY_CAP_OCTAVES)


def level_scores(evidence: np.ndarray, backbeat_s: float | None = None, tempo_hint: float | None = None,
                 onset_rate: float | None = None) -> np.ndarray:
    """How good a beat each reading would be, from its ``level_evidence`` row; with ``backbeat_s`` (the
    snare's backbeat interval, ``backbeat_interval``) the readings at half that interval gain; with
    ``onset_rate`` (``onsets_per_second``) the onset-density prior weighs in; with ``tempo_hint`` (BPM) the
    tempo prior is centred there (HINT_WIDTH_OCTAVES wide) and the density prior is left out."""
    salience, bpm = evidence.T
    if tempo_hint is None:
        (pulse_weight, salience_weight, prior_weight), centre, width = (
            (PULSE_WEIGHT, SALIENCE_WEIGHT, PRIOR_WEIGHT), BEAT_PRIOR_CENTRE_BPM, BEAT_PRIOR_WIDTH_OCTAVES)
    else:
        (pulse_weight, salience_weight, prior_weight), centre, width = HINTED_WEIGHTS, tempo_hint, HINT_WIDTH_OCTAVES
    prior = -0.5 * (np.log2(bpm / centre) / width) ** 2
    is_pulse = np.arange(len(evidence)) == 0
    scores = pulse_weight * is_pulse + salience_weight * salience + prior_weight * prior
    if onset_rate and tempo_hint is None:
        octaves = np.clip(density_octaves(onset_rate, bpm), -DENSITY_CAP_OCTAVES, DENSITY_CAP_OCTAVES)
        scores = scores - 0.5 * DENSITY_WEIGHT * octaves**2
    if backbeat_s is not None:
        scores = scores + BACKBEAT_WEIGHT * (np.abs(2 * 60.0 / bpm / backbeat_s - 1) <= BACKBEAT_TOLERANCE)
    return scores


def bar_clarity(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None) -> float:
    """How clearly the beats group into bars: the best ``bar_scores`` of the beats among the notes (0 with none)."""
    scores = bars_among_the_notes(beats, notes, pitched)
    return max(scores.values()) if scores else 0.0


def harmonic_rhythm(beats: np.ndarray, notes: NoteArrays) -> float:
    """The "harmony" feature of LOOK_FEATURES: -1/2 the squared octaves (to HARMONY_CAP_OCTAVES) between the beats
    per chord change (beats whose ``harmonic_change`` exceeds HARMONY_CHANGE) and HARMONY_BEATS. Without a change
    (one chord throughout, a short loop) it is the cap's at every reading: no evidence either way."""
    share = float(np.mean(harmonic_change(beats, notes)[1:] > HARMONY_CHANGE))
    octaves = HARMONY_CAP_OCTAVES if share == 0 else np.clip(np.log2(1.0 / share / HARMONY_BEATS),
                                                             -HARMONY_CAP_OCTAVES, HARMONY_CAP_OCTAVES)
    return float(-0.5 * octaves**2)


def look_features(candidates: list[np.ndarray], evidence: np.ndarray, chosen: list[int], notes: NoteArrays,
                  pitched: np.ndarray | None, onset_rate: float) -> np.ndarray:
    """(len(chosen), LOOK_FEATURES) of the readings ``chosen`` indexes: see LOOK_WEIGHTS. The onsets' spacing,
    the density and the harmony are of the pitched notes (``pitched`` as in ``beat_marks``), as the density
    prior's."""
    pitched_notes = notes if pitched is None else notes.only(np.asarray(pitched, dtype=bool))
    gaps = np.diff(distinct_onsets(np.sort(pitched_notes.starts)))
    rows = []
    for index in chosen:
        beats, (salience, bpm) = candidates[index], evidence[index]
        period = float(np.median(np.diff(beats)))
        short = float(np.mean(gaps < SHORT_IOI_SHARE * period)) if len(gaps) else 0.0
        octaves = np.clip(density_octaves(onset_rate, bpm), -DENSITY_CAP_OCTAVES, DENSITY_CAP_OCTAVES)
        rows.append((short, bar_clarity(beats, notes, pitched), -0.5 * octaves**2, salience,
                     harmonic_rhythm(beats, pitched_notes)))
    return np.array(rows, dtype=np.float64).reshape(len(chosen), len(LOOK_FEATURES))


def looked_at(evidence: np.ndarray, levels: np.ndarray, onset_rate: float) -> list[int | None]:
    """For each entry of LOOK_WEIGHTS, the reading the best ``levels`` reading is weighed against: the best scored
    of those at that ratio of its tempo, or None where there is none, or its onsets a beat lie beyond
    DENSITY_CAP_OCTAVES (textures the look was never fitted on)."""
    chosen = int(np.argmax(levels))
    bpm = evidence[:, 1]
    others: list[int | None] = []
    for ratio, _ in LOOK_WEIGHTS:
        near = np.flatnonzero(np.abs(bpm / (ratio * bpm[chosen]) - 1) <= LOOK_TOLERANCE)
        other = int(near[np.argmax(levels[near])]) if len(near) else None
        if other is not None and beyond_density_cap(onset_rate, bpm[other]):
            other = None
        others.append(other)
    return others


def second_look(candidates: list[np.ndarray], evidence: np.ndarray, levels: np.ndarray, notes: NoteArrays,
                pitched: np.ndarray | None, onset_rate: float) -> int:
    """The index of the beat among ``candidates``: the best ``levels`` reading, or the reading ``looked_at`` weighs
    it against, the first whose LOOK_WEIGHTS' logistic score says so (see there)."""
    chosen = int(np.argmax(levels))
    looks = [(other, score) for other, (_, score) in zip(looked_at(evidence, levels, onset_rate), LOOK_WEIGHTS,
                                                         strict=True) if other is not None]
    if not looks:
        return chosen
    # The chosen reading's features once, for every look (each reading's features are its own).
    mine, *theirs = look_features(candidates, evidence, [chosen, *(other for other, _ in looks)], notes, pitched,
                                  onset_rate)
    for (other, (bias, weights)), features in zip(looks, theirs, strict=True):
        if bias + float(np.dot(weights, features - mine)) > 0:
            return other
    return chosen


def threes_over_twos(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None,
                     ) -> tuple[float, int, int]:
    """How much more clearly the beats group in threes than in twos (the best ``bars_among_the_notes`` score of
    length 3 less the best of length 2, 0.0 with too few beats for either), and the phase of each best (the first
    on a tie, 0 where there is none)."""
    scores = bars_among_the_notes(beats, notes, pitched)
    best = {}
    for length in (2, 3):
        of_length = [(phase, score) for (each, phase), score in scores.items() if each == length]
        best[length] = max(of_length, key=lambda item: item[1]) if of_length else None
    phases = tuple(best[length][0] if best[length] else 0 for length in (3, 2))
    if best[2] is None or best[3] is None:
        return 0.0, *phases
    return best[3][1] - best[2][1], *phases


def grouping(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """How much more clearly the beats' halves group in threes than in twos (``threes_over_twos``), and the halves
    taken three at a time in the best phase: the reading at 2:3 of the beats' tempo."""
    halves = subdivided(beats, 2)
    margin, phase, _ = threes_over_twos(halves, notes, pitched)
    return margin, halves[phase::3]


def compound_guarded(beats: np.ndarray, dotted: np.ndarray, notes: NoteArrays, onset_rate: float) -> bool:
    """Whether ``compound_look`` keeps the ``beats`` whatever their grouping's margin: their reading at 2:3,
    ``dotted``, has fewer than MIN_GROUPING_BEATS beats from the first note's start to the last's, or 2:3 of their
    tempo is ``beyond_density_cap``."""
    among = np.count_nonzero((dotted >= notes.starts.min()) & (dotted <= notes.starts.max()))
    tempo = median_bpm(beats)
    return among < MIN_GROUPING_BEATS or beyond_density_cap(onset_rate, tempo * 2 / 3)


def compound_look(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None, onset_rate: float) -> np.ndarray:
    """The beats, or the reading at 2:3 of their tempo where their halves group in threes by GROUPING_MARGIN (see
    there), unless ``compound_guarded``."""
    if len(beats) < 4:
        return beats
    margin, dotted = grouping(beats, notes, pitched)
    return beats if margin < GROUPING_MARGIN or compound_guarded(beats, dotted, notes, onset_rate) else dotted


def below_the_ceiling(beats: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None) -> np.ndarray:
    """The beats, or where their tempo is above BEAT_CEILING_BPM, the beats two or three at a time (see there) in
    the phase whose would-be downbeats stand out most. A user's metre does not choose: a 6/8 jig's pulse above
    the ceiling was at twice its dotted quarter, and taken three at a time would have been read at 2:3 of it."""
    if len(beats) < 4 or median_bpm(beats) <= BEAT_CEILING_BPM:
        return beats
    margin, three_phase, two_phase = threes_over_twos(beats, notes, pitched)
    slower = beats[three_phase::3] if margin > THIRDS_MARGIN else beats[two_phase::2]
    return slower if len(slower) >= 4 else beats


def above_the_floor(beats: np.ndarray, notes: NoteArrays, compound_given: bool | None = None) -> np.ndarray:
    """The beats, or where their tempo is below BEAT_FLOOR_BPM, the beats divided in three or two (see there). With
    a user's compound metre (``compound_given``) always in two: a 6/8 beat's thirds are its eighths, never a beat."""
    if len(beats) < 4 or median_bpm(beats) >= BEAT_FLOOR_BPM:
        return beats
    _, thirds, duple = subdivision_weights(beats, notes.starts, notes.amplitudes)
    return subdivided(beats, 3 if thirds > duple and not compound_given else 2)


def backbeat_interval(notes: NoteArrays, pitched: np.ndarray | None = None) -> float | None:
    """Seconds between a groove's backbeats (two beats), from its loud snare strokes, or None when the drum
    hits (the notes ``pitched`` does not flag) have no clear backbeat. See BACKBEAT_WEIGHT."""
    if pitched is None:
        return None
    snare = ~np.asarray(pitched, dtype=bool) & np.isin(notes.pitches, SNARE_KEYS)
    if snare.sum() < 2:
        return None
    amplitudes = notes.amplitudes[snare]
    loud = np.sort(notes.starts[snare][amplitudes >= LOUD_SNARE_SHARE * np.percentile(amplitudes, 90)])
    every = np.diff(loud)
    intervals = every[(every >= BACKBEAT_RANGE_S[0]) & (every <= BACKBEAT_RANGE_S[1])]
    if len(intervals) < BACKBEAT_MIN_INTERVALS:
        return None
    # How many intervals lie within BACKBEAT_SPREAD of each, counted in the sorted intervals: an hour of
    # drums has thousands of strokes, and an all-pairs comparison would grow with their square.
    ordered = np.sort(intervals)
    support = (np.searchsorted(ordered, intervals * (1 + BACKBEAT_SPREAD), side="left")
               - np.searchsorted(ordered, intervals * (1 - BACKBEAT_SPREAD), side="right")) / len(every)
    best = intervals[int(np.argmax(support))]
    near = np.abs(intervals - best) < BACKBEAT_SPREAD * best
    return float(np.median(intervals[near])) if support.max() >= BACKBEAT_SUPPORT else None


def find_metre(pulse: np.ndarray, notes: NoteArrays, pitched: np.ndarray | None = None,
               hints: Hints | None = None) -> Metre | None:
    """The beat level, then the bars at that level; None without a pulse.

    The beat is the reading of the pulse with the best level score, among the readings the pulse's
    division allows (``pulse_division``): the tracked pulse itself earns a bonus, and so does a reading at
    half a drum groove's backbeat interval (``backbeat_interval``); then salience (how much more weight of
    notes falls on its beats than between them, relative to the heaviest reading's beats: read too fast,
    many of its beats are empty; read too slow, its halves or thirds, the real beats, carry as much as its
    beats) and the tempo prior. Without a tempo hint or a backbeat, the chosen reading is then weighed against
    its double and its half (``second_look``), read at 2:3 where its halves group in threes
    (``compound_look``; not with a user's simple metre), and read slower if it is above BEAT_CEILING_BPM
    (``below_the_ceiling``), or faster if it is below BEAT_FLOOR_BPM (``above_the_floor``). The beats move onto the
    bass if it plays between them (``on_the_bass``; ``pitched`` as there). The bar length and phase are then the
    best bar score at that level.

    The user's ``hints`` go first: a tempo hint takes the tempo prior's place (``level_scores``), so it
    chooses the beat's level; a metre fixes the bar's length in beats and whether the beat divides in three,
    and leaves the level alone. Tried on the tuning pieces (bench/tempo.py --metre-given, first and third
    sets): keeping a compound metre to the readings the notes divide in three lost beat F (0.898 -> 0.891
    on the first set; a jig read at 2:3 of its beat) for no steady gain in downbeat F.
    """
    hints = hints or Hints()
    length_given, compound_given = hints.metre if hints.metre is not None else (None, None)
    if len(pulse) < 4:
        return None
    if not len(notes.starts):
        return Metre(beats=pulse, beats_per_bar=length_given or 4, compound=bool(compound_given), first_downbeat=0)
    candidates = readings(pulse, pulse_division(pulse, notes))
    # The density prior reads pitched notes only: drum hits keep time in eighths and sixteenths, as no melody does.
    pitched_notes = notes if pitched is None else notes.only(np.asarray(pitched, dtype=bool))
    evidence = level_evidence(candidates, notes)
    backbeat = backbeat_interval(notes, pitched)
    rate = onsets_per_second(pitched_notes)
    levels = level_scores(evidence, backbeat, hints.tempo_bpm, rate)
    # The second look weighs what the notes say of the level against the tracked pulse; a user's tempo hint and a
    # groove's backbeat say more, and a reading needs pitched notes to be looked at again.
    if hints.tempo_bpm is None and backbeat is None and rate:
        beats = candidates[second_look(candidates, evidence, levels, notes, pitched, rate)]
        # A user's simple metre (3/4) says the beat does not divide in three.
        beats = compound_look(beats, notes, pitched, rate) if compound_given is not False else beats
        beats = below_the_ceiling(beats, notes, pitched)
        beats = above_the_floor(beats, notes, compound_given)
    else:
        beats = candidates[int(np.argmax(levels))]
    beats = on_the_bass(beats, notes, pitched)
    scores = bars_among_the_notes(beats, notes, pitched)
    if length_given is not None:
        scores = {key: score for key, score in scores.items() if key[0] == length_given}
    compound = compound_given if compound_given is not None else is_compound(beats, notes.starts, notes.amplitudes)
    if not scores:
        return Metre(beats=beats, beats_per_bar=length_given or 4, compound=compound, first_downbeat=0)
    (length, phase), _ = max(scores.items(), key=lambda item: item[1] - LONGER_BAR_MARGIN * (item[0][0] - 2))
    return Metre(beats=beats, beats_per_bar=length, compound=compound, first_downbeat=phase)
