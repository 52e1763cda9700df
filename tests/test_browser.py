"""The Explore tab in a real browser: Debian's chromium driven by Playwright."""

import os
import shutil
import time
from pathlib import Path

import pytest

from app import build_app, launch

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]

import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (apt-get install chromium) for the browser test")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app_url():
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _image_src(page) -> str:
    return page.locator("#explore-image img").first.get_attribute("src") or ""


def _wait_new_image(page, old: str, timeout: float = 60.0) -> str:
    page.wait_for_function(
        "old => { const i = document.querySelector('#explore-image img'); return i && i.src && i.src !== old && i.complete; }",
        arg=old, timeout=timeout * 1000,
    )
    return _image_src(page)


def _shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DOFGEN_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_explore_in_a_browser(app_url, browser, tmp_path):
    shots = _shots_dir(tmp_path)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(app_url)
    first = _wait_new_image(page, "")

    # pick a bundled scene
    page.locator("#explore-scene input").click()
    page.get_by_role("option", name="tabletop").click()
    scene_src = _wait_new_image(page, first)
    focus_before = page.locator("#explore-focus input[type=number]").input_value()

    # move the aperture slider: the lens alone re-runs
    aperture = page.locator("#explore-aperture input[type=number]")
    aperture.fill("1.4")
    start = time.perf_counter()
    aperture.press("Enter")
    aperture.blur()
    wide_src = _wait_new_image(page, scene_src)
    latency = time.perf_counter() - start
    print(f"slider release to new image: {latency:.2f} s")
    assert latency < 10  # the 1 s target is measured and recorded in benchmarks, not asserted here

    # click on the image: focus moves to the surface there
    box = page.locator("#explore-image img").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.12)  # the far wall
    clicked_src = _wait_new_image(page, wide_src)
    page.wait_for_function(
        "before => document.querySelector('#explore-focus input[type=number]').value !== before", arg=focus_before
    )
    assert float(page.locator("#explore-focus input[type=number]").input_value()) != pytest.approx(float(focus_before), abs=0.01)
    assert clicked_src != wide_src
    page.screenshot(path=str(shots / "explore-laptop.png"), full_page=True)

    # render an aperture sweep: a playable video appears
    page.locator("#explore-sweep-aperture").click()
    page.wait_for_selector("#explore-video video[src]", timeout=120_000)
    ready = page.wait_for_function(
        "() => { const v = document.querySelector('#explore-video video'); return v && v.readyState >= 1 && v.duration > 0 ? v.duration : null; }",
        timeout=60_000,
    ).json_value()
    assert ready > 1.0  # 43 frames at 12 fps
    page.screenshot(path=str(shots / "explore-laptop-sweep.png"), full_page=True)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone.goto(app_url)
    _wait_new_image(phone, "")
    phone.screenshot(path=str(shots / "explore-phone.png"), full_page=True)
    if shutil.which("true"):
        assert (shots / "explore-phone.png").stat().st_size > 10_000


def test_upload_and_slider_latency_at_1024(app_url, browser, tmp_path):
    """A 1024x1024 photo with its depth map; times slider release to the new image shown."""
    import numpy as np
    import torch

    from dofgen import scenes

    scene = scenes.load("tabletop")
    photo, depth = tmp_path / "square.png", tmp_path / "square.npy"
    scene.image.resize((1024, 1024)).save(photo)
    np.save(depth, torch.nn.functional.interpolate(scene.depth[None, None], size=(1024, 1024), mode="nearest")[0, 0].numpy())
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(app_url)
    first = _wait_new_image(page, "")
    page.get_by_role("tab", name="Your photo").click()
    page.locator("#explore-upload input[type=file]").set_input_files(str(photo))
    page.locator("input[type=file]").last.set_input_files(str(depth))
    page.wait_for_timeout(1500)
    page.locator("#explore-use-photo").click()
    current = _wait_new_image(page, first)
    assert page.locator("#explore-image img").first.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1024, 1024]
    aperture = page.locator("#explore-aperture input[type=number]")
    latencies = []
    for value in ("1.4", "2.8", "2", "4", "1.8"):
        aperture.fill(value)
        start = time.perf_counter()
        aperture.press("Enter")
        aperture.blur()
        current = _wait_new_image(page, current)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(f"1024x1024 slider release to new image: median {latencies[2]:.2f} s, all {[round(x, 2) for x in latencies]}")
    assert latencies[2] < 10  # the 1 s target is recorded in benchmarks/RESULTS.md, not asserted
