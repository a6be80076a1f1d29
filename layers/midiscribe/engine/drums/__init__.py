"""Drum transcription by signal processing: kick, snare, hi-hats, toms and cymbals as General MIDI drum notes.

No trained drum model ships with midiscribe, so this is a semi-adaptive, sparse NMF of the drum
recording's spectrogram against templates made at run time from signal models of each piece, with
onsets picked per piece from its activations (see ``transcriber.py`` for the flow). Notes are written
on these General MIDI keys (channel 10):

    kick 36 · snare 38 · closed hi-hat 42 · open hi-hat 46 · low tom 41 · mid tom 45 · high tom 48 ·
    crash 49 · ride 51
"""

from .kit import KIT, Piece, piece_for_key
from .settings import DrumSettings
from .transcriber import MODEL_NAME, transcribe_drums

__all__ = ["KIT", "MODEL_NAME", "DrumSettings", "Piece", "piece_for_key", "transcribe_drums"]
