"""The ``midiscribe`` command. Each sub-command lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import os
import sys

# numpy's BLAS on one thread in midiscribe's own processes (the worker's environment says the same):
# the engine splits its products over the CPUs itself (the piano decoder's tracks, stems side by side),
# and an OpenBLAS pool beside those threads spins for the CPUs they hold (the piano decoder took up to
# 56 s instead of about 3 s; bench/README.md). OpenBLAS reads it once, when numpy loads it, so this comes before
# anything imports numpy; a value already set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .. import __version__  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    from . import fetch_model, keys, serve, submit, transcribe

    parser = argparse.ArgumentParser(
        prog="midiscribe",
        description="Turn recordings into MIDI, sonified WAV and note lists; run or call the midiscribe API.",
    )
    parser.add_argument("--version", action="version", version=f"midiscribe {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (transcribe, fetch_model, serve, submit, keys):
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
