"""The drum transcriber's settings. Chosen on the tuning half of ``bench/drums.py``; docs/drums-and-stems.md says how
each was chosen."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DrumSettings:
    # The factorisation (nmf.py).
    iterations: int = 40
    adapt_power: float = 2.0
    sparsity: dict[str, float] = field(default_factory=lambda: {
        "low_tom": 1.0, "mid_tom": 1.0, "high_tom": 1.0})
    # How far each piece's template may adapt to the kit heard (0: not at all); 1 unless listed.
    adaptability: dict[str, float] = field(default_factory=dict)
    # Frames factorised at a time: about 24 s, so an hour of audio never sits in memory whole.
    chunk_frames: int = 2048
    # Picking onsets (onsets.py): a group's onset strength must reach this share of its group's level
    # (see group_level_percentile).
    threshold: dict[str, float] = field(default_factory=lambda: {
        "kick": 0.28, "snare": 0.71, "hihat": 0.126, "tom": 0.002, "crash": 0.30, "ride": 0.10})
    # A group's onset with none of its masking groups' kept onsets within mask_window_s needs only
    # threshold_alone; ``threshold`` is for onsets that coincide with those, whose sound leaks into the
    # group's templates. Decided in this order, so the snare sees the crashes' and toms' final decisions.
    # Snare ghost notes are ten times quieter than accents; a tom rarely sounds with the kick or snare.
    # A crash mostly lands with a kick, whose attack takes part of the crash's rise: with a kick it needs
    # less (bench/drums.py: crash F1 0.845 -> 0.877 on the tuning half, 0.787 -> 0.846 held back; the rest equal).
    threshold_alone: dict[str, float] = field(default_factory=lambda: {"crash": 0.50, "tom": 0.063, "snare": 0.045})
    masked_by: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        "crash": ("kick",), "tom": ("kick", "snare"), "snare": ("kick", "tom", "crash")})
    mask_window_s: float = 0.05
    # A masked onset of these groups must also reach this share of the loudest masking onset's strength.
    masker_ratio: dict[str, float] = field(default_factory=lambda: {"tom": 0.75})
    # A kept onset of the ring_masked groups that starts within ring_mask_s after a kept onset of the
    # ring_maskers (not with it: masked_by is for that) and reaches under ring_mask_ratio of its strength
    # is dropped: a real crash's modes beat as it rings, and the snare and tom templates read the swells as
    # weak hits (Red Zeppelin tuning half: 45 false snares in the 1.6 s after a crash, strengths 0.05-0.16
    # of the snare's level and 0.06-0.31 of the crash's, where its true snares are 0.61-0.84 and 0.85-1.79;
    # the GM fonts have none). Tuning halves, snare / tom F1, Red Zeppelin 0.838 / 0.715 -> 0.864 / 0.752,
    # Power 0.908 -> 0.912, the standard, medium-snare, ghosts-after, Room and TR-808 sets within 0.002.
    # A plateau: 0.3-0.7 s and ratios 0.2-0.5 give Red Zeppelin snares 0.859-0.865 (1.0 s costs 0.003 on
    # the standard set and 0.012 on ghosts-after), toms 0.752 from 0.15 to 0.75.
    ring_mask_s: float = 0.5
    ring_masked: tuple[str, ...] = ("snare", "tom")
    ring_maskers: tuple[str, ...] = ("crash",)
    ring_mask_ratio: float = 0.3
    # A crash also sizzles above 8 kHz as it rings, and a hi-hat onset in its ring can ring on as an open
    # hat does: a hi-hat onset that would be open, in the same span after a kept crash and under
    # ring_open_hat_ratio of its strength, is dropped too (hi-hat strengths are against the hi-hat's level,
    # hence another ratio). On the Standard, Room and Power tuning halves it drops 23 open hats, 20 where
    # nothing was played and 3 at a closed hat, none at an open one: open hi-hat F1 0.904 -> 0.913, 0.871
    # -> 0.880, 0.906 -> 0.919 (medium snares 0.893 -> 0.902, ghosts-after 0.902 -> 0.911), hi-hat up to
    # 0.001, the rest unchanged, Red Zeppelin's too.
    # Ratios 0.45-0.8 give the same figures; 0.3 half the gain, 1.0 costs Red Zeppelin's open hat 0.005.
    ring_open_hat_ratio: float = 0.6
    # A group's level is this percentile of its activation over all frames, or group_level_floor times the
    # recording's level (level_percentile of the summed activations) if that is higher. The group's level
    # stands for its loud hits, which are fewer when a part has dynamics: at 99.5, a snare part with every
    # second hit at 55 % velocity (bench/drums.py --medium-snares) read its level lower, and its leakage
    # as snares. 99.8 (about the 4th loudest frame in 24 s) chosen on both tuning halves: snare F1
    # 0.864 -> 0.881 with medium snares, 0.936 -> 0.935 without; toms 0.557 -> 0.601 and 0.627 -> 0.642.
    level_percentile: float = 99.0
    group_level_percentile: float = 99.8
    group_level_floor: float = 0.1
    # Groups whose level is read at another percentile. The hi-hat is struck most often (eighths or
    # sixteenths), so a lower percentile still stands for its loud hits, and is not set by the few loud
    # strokes of other pieces that the hi-hat templates also explain: the Electronic kit's toms and snares
    # are bright noise, its hats came out at 0.15-0.3 of a level set by them (a tom at 0.97), and hats at
    # velocity 50-66 fell under the threshold. Tuning halves, hi-hat F1: Electronic 0.873 -> 0.920, Black
    # Pearl 0.953 -> 0.957 (its ride 0.816 -> 0.829), mean of all 14 sets +0.0035, the most lost 0.002
    # (Power); 99.0-98.0 give the Electronic kit 0.918-0.921 and cost the Power kit 0.005-0.006. Held back
    # in docs/drums-and-stems.md.
    group_level_percentiles: dict[str, float] = field(default_factory=lambda: {"hihat": 99.5})
    peak_window_s: float = 0.035  # an onset is the strongest within this distance either side
    # How much of an onset's rise is left this long after it (see onsets.py): a hi-hat ringing at least
    # open_hat_ratio is open; a group in minimum_ring must ring at least that much to count.
    ring_probe_s: float = 0.1
    # The TR-808's open hat is short: its metal rings 0.22 (median) of its rise 100 ms on, against 0.51 for
    # the Standard kits' and -0.15 to -0.11 for closed hats, and it was written as closed (open hi-hat F1
    # 0.036 on its tuning half). Since the band rings came in (open_hat_high_ring below), a lower ratio
    # costs no closed hats. Tuning halves, open hi-hat F1 at 0.35 -> 0.28: TR-808 0.036 -> 0.516, the dev
    # set 0.913 -> 0.933, Red Zeppelin 0.828 -> 0.864, medium snares 0.902 -> 0.926, Black Pearl 0.887 ->
    # 0.893, OPL3 0.711 -> 0.702; ride TR-808 0.677 -> 0.660. 0.25-0.30 give means within 0.005 of it.
    open_hat_ratio: float = 0.28
    minimum_ring: dict[str, float] = field(default_factory=lambda: {"crash": 0.2, "ride": 0.1})
    # A struck drum's sound decays from its attack. An onset's sustain is its group's mean activation
    # from sustain_start_s to sustain_end_s on, over its first frames' peak. A snare onset whose sustain
    # exceeds by more than sustain_margin the median sustain of the recording's clear snare hits (those
    # at least sustain_reference_strength strong; with fewer than three of them, fallback_sustain is
    # the cap) is a rise inside something still sounding (a ringing cymbal, open hat or tom that the
    # snare template explains part of), not a snare hit. Relative to the recording's own snare, so a
    # snare whose wires ring long keeps its hits. Chosen on the tuning halves of bench/drums.py's
    # standard, medium-snare and Room, Power and TR-808 kit sets (docs/drums-and-stems.md).
    sustain_margin: dict[str, float] = field(default_factory=lambda: {"snare": 0.2})
    sustain_reference_strength: float = 0.5
    fallback_sustain: float = 0.85
    # Where the clear hits' own sustains spread wide, the median and a margin cut off real hits: the
    # Electronic kit's snare decays more slowly under a hat or after a kick (loud true snares 0.00-0.13 over
    # the cap, all within 0.04 of the clear hits' 90th percentile; the medium-snare set's within 0.12). So
    # the cap is at least that percentile plus sustain_spread_margin. Tuning halves, snare F1: Electronic
    # 0.854 -> 0.885, medium snares 0.931 -> 0.938, Brush 0.862 -> 0.866, Jazz 0.957 -> 0.958, the rest
    # unchanged; margins 0.02-0.06 give the same within 0.001 (Electronic 0.876 at 0, 0.882 at 0.08, 0.876
    # at 0.12; the 95th percentile: 0.882). Held back in docs/drums-and-stems.md.
    sustain_spread_percentile: float = 90.0
    sustain_spread_margin: float = 0.05
    sustain_start_s: float = 0.035
    sustain_end_s: float = 0.07
    # A drum head rings: a tom onset whose sustain is under minimum_sustain is gone at once, a click or a
    # snare's or a stick's attack that the tom templates took, not a tom hit. Uncaught, such an onset also
    # hid the snare struck with it (a snare with a kept tom needs the strict threshold): the Black Pearl's
    # medium snares in its ride groove came out as high toms. Kept toms with sustain under 0.05 on the
    # standard, Power, TR-808, Brush, Electronic and real kits' tuning halves: 38 of 1111 true ones (none on
    # the real kits), 176 false ones (26 of the Black Pearl's 55, 109 of the Electronic kit's 155). Tom F1
    # on the tuning halves: standard 0.807 -> 0.815, medium snares 0.770 -> 0.792, ghosts-after 0.799 ->
    # 0.808, Room 0.745 -> 0.755, Brush 0.719 -> 0.746, Black Pearl 0.722 -> 0.792 (snare 0.888 -> 0.917,
    # ride 0.776 -> 0.816), TR-808 0.861 -> 0.852, Power 0.711 -> 0.709. A floor of 0.03 gains a little
    # less; higher ones gain more on most sets but cost the TR-808's toms more (0.12: 0.845, 0.2: 0.797),
    # whose true toms sustain least (10th percentile 0.16-0.21).
    minimum_sustain: dict[str, float] = field(default_factory=lambda: {"tom": 0.05})
    # A weak onset (under tail_strength) whose ring is below tail_ring is a bump on a decaying tail: its
    # group's activation falls, within ring_probe_s, further below where it stood before the onset than
    # the onset rose. A gated or reverberant snare (the Power kit's) has such bumps 100-170 ms after each
    # hit. On the tuning halves, weak snare onsets within 250 ms after a stronger one: on the Power kit,
    # 343 that nothing was played at, ring -3.67 / -2.40 / -0.83 (10th / 50th / 90th percentile); real
    # ghost notes a 16th after an accent (the ghosts-after set), 364 of them, -0.76 / -0.31 / -0.11.
    # Power kit snare F1 0.799 -> 0.908 (-0.8: 0.921, -1.5: 0.877), ghosts-after 0.797 -> 0.791;
    # tail_strength 0.1-0.25 gives the same figures.
    tail_ring: dict[str, float] = field(default_factory=lambda: {"snare": -1.0})
    tail_strength: float = 0.15
    # A snare onset that is gone at once (sustain under click_sustain) and has no wires (its 2-8 kHz peak
    # under click_wire_share of its 30-400 Hz peak) is a kick's click: the TR-808's, with a hat over it,
    # which the snare templates took for strong hits (TR-808 tuning half: 889 false snares, most at a kick
    # and a hat, sustain 0.00-0.01, wire share 0.33-0.90). Under 0.03 and 1.0, 707 of them go and not one
    # kept true snare of the Standard, TR-808, Brush or ghosts-after tuning halves; under 0.05 and 2.0, 13
    # of the TR-808's 1340 true ones.
    # TR-808 snare F1 0.724 -> 0.909; plateau: sustain 0.02-0.05 (0.885-0.909), wire share 1.0-1.5
    # (0.895-0.902; 0.7: 0.830).
    click_sustain: float = 0.04
    click_wire_share: float = 1.25
    # A weak snare onset with no head of its own is metal that the snare templates took: a ride's or a
    # hat's stick attack (the AVL Black Pearl's ride above all), or a cymbal's swell. A snare hit's head
    # dies away in 30-400 Hz (its low ring, see toms_from below: 0.02-0.23 at the 10th-90th percentile per
    # sound font on every tuning set, ghost notes included), but such an onset has little there of its own,
    # and what sounds there goes on (low rings 0.36-0.53 at the Black Pearl's rides). A snare onset under
    # headless_strength whose low ring reaches headless_low_ring is not a hit when its 2-8 kHz peak is at
    # least tom_wire_share_cap times its 30-400 Hz peak (under that, the toms rule reads it as a tom).
    # Tuning halves, snare F1: Black Pearl 0.833 -> 0.888 (and its ride 0.576 -> 0.776, no longer hidden
    # behind a snare), Red Zeppelin 0.864 -> 0.904, TR-808 0.907 -> 0.921, Brush 0.843 -> 0.859, Power
    # 0.912 -> 0.915; the standard, medium-snare, ghosts-after, Room and hats-under-crashes sets unchanged.
    # A plateau: strengths 0.2-0.5 and low rings 0.25-0.3 give the same within 0.01 (docs/drums-and-stems.md).
    headless_strength: float = 0.3
    headless_low_ring: float = 0.25
    # Ride or hi-hat. The factorisation cannot tell a GM kit's ride from its closed hi-hat: their spectra
    # over a hit's first 150 ms are alike (a FluidR3 or MuseScore ride: cosine 0.85-0.86 with the
    # hi-hat's template, 0.89 with the ride's), so a ride groove came out as closed hats, and the ride
    # template picked up the hats of every other groove. They differ in how they ring: a ride still
    # sounds from 2 to 8 kHz 90-140 ms after the stroke (medians 0.36-0.41 of its peak there), a closed
    # hat has died away (medians 0.08-0.13), and an open hat also rings above 8 kHz, where the ride has
    # faded. These rings are read from the spectrogram (its *band rings*: the lowest level over that span, over the
    # peak of the first frames, in each band). An onset is ride-like when its 2-8 kHz ring reaches
    # ride_mid_ring and its ring above 8 kHz stays under ride_high_ring. A ride onset must be ride-like;
    # a closed hi-hat hit that is ride-like is a ride when at least ride_share of the closed hi-hat
    # hits within ride_window_s of it are (in a hi-hat groove a few ring on under a snare or a crash;
    # in a ride groove most do, and a song may move from hats to the ride and back). Chosen on the
    # tuning halves of the standard, Room, Power and TR-808 sets (docs/drums-and-stems.md); ride_share again below.
    ride_ring_start_s: float = 0.09
    ride_ring_end_s: float = 0.14
    ride_mid_ring: float = 0.3
    ride_high_ring: float = 0.34
    ride_share: float = 0.65
    ride_window_s: float = 8.0
    # A kick or snare struck with a hit changes its band rings (a kick's attack raises the peak, a snare's
    # wires fill 2-8 kHz and die), so a ride stroke with either read as a closed hat: on the standard
    # tuning half, of the ride strokes with a kick 35 got a closed hat and 12 a ride, with a snare 61 and
    # 32, alone 19 and 203. Hits struck with a kept onset of ride_masked_by are left out of the share,
    # and follow it whatever their own rings; but those struck with ride_doubled_by that do not ring as
    # a ride keep their closed hat and gain a ride (a ride groove's snare on 2 and 4 often comes with the
    # foot's hi-hat, which the closed hat then stands for). With these, ride_share moved from 0.5 to the
    # middle of a plateau from 0.6 to 0.7. Chosen on the tuning halves of the standard, medium-snare, Room,
    # Power and TR-808 sets (docs/drums-and-stems.md).
    ride_masked_by: tuple[str, ...] = ("kick", "snare")
    ride_doubled_by: tuple[str, ...] = ("snare",)
    # A kept ride onset within mask_window_s of a kept closed hi-hat stroke, where under hat_groove_share
    # of the closed hi-hat hits within ride_window_s ring as a ride (a hi-hat groove), is the hat's ring
    # that the ride template picked up: dropped (0 turns this off). Lone closed hats ring as a ride
    # 11-16 % of the time on the dev fonts, 22-25 % on the AVL real kits; in the ride grooves 64-89 % of
    # the strong hat candidates do, so the threshold sits in the gap. Tuning halves, false ride onsets at hat
    # strokes: FluidR3 21, MuseScore 41, TimGM6mb 2, Red Zeppelin 125, Black Pearl 117; all of the dev
    # fonts' go and no true ride. Ride F1, standard / Power / Red Zeppelin / Black Pearl (unseen): off
    # 0.887 / 0.915 / 0.622 / 0.429; 0.3 0.964 / 0.952 / 0.742 / 0.541; 0.4 0.964 / 0.963 / 0.776 / 0.579;
    # 0.45 0.964 / 0.963 / 0.809 / 0.576; 0.5 0.964 / 0.963 / 0.828 / 0.561; 0.65 0.964 / 0.963 / 0.839 /
    # 0.347 (in the Black Pearl's ride grooves only 65-79 % of strong hat candidates ring as a ride).
    hat_groove_share: float = 0.45
    # An open hi-hat sizzles: it also rings above 8 kHz (0.34-0.41 of its peak there 90-140 ms on, in
    # FluidR3 and MuseScore; closed hats 0.03-0.23). A hi-hat whose metal rings on but whose top does
    # not reach this is a closed hat under something else still sounding (a snare's wires, a crash).
    # Chosen on the tuning halves (a plateau from 0.2 to 0.3): open hi-hat F1 up 0.04-0.06 on the
    # standard, Room and Power sets, TR-808's unchanged.
    open_hat_high_ring: float = 0.25
    # A hi-hat struck with a kept onset of these groups is closed: a crash rings on above 8 kHz as an open
    # hat does. On the tuning half open hi-hat F1 0.670 -> 0.707 (closed 0.968 -> 0.965), and with a closed
    # hi-hat struck with every crash (bench/drums.py --hats-under-crashes) 0.576 -> 0.686 (closed 0.950 ->
    # 0.960); dropping weak hats at crashes instead (masked_by) gained as much on the first and lost
    # hats on the second (hi-hat 0.957 -> 0.945).
    open_hat_masked_by: tuple[str, ...] = ("crash",)
    # A crash rings on in the spectrogram across the top (2-8 kHz and above 8 kHz) where its activation
    # may not: the factorisation hands part of its tail to other templates. Of the 255 crash onsets at
    # played crashes on the standard tuning half, 63 were dropped, 27 of them only for minimum_ring (the
    # dropped ones' band rings: 0.57 and 0.61 at the 10th percentile). A crash onset whose band rings both reach this
    # rings enough. Chosen on the tuning halves of the standard, medium-snare, Room, Power and TR-808 sets
    # (mean crash F1: 0.2 0.769, 0.3 0.783, 0.35 0.778, 0.4 0.766, 0.5 0.758; unset 0.668).
    crash_band_ring: float = 0.3
    # Whatever its activation does, a crash rings on from 2 to 8 kHz: a crash onset whose 2-8 kHz band
    # ring is under this is a drum's ring that the crash templates took (the dark crash model reaches
    # down to 500 Hz, where a snare's wires and a tom's stick noise are). Without it the tests' rock beat
    # got 3-5 crashes on its snares. Tuning halves, crash F1 standard / Red Zeppelin: 0 0.976 / 0.711,
    # 0.3 0.978 / 0.818, 0.35 0.980 / 0.824, 0.4 0.982 / 0.815, 0.45 0.982 / 0.803.
    crash_mid_ring: float = 0.35
    # An open hi-hat the hi-hat templates miss. A kit's open hat can be dark: TimGM6mb's has little above
    # 8 kHz (its peak there about 3 % of its closed hat's), so the factorisation explains it with the crash
    # template or the snare's (which one varies from piece to piece), and it was never found (open hi-hat
    # F1 0.0 on that font). What it leaves is a weak onset in those groups that rings on in both metal
    # bands and decays. A snare or crash onset that was not kept becomes an open hi-hat when its strength
    # reaches missed_open_hat_strength, its group's ring missed_open_hat_ring, its 2-8 kHz ring
    # missed_open_hat_mid_ring, and its ring above 8 kHz missed_open_hat_high_ring but stays under
    # missed_open_hat_high_cap (it decays there); with no kept hi-hat or ride within mask_window_s, and no
    # kept crash from missed_open_hat_after_crash_s before it (a crash's ring gives such onsets too).
    # Chosen on the tuning halves of the standard, medium-snare, Room, Power and TR-808 sets, each value in
    # the middle of a plateau (docs/drums-and-stems.md).
    missed_open_hat_from: tuple[str, ...] = ("snare", "crash")
    missed_open_hat_strength: float = 0.04
    missed_open_hat_ring: float = 0.5
    missed_open_hat_mid_ring: float = 0.5
    missed_open_hat_high_ring: float = 0.45
    missed_open_hat_high_cap: float = 1.0
    missed_open_hat_after_crash_s: float = 1.0
    # A tom heard as a kick or a snare. Toms share their range with the kick and the snare's head, and are
    # played far less often (sparsity above), so the factorisation gives many of them to those two: of the
    # 363 tom strokes on the standard tuning half, 208 got a tom note, 79 a kick (a few played with one)
    # and 72 a snare. A tom's head rings on. The lowest 30-400 Hz level 90-140 ms after a stroke, over its
    # peak (its *low ring*), is 0.23-0.82 at the toms written as snares and 0.18-0.47 at FluidR3's written
    # as kicks (10th to 90th percentile by sound font), where real kicks and snares have died away
    # (0.01-0.08). A kept kick or snare hit is a tom when its low ring exceeds the median of the
    # recording's kept hits of its group (three or more; relative, since a TR-808's kick booms on) by more
    # than tom_low_ring_margin, with no tom kept within mask_window_s, and when its 2-8 kHz peak is under
    # tom_wire_share_cap times its 30-400 Hz peak: the TR-808's snares ring low as long as its toms, and
    # the hats it reads as snares ring there too, but both carry 3-40 times more above 2 kHz (a snare's
    # wires). Which tom: the one whose pitch (TOM_PITCH_HZ) is nearest the hit's strongest band from 30 to
    # 400 Hz. Chosen on the tuning halves of the standard, medium-snare, Room, Power and TR-808 sets
    # (docs/drums-and-stems.md).
    toms_from: tuple[str, ...] = ("kick", "snare")
    tom_low_ring_margin: float = 0.15
    tom_wire_share_cap: float = 1.75
    # A stroke that follows a hit within its low ring's span sounds in it: in a fill, a snare hit 100 ms
    # before a tom read as a tom, and the snare was lost. A kept hit of a tom_early_ring_from group that a
    # kept kick, snare or tom follows from tom_followed_from_s to ride_ring_end_s later is read at its early
    # low ring instead (the lowest 30-400 Hz level tom_early_ring_start_s..tom_early_ring_end_s on, over its
    # peak), against the median early low ring of the recording's kept hits of its group plus
    # tom_early_ring_margin. Tuning halves, snare and tom F1: standard 0.969 -> 0.973 and 0.837 -> 0.848,
    # medium snares 0.924 -> 0.931 and 0.813 -> 0.834, Room 0.965 -> 0.970 and 0.765 -> 0.776, Power 0.913
    # -> 0.915 and 0.737 -> 0.753, Red Zeppelin 0.904 -> 0.909 and 0.769 -> 0.808, Black Pearl 0.917 ->
    # 0.923 and 0.809 -> 0.816, TR-808 0.920 -> 0.919 and 0.852 -> 0.851. Margins of 0.05-0.10 give the same
    # within 0.001 (0.15: toms 0.843). With kicks read so too, the toms gain more (standard 0.860) but kicks
    # are lost (0.994 -> 0.992); in that form, spans of 35-70 and 58-93 ms gave the same within 0.003.
    tom_early_ring_from: tuple[str, ...] = ("snare",)
    tom_followed_from_s: float = 0.06
    tom_early_ring_start_s: float = 0.045
    tom_early_ring_end_s: float = 0.08
    tom_early_ring_margin: float = 0.10
    # As a tom's head rings, the tom templates can answer with a second onset soon after the stroke (on the
    # Black Pearl, 58 ms after a tom struck with a kick, on another tom). A kept tom hit within tom_echo_s
    # after the kept tom hit before it, and under tom_echo_ratio of its strength, is that stroke's echo,
    # dropped (a tom heard as a kick or snare keeps that group's scale). At 0.06 s it leaves alone toms 32nd
    # notes apart below about 130 BPM, and 16ths below 250. Tuning halves, tom F1: standard 0.815 -> 0.837,
    # medium snares 0.792 -> 0.813, ghosts-after 0.808 -> 0.838, Room 0.755 -> 0.765, Power 0.709 -> 0.737,
    # TR-808 0.852, Black Pearl 0.792 -> 0.809, Red Zeppelin 0.757 -> 0.769; 0.06-0.07 s with ratios
    # 0.75-1.0 give the same within 0.016; 0.09 s costs the TR-808 0.016 (the dev set's fastest toms are
    # 81-83 ms apart); without the strength condition it gains less and costs the Black Pearl 0.004.
    tom_echo_s: float = 0.06
    tom_echo_ratio: float = 0.75
    # A tom struck in two stages, a stick's click and then the head's body about 50 ms later (TimGM6mb's
    # toms), gives two onsets whose second is stronger or not much weaker (over tom_echo_ratio of the
    # first). The first's sound is still building then: its sustain (see minimum_sustain) was 0.98-1.67 at
    # the three such strokes looked at, where a tom hit's is about 0.7. So a kept tom hit within tom_echo_s
    # after one whose sustain reaches tom_echo_building is dropped whatever its strength. Tuning halves, tom
    # F1 (with the early low ring above): standard 0.848 -> 0.858 (TimGM6mb 0.798 -> 0.828, MuseScore 0.855
    # -> 0.849), medium snares 0.834 -> 0.843, ghosts-after 0.851 -> 0.862, Jazz 0.785 -> 0.795, csound
    # 0.673 -> 0.679, Black Pearl 0.816 -> 0.819, Power 0.753 -> 0.750. 0.8-1.0 give the same on the
    # standard set within 0.001; 0.7 costs the Black Pearl 0.013.
    tom_echo_building: float = 0.9
    onset_offset_s: float = -0.010  # added to every onset time: the peaks come about 10 ms after the hits
    note_length_s: float = 0.1  # a drum note's written length (shortened before the next hit of its key)

    @classmethod
    def with_overrides(cls, overrides: dict[str, str]) -> DrumSettings:
        """Settings with ``{"iterations": "30", "threshold.kick": "0.2", "toms_from": "kick,snare"}`` applied
        (for tuning runs)."""
        settings = cls()
        changes: dict[str, object] = {}
        for name, text in overrides.items():
            field_name, _, key = name.partition(".")
            current = getattr(settings, field_name)
            if key:
                changes[field_name] = {**changes.get(field_name, current), key: float(text)}
            elif isinstance(current, tuple):  # group names: "kick,snare", or "" for none
                changes[field_name] = tuple(name for name in text.split(",") if name)
            else:
                changes[field_name] = type(current)(text)
        return dataclasses.replace(settings, **changes)
