"""Take the README's screenshots of the explorer: the page before and after a transcription, and a band.

    .venv/bin/python tools/explorer_screenshots.py
    # writes docs/explorer-before.png, docs/explorer-after.png, docs/explorer-multitrack.png

Starts the local stack in this process, synthesises a short piece (a melody over a bass line and chords,
harmonic tones with a decay), and drives the page in Debian's headless Chromium as a user would: paste the
key, pick the file, ask for a quantized MIDI file and a score, transcribe, wait for the roll, click a note,
play the sonified WAV for a moment. The band is the same piece as stems (melody, chords, bass and a drum
loop) through the engine's transcribe_stems, opened as a notes file.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from midiscribe.engine import transcribe_stems
from midiscribe.engine.outputs import transcription_dict
from midiscribe.local.stack import LocalStack, StackOptions

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHOTS = ("explorer-before.png", "explorer-after.png", "explorer-multitrack.png")
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from browser import launch  # noqa: E402
from synthetic_audio import drum_loop, wav_bytes  # noqa: E402

SAMPLE_RATE = 22050
VIEWPORT = {"width": 1200, "height": 1400}
# (MIDI pitch, start beat, length in beats) at 100 BPM: I–vi–IV–V in C with a melody on top.
BEAT_S = 0.6
CHORDS = [(48, [60, 64, 67]), (45, [57, 60, 64]), (41, [57, 60, 65]), (43, [59, 62, 67])]
MELODY = [(76, 0, 1), (79, 1, 1), (81, 2, 2), (79, 4, 1), (76, 5, 1), (72, 6, 2),
          (77, 8, 1), (76, 9, 1), (74, 10, 2), (71, 12, 1), (74, 13, 1), (79, 14, 2)]


def tone(pitch: int, seconds: float, loudness: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    frequency = 440.0 * 2 ** ((pitch - 69) / 12)
    wave = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3, 4))
    return loudness * wave * np.exp(-2.5 * t) * np.minimum(1.0, t / 0.01)


def parts() -> dict[str, list[tuple[int, float, float, float]]]:
    """The piece's parts: (MIDI pitch, start beat, length in beats, loudness) each."""
    return {
        "melody": [(pitch, start, length, 0.22) for pitch, start, length in MELODY],
        "chords": [(pitch, bar * 4 + 2 * half, 2, 0.08) for bar, (_, chord) in enumerate(CHORDS)
                   for half in (0, 1) for pitch in chord],
        "bass": [(bass, bar * 4, 4, 0.2) for bar, (bass, _) in enumerate(CHORDS)],
    }


def render(notes) -> np.ndarray:
    audio = np.zeros(int((len(CHORDS) * 4 + 1) * BEAT_S * SAMPLE_RATE))
    for pitch, start, length, loudness in notes:
        sound = tone(pitch, length * BEAT_S, loudness)
        offset = int(start * BEAT_S * SAMPLE_RATE)
        audio[offset:offset + len(sound)] += sound
    return (0.9 * audio / np.abs(audio).max()).astype(np.float32)


def piece() -> np.ndarray:
    return render([note for part in parts().values() for note in part])


def band(folder: Path) -> Path:
    """The piece as four stems, transcribed by the engine into one multi-track notes file."""
    families = {"melody": "winds", "chords": "guitar", "bass": "bass"}
    stems = [(name, wav_bytes(render(notes), SAMPLE_RATE), families[name]) for name, notes in parts().items()]
    stems.append(("drums", wav_bytes(drum_loop(beats=len(CHORDS) * 4, beat_s=BEAT_S), 44_100), "drums"))
    path = folder / "band.json"
    path.write_text(json.dumps(transcription_dict(transcribe_stems(stems))), encoding="utf-8")
    return path


def main() -> None:
    from playwright.sync_api import sync_playwright

    DOCS.mkdir(exist_ok=True)
    stack = LocalStack(StackOptions(root=ROOT, port=0, workers=1))
    running = stack.start()
    try:
        with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
            clip = Path(folder) / "chorale.wav"
            soundfile.write(clip, piece(), SAMPLE_RATE, subtype="PCM_16")
            browser = launch(playwright)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(running.api_url + "/")
            page.wait_for_selector("body[data-ready=true]")
            page.fill("[data-testid=api-key]", running.api_key)
            page.get_by_role("button", name="Save key").click()
            page.screenshot(path=DOCS / "explorer-before.png")
            page.set_input_files("[data-testid=file-input]", clip)
            page.select_option("#option-quantize", "1/16")
            page.check("#option-score")
            page.click("[data-testid=submit]")
            page.wait_for_selector("[data-testid=piano-roll][data-state=ready]", timeout=120_000)
            page.focus("[data-testid=piano-roll]")
            for _ in range(4):
                page.keyboard.press("n")
            page.keyboard.press(" ")
            time.sleep(2.5)
            page.keyboard.press(" ")
            page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
            page.screenshot(path=DOCS / "explorer-after.png")
            page.set_input_files("[data-testid=notes-file]", band(Path(folder)))
            page.wait_for_function("() => document.querySelector('[data-testid=result-summary]').textContent"
                                   ".startsWith('band.json')")
            page.locator("#result").scroll_into_view_if_needed()
            page.locator("#result").screenshot(path=DOCS / "explorer-multitrack.png")
            browser.close()
    finally:
        stack.stop()
    for name in SHOTS:
        print(f"wrote docs/{name} ({(DOCS / name).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
