"""Explore tab latency: slider to new view at the largest upload, and live previews at 1024².

Run by hand from the repository root: ``python -m benchmarks.bench_explore``. Times the Explore
handlers as the
server runs them (lens, sRGB encode, JPEG written), not the browser's transfer:

- ``view``: :func:`refocus_view` on a 4096x2731 photo (the largest allowed side), the
  view rendered at ``VIEW_SIDE`` on the long side; and on 1024x1024.
- ``preview``: :func:`preview_view` while a slider moves on a 1024x1024 photo: previews
  a second, back to back (the goal is 5 or more on 2 cores).
- ``full``: the full-resolution render the PNG download makes at 4096x2731.

The scene is the bundled tabletop scaled up, 50 mm, focus on its subject; the aperture
steps through f/1.4 to f/8 so the blur changes each time.

``python -m benchmarks.bench_explore --browser`` times the same in headless Debian chromium
(Playwright) against the app launched in this process: the 4096x2731 photo and its depth
(.npz) uploaded, then a value typed into the aperture box and Enter, until the preview
shows and until the full view shows (its focus line names the new f-number). The full view
follows the preview once the control has rested ``REST_S``: that wait is part of the figure.
Then it drags the aperture slider for a few seconds and counts the pictures shown (the live
previews' frame rate as a user sees it).
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from dofgen import scenes
from dofgen.argparse_help import ArgumentParser
from dofgen.pipeline import DefocusPipeline
from dofgen.ui import explore
from dofgen.ui.sessions import VIEW_SIDE

STOPS = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0)
LENS = ("Circle", 0.5, "Ours (layered)")


def _state(width: int, height: int) -> explore.ExploreState:
    scene = scenes.load("tabletop")
    image = scene.image.resize((width, height))
    depth = torch.nn.functional.interpolate(scene.depth[None, None], size=(height, width), mode="nearest-exact")[0, 0]
    return explore.ExploreState.start(DefocusPipeline(device="cpu").from_image(image, depth, camera=scene.camera, focus_distance=1.2))


def _times(call, repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (all threads) per call: on a shared machine the CPU time
    says what the call costs, the wall time what it waited as well."""
    wall, cpu = [], []
    for index in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call(STOPS[index % len(STOPS)])
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def _line(label: str, times: tuple[list[float], list[float]]) -> str:
    wall, cpu = times
    return f"{label}: wall median {statistics.median(wall):.3f} s (max {max(wall):.3f}), CPU median {statistics.median(cpu):.3f} s"


def _browser(width: int, height: int, releases: int = 7) -> None:
    """Slider release to new image in chromium, at the largest upload."""
    import tempfile

    import numpy as np
    from playwright.sync_api import sync_playwright

    from app import build_app, launch

    scene = scenes.load("tabletop")
    folder = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    photo, depth = folder / "large.jpg", folder / "large.npz"
    scene.image.resize((width, height), Image.Resampling.LANCZOS).save(photo, quality=90)
    np.savez_compressed(depth, depth=torch.nn.functional.interpolate(scene.depth[None, None], size=(height, width), mode="nearest-exact")[0, 0].numpy())
    print(f"upload: {width}x{height} JPEG {photo.stat().st_size / 2**20:.1f} MB, depth .npz {depth.stat().st_size / 2**20:.1f} MB")
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    info = "t => (document.querySelector('#explore-focus-info') || {}).innerText?.includes(t)"
    changed = "old => { const i = document.querySelector('#explore-image img'); return i && i.complete && i.src !== old; }"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(demo.local_url)
            page.wait_for_function(info, arg="Focus", timeout=120_000)
            page.get_by_role("tab", name="Your photo").click()
            page.locator("#explore-upload input[type=file]").set_input_files(str(photo))
            page.locator("#explore-depth-upload input[type=file]").set_input_files(str(depth))
            page.wait_for_timeout(3000)
            start = time.perf_counter()
            page.locator("#explore-use-photo").click()
            page.wait_for_function(info, arg=f"at {min(width, VIEW_SIDE)} px wide", timeout=300_000)
            print(f"use this photo -> first view: {time.perf_counter() - start:.2f} s")
            shown = _drag_previews(page)
            page.wait_for_timeout(3000)
            box = page.locator("#explore-aperture input[type=number]")
            previews, views = [], []
            for index in range(releases):
                value = f"{STOPS[index % len(STOPS)]:.1f}"
                old = page.locator("#explore-image img").first.get_attribute("src")
                box.fill(value)
                start = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(changed, arg=old, timeout=60_000)
                previews.append(time.perf_counter() - start)
                page.wait_for_function(info, arg=f"f/{value} ", timeout=60_000)
                views.append(time.perf_counter() - start)
            browser.close()
    finally:
        demo.close()
    for label, times in (("first new image (preview)", previews), ("full view", views)):
        print(f"{width}x{height} typed value + Enter -> {label}: median {statistics.median(times):.2f} s, all {[round(t, 2) for t in times]}")
    print(f"{width}x{height} dragging the aperture for {DRAG_S:.0f} s: {shown} new pictures shown, {shown / DRAG_S:.1f} a second")


