"""``midiscribe fetch-model``: download the pinned wheels, check them, and set up both models.

The general model is basic-pitch 0.4.0's ``nmp.onnx``, with its graph rewritten for AVX-512 CPUs beside it
(``engine/model_graph.py``); the piano model is built from transkun 2.0.1's
checkpoint (see ``engine/piano/model.py``) and cached beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.errors import ModelNotFoundError
from ..engine.model import fetch_model, model_path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("fetch-model", help="download, verify and set up the transcription models")
    parser.add_argument("--dest", type=Path, default=None,
                        help=f"where to put the general model (default: {model_path()}); the piano model goes "
                             "in a folder beside it")
    parser.add_argument("--wheel", type=Path, default=None, help="use this basic-pitch 0.4.0 wheel instead of pip")
    parser.add_argument("--piano-wheel", type=Path, default=None,
                        help="use this transkun 2.0.1 wheel instead of pip")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import model_graph
    from ..engine.piano.fetch import fetch_piano_model
    from ..engine.piano.model import MODEL_NAME

    try:
        general = fetch_model(args.dest, wheel=args.wheel)
        model_graph.ensure_built(general)
        fetch_piano_model(general.parent / MODEL_NAME if args.dest else None, wheel=args.piano_wheel)
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # the AVX-512 graph's build refused its own output (model_graph.build)
        print(f"error: building the AVX-512 graph failed: {exc}", file=sys.stderr)
        return 1
    return 0
