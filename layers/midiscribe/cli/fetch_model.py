"""``midiscribe fetch-model``: download the pinned basic-pitch wheel and extract the checked model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine.errors import ModelNotFoundError
from ..engine.model import fetch_model, model_path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("fetch-model", help="download and verify the transcription model")
    parser.add_argument("--dest", type=Path, default=None, help=f"where to put it (default: {model_path()})")
    parser.add_argument("--wheel", type=Path, default=None, help="use this basic-pitch 0.4.0 wheel instead of pip")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        fetch_model(args.dest, wheel=args.wheel)
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
