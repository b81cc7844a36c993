"""Driving `lacgan serve`'s page in a real browser, for tests/test_serve.py and
benchmarks/serve_page.py: the server as a subprocess, and Debian's Chromium through Playwright."""
from __future__ import annotations

import contextlib
import importlib.util
import select
import subprocess
import sys
import time
from pathlib import Path

from lac_gan.product import serve

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browser download is not used
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DRIVER_PACKAGES = ("playwright", *serve.WEB_PACKAGES)


def browser_missing() -> str | None:
    """Why the page cannot be driven here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent (Debian's chromium package; .ci/run installs it)"
    for package in DRIVER_PACKAGES:
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed (.ci/run installs the serve extra and playwright)"
    return None


@contextlib.contextmanager
def served(*flags: str, timeout: float = 300):
    """`lacgan serve --port 0 <flags>` running; yields its URL, stops it after."""
    process = subprocess.Popen([sys.executable, "-m", "lac_gan", "serve", "--port", "0", *flags], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if select.select([process.stdout], [], [], 1.0)[0]:
                line = process.stdout.readline()
                output.append(line)
                if line.startswith("lacgan serve: open http://"):
                    yield line.split()[3]
                    return
        raise RuntimeError(f"lacgan serve did not print its URL:\n{''.join(output)}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def chromium():
    """A headless Chromium (Playwright's Browser)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str, width: int = 1400, height: int = 900):
    """A new tab on the page, once its controls are built."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    return page


def move_slider(page, au: str, share: float) -> None:
    """Click the AU's slider `share` of the way along, as a user does (input, then change)."""
    box = page.locator(f"#slider-{au}").bounding_box()
    page.mouse.click(box["x"] + share * box["width"], box["y"] + box["height"] / 2)
