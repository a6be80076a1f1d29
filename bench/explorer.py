"""Explorer benchmark: how long the page takes to read and draw an hour of notes, in headless Chromium.

    flock /tmp/midiscribe-timing.lock .venv/bin/python bench/explorer.py [--notes 50000] [--repeats 20]

Serves the page's own files from the package on a loopback port (no stack: this measures the browser's
work, not the API), opens it in Debian's Chromium, and times inside the page with performance.now():
JSON.parse of the document, building the note index (parseTranscription), and one synchronous redraw of
the roll fitted to the whole hour, at the half-minute view a long result opens with, and zoomed to 4 s.
Figures are printed (median and worst of the repeats), never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "layers" / "midiscribe" / "api" / "explorer"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".json": "application/json"}

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from browser import launch  # noqa: E402
from synthetic_notes import hour_of_notes  # noqa: E402

MEASURE = """async ([repeats]) => {
  const { parseTranscription } = await import('./explorer/notes.js');
  const { roll } = await import('./explorer/app.js');
  const text = await (await fetch('/hour.json')).text();
  const figures = { parse: [], index: [], fit: [], opening: [], zoomed: [] };
  let notes;
  for (let run = 0; run < repeats; run++) {
    let started = performance.now();
    const doc = JSON.parse(text);
    figures.parse.push(performance.now() - started);
    started = performance.now();
    notes = parseTranscription(doc);
    figures.index.push(performance.now() - started);
  }
  roll.setNotes(notes);
  for (const [name, span] of [['fit', notes.duration], ['opening', 30], ['zoomed', 4]]) {
    roll.fit(span);
    roll.scrollTo(notes.duration / 2);
    for (let run = 0; run < repeats; run++) {
      const started = performance.now();
      roll.draw();
      figures[name].push(performance.now() - started);
    }
    figures[name + '_drawn'] = Number(roll.canvas.dataset.drawnCount);
  }
  return figures;
}"""


def serve(document: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/hour.json":
                body, kind = document, TYPES[".json"]
            elif path == "/openapi.json":
                body, kind = (ROOT / "openapi.json").read_bytes(), TYPES[".json"]
            else:
                name = "index.html" if path == "/explorer" else path.removeprefix("/explorer/")
                file = ASSETS / name
                if "/" in name or not file.is_file():
                    self.send_error(404)
                    return
                body, kind = file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=20)
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    document = json.dumps(hour_of_notes(arguments.notes)).encode("utf-8")
    server = serve(document)
    url = f"http://127.0.0.1:{server.server_address[1]}/explorer"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        figures = page.evaluate(MEASURE, [arguments.repeats])
        browser.close()
    server.shutdown()
    print(f"explorer: an hour, {arguments.notes} notes, {len(document) / 1e6:.1f} MB of JSON, "
          f"{arguments.repeats} repeats, 1280x900 window")
    for name, label in [("parse", "JSON.parse"), ("index", "parseTranscription"), ("fit", "draw, whole hour"),
                        ("opening", "draw, 30 s view"), ("zoomed", "draw, 4 s view")]:
        values = figures[name]
        drawn = f"  ({figures[name + '_drawn']} notes drawn)" if name + "_drawn" in figures else ""
        print(f"  {label:<20} median {statistics.median(values):7.1f} ms   worst {max(values):7.1f} ms{drawn}")
    print(f"  load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
