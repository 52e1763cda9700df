"""Debian's chromium, driven by Playwright, for the browser tests (never a downloaded browser).

Import it at the top of a browser test module: the module is skipped where chromium is not
installed, and fails in CI, which must install it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (apt-get install chromium) for the browser tests")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``DOFGEN_SCREENSHOTS`` (to look at them), else the test's tmp folder."""
    folder = Path(os.environ.get("DOFGEN_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
