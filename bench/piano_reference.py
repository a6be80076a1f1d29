"""transkun 2.0.1 itself, for bench/piano.py: the only code that imports torch or transkun.

Runs inside bench/.venv-piano-ref (torch 2.13.0 CPU, transkun --no-deps, a torchaudio shim).

    piano_reference.py transcribe AUDIO OUT.json [--hop SECONDS]   notes and pedals as transkun finds them
    piano_reference.py ready                                        prints the wall time once the model is loaded

``transcribe`` does what transkun's own command does (``transkun AUDIO OUT.mid``: its transcribe.py)
except for reading the file: transkun reads with pydub, which needs FFmpeg for anything but WAV and
is not installed here; soundfile gives the same samples for PCM WAV (int16 / 2^15, every channel),
and soxr resamples other rates exactly as transkun does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def load_model():
    import moduleconf
    import torch
    import transkun

    package = Path(transkun.__file__).parent
    config = moduleconf.parseFromFile(str(package / "pretrained" / "2.0.conf"))
    model = config["Model"].module.TransKun(conf=config["Model"].config)
    checkpoint = torch.load(package / "pretrained" / "2.0.pt", map_location="cpu")
    state = checkpoint["best_state_dict"] if "best_state_dict" in checkpoint else checkpoint["state_dict"]
    model.load_state_dict(state, strict=False)
    model.eval()
    torch.set_grad_enabled(False)
    return model


def read_audio(path: str, rate: int):
    import soundfile
    import soxr

    audio, source_rate = soundfile.read(path, dtype="float32", always_2d=True)
    if source_rate != rate:
        audio = soxr.resample(audio, source_rate, rate)
    return audio


def transcribe(audio_path: str, out_path: str, hop: float | None) -> None:
    import torch

    began = time.perf_counter()
    model = load_model()
    audio = read_audio(audio_path, model.fs)
    notes = model.transcribe(torch.from_numpy(audio), stepInSecond=hop, segmentSizeInSecond=16 if hop else None,
                             discardSecondHalf=False)
    found = [[float(n.start), float(n.end), int(n.pitch), int(n.velocity)] for n in notes if n.pitch > 0]
    pedals = [[float(n.start), float(n.end), -int(n.pitch)] for n in notes if n.pitch < 0]
    Path(out_path).write_text(json.dumps({"notes": found, "pedals": pedals, "seconds": time.perf_counter() - began}))


def main(argv: list[str]) -> int:
    if argv[:1] == ["transcribe"] and len(argv) in (3, 5):
        hop = float(argv[4]) if len(argv) == 5 and argv[3] == "--hop" else None
        transcribe(argv[1], argv[2], hop)
        return 0
    if argv == ["ready"]:
        load_model()
        print(time.time())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
