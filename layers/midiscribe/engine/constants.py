"""The numbers the engine's modules share, each written once.

Two sample rates meet in the engine and must not be confused: the model hears 22050 Hz audio, and
the sonified WAV is rendered at 44.1 kHz.
"""

# basic-pitch's model input rate: every file is decoded and resampled to it.
MODEL_SAMPLE_RATE = 22050
# The sonified WAV's rate (CD quality; the synthesizer's highest partials stay below its Nyquist limit).
SONIFY_SAMPLE_RATE = 44_100
# Samples between two model frames (86.13 frames/s at MODEL_SAMPLE_RATE).
FFT_HOP = 256
# One model window: 2 s of audio minus one hop, 43844 samples.
WINDOW_SAMPLES = 2 * MODEL_SAMPLE_RATE - FFT_HOP
