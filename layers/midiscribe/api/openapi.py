"""Write or check the OpenAPI document generated from the routes.

    python -m midiscribe.api.openapi --write openapi.json   # regenerate the checked-in copy
    python -m midiscribe.api.openapi --check openapi.json   # exit 1 when the copy is stale
    python -m midiscribe.api.openapi                        # print it
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def document() -> str:
    """The OpenAPI document as formatted JSON with a final newline (stable, so diffs stay small)."""
    from .app import openapi_json

    return json.dumps(json.loads(openapi_json()), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m midiscribe.api.openapi", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", help="write the document to PATH")
    group.add_argument("--check", metavar="PATH", help="exit 1 unless PATH holds the current document")
    args = parser.parse_args(argv)
    text = document()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
        return 0
    if args.check:
        path = Path(args.check)
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(f"{path} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{path} is current")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
