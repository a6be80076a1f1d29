"""midiscribe: a self-hostable audio-to-MIDI service built around basic-pitch's model."""

__version__ = "0.1.0"
