"""How long the API takes to read the headers it parses itself, at and beyond the bounds (api/limits.py).

    .venv/bin/python bench/request_parsing.py [--repeats 20]

The email package's header parser takes time that grows faster than the header, which is why a part's
headers and the request's Content-Type are bounded before it runs (MAX_HEADER_BYTES, MAX_HEADER_PARAMETERS).
This prints, as median and worst of the repeats, the time ``parse_body`` takes for:

- 64 parts (MAX_FIELDS), each with the slowest header shape the bounds let through;
- headers over the bounds (200,000 parameters, comments nested 3,000 deep), which are refused before parsing.

Figures are printed, never asserted (tests/api/test_request_parsing.py checks what is accepted and refused).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))

from midiscribe.api.body import parse_body  # noqa: E402
from midiscribe.api.limits import MAX_FIELDS  # noqa: E402
from midiscribe.domain.errors import InvalidRequestError  # noqa: E402

MAX_BYTES = 10 * 1024 * 1024
MULTIPART = "multipart/form-data; boundary=B"
DISPOSITION = b'Content-Disposition: form-data; name="%s"; filename="a.wav"'


def bounded_head(name: bytes) -> bytes:
    """The slowest shape within the bounds: 13 parameters and a quoted run of "(" up to 4 KB."""
    head = DISPOSITION % name + b"; a=b" * 13
    return head + b'; z="' + b"(" * (4096 - len(head) - 6) + b'"'


def part(head: bytes) -> bytes:
    return b"--B\r\n" + head + b"\r\n\r\nx\r\n"


CASES = {
    f"{MAX_FIELDS} parts, each header at the bounds": (
        b"".join(part(bounded_head(b"f%d" % index)) for index in range(MAX_FIELDS)) + b"--B--\r\n", MULTIPART),
    "a part header of 200,000 parameters (refused)": (
        part(DISPOSITION % b"audio_file" + b"; a=b" * 200_000) + b"--B--\r\n", MULTIPART),
    "a part header nested 3,000 deep (refused)": (
        part(DISPOSITION % b"audio_file" + b"; x=" + b"(" * 3000) + b"--B--\r\n", MULTIPART),
    "a Content-Type nested 2,000 deep (refused)": (b'{"a": 1}', "application/json " + "(" * 2000),
}


def timed(body: bytes, content_type: str) -> float:
    started = time.perf_counter()
    try:
        parse_body(body, content_type, max_bytes=MAX_BYTES)
    except InvalidRequestError:
        pass
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print("| request | median ms | worst ms |\n|---|---|---|")
    for label, (body, content_type) in CASES.items():
        times = [timed(body, content_type) * 1000 for _ in range(args.repeats)]
        print(f"| {label} | {statistics.median(times):.1f} | {max(times):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