#: How long the browser benchmark drags the aperture slider (seconds).
DRAG_S = 4.0


def _drag_previews(page) -> int:
    """Drag the aperture slider back and forth for :data:`DRAG_S` (a move every 40 ms) and
    count the new pictures the browser shows meanwhile (previews, and views where it rests)."""
    page.evaluate(
        """() => { window.__shown = 0; let last = (document.querySelector('#explore-image img') || {}).src;
                   const seen = () => { const i = document.querySelector('#explore-image img');
                                        if (i && i.src !== last) { last = i.src; i.decode().then(() => { window.__shown += 1; }, () => {}); } };
                   new MutationObserver(seen).observe(document.querySelector('#explore-image'), {attributes: true, childList: true, subtree: true}); }"""
    )
    page.locator("#explore-aperture input[type=range]").scroll_into_view_if_needed()
    track = page.locator("#explore-aperture input[type=range]").bounding_box()
    y = track["y"] + track["height"] / 2
    page.mouse.move(track["x"] + 4, y)
    page.mouse.down()
    start, step = time.perf_counter(), 0
    while time.perf_counter() - start < DRAG_S:
        step += 1
        phase = (step % 50) / 50  # there and back across 40 % of the track every 4 s
        page.mouse.move(track["x"] + 4 + track["width"] * 0.4 * (1 - abs(2 * phase - 1)), y)
        page.wait_for_timeout(40)
    shown = page.evaluate("() => window.__shown")
    page.mouse.up()
    return shown


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_explore", description=__doc__)
    parser.add_argument("--browser", action="store_true", help="Time the app in headless chromium (typed value and slider drag to new picture).")
    parser.add_argument("--size", default="4096x2731", help="The uploaded photo's size for --browser, WxH.")
    args = parser.parse_args()
    if args.browser:
        print(f"{datetime.date.today()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · torch {torch.__version__} · load {os.getloadavg()[0]:.1f}")
        _browser(*map(int, args.size.split("x")))
        print(f"load after: {os.getloadavg()[0]:.1f}")
        return
    print(f"{datetime.date.today()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · torch {torch.__version__} · load {os.getloadavg()[0]:.1f}")
    for width, height in ((4096, 2731), (1024, 1024)):
        state = _state(width, height)
        views = _times(lambda n: explore.refocus_view(explore.Controls(state, n, 50, False, 1.2, *LENS)), 12)
        print(_line(f"view {width}x{height} -> {'x'.join(map(str, state.view.all_in_focus.size))}", views))
        if width == 1024:
            previews = _times(lambda n: explore.preview_view(explore.Controls(state, n, 50, False, 1.2, *LENS)), 30)
            size = "x".join(map(str, state.preview.all_in_focus.size))
            print(_line(f"preview {width}x{height} at {size}", previews) + f"; {1 / statistics.median(previews[0]):.1f} previews/s (wall)")
        else:
            print(_line(f"full {width}x{height} (PNG download)", _times(lambda n: explore.full_view(*explore._sweep_scene(state)), 1)))


if __name__ == "__main__":
    main()
