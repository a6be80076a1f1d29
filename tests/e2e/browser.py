"""Debian's Chromium for the explorer's browser tests, its bench and its screenshots (never a downloaded browser)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "sudo apt-get install chromium chromium-driver"
# As root and without a network, Chromium stalls on its own background connections unless told not to make them.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def launch(playwright):
    """Headless Chromium from Debian's package, driven by ``playwright`` (a started sync_playwright())."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
