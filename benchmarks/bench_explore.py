"""Explore tab latency: slider to new view at the largest upload, and live previews at 1024².

Run by hand from the repository root: ``python -m benchmarks.bench_explore``. Times the Explore
handlers as the
server runs them (lens, sRGB encode, JPEG written), not the browser's transfer:

- ``view``: :func:`refocus_view` on a 4096x2731 photo (the largest allowed side), the
  view rendered at ``VIEW_SIDE`` on the long side; and on 1024x1024.
- ``preview``: :func:`preview_view` while a slider moves on a 1024x1024 photo: previews
  a second, back to back (the handler alone; the goal, 10 a second shown in the browser, is
  measured by ``--browser``).
- ``full``: the full-resolution render the PNG download makes at 4096x2731.

The scene is the bundled tabletop scaled up, 50 mm, focus on its subject; the aperture
steps through f/1.4 to f/8 so the blur changes each time.

``python -m benchmarks.bench_explore --browser`` times the same in headless Debian chromium
(Playwright) against the app launched in this process, with the photo (``--size``) and its
depth (.npz) uploaded:

- drags: :data:`DRAGS` drags of the aperture slider, :data:`DRAG_S` each, driven in the page
  as a pointer does (an ``input`` event every 16 ms), counting the distinct previews the page
  loads into the picture (frames shown: the rate, and the gaps between them);
- release: each drag let go (``pointerup``) until the full view shows (the picture is not a
  preview, the focus line names the value);
- typed: a value typed into the aperture box and Enter, until the full view shows.
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


#: A full view (not a live preview) is shown, loaded, and its focus line names ``t``.
VIEW_SHOWN = """t => { const i = document.querySelector('#explore-image img');
  return i && i.complete && !i.src.endsWith('-preview.jpg') && (document.querySelector('#explore-focus-info') || {}).innerText?.includes(t); }"""
#: Records the time of each distinct preview the page loads into the picture.
RECORD = """() => { window.__previews = []; const seen = new Set(); document.addEventListener('load', e => {
  const i = e.target; if (i.matches && i.matches('#explore-image img') && i.src.endsWith('-preview.jpg') && !seen.has(i.src)) { seen.add(i.src); window.__previews.push(performance.now()); } }, true); }"""
#: Drags the aperture slider for ``ms`` as a pointer does (an input event every 16 ms, there and
#: back over 60 % of the track), then lets go; answers the value let go at and its time.
DRAG = """ms => new Promise(done => { const r = document.querySelector('#explore-aperture input[type=range]');
  const lo = +r.min, hi = +r.max, t0 = performance.now(); let k = 0;
  const id = setInterval(() => { k += 1; const phase = (k % 90) / 90;
    r.value = (lo + (hi - lo) * 0.6 * (1 - Math.abs(2 * phase - 1))).toFixed(1); r.dispatchEvent(new Event('input', {bubbles: true}));
    if (performance.now() - t0 > ms) { clearInterval(id); r.dispatchEvent(new Event('pointerup', {bubbles: true})); done([r.value, performance.now()]); } }, 16); })"""
#: Drags per run, and seconds each.
DRAGS, DRAG_S = 5, 3.0


def _upload(width: int, height: int) -> tuple[Path, Path]:
    """The tabletop scene scaled to ``width`` x ``height``: a JPEG and its depth (.npz)."""
    import tempfile

    import numpy as np

    scene = scenes.load("tabletop")
    folder = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    photo, depth = folder / "large.jpg", folder / "large.npz"
    scene.image.resize((width, height), Image.Resampling.LANCZOS).save(photo, quality=90)
    np.savez_compressed(depth, depth=torch.nn.functional.interpolate(scene.depth[None, None], size=(height, width), mode="nearest-exact")[0, 0].numpy())
    print(f"upload: {width}x{height} JPEG {photo.stat().st_size / 2**20:.1f} MB, depth .npz {depth.stat().st_size / 2**20:.1f} MB")
    return photo, depth


def _browser(width: int, height: int, releases: int = 7) -> None:
    """Previews while dragging, drag release and typed value to the full view, in chromium."""
    from playwright.sync_api import sync_playwright

    from app import build_app, launch

    photo, depth = _upload(width, height)
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(demo.local_url)
            page.wait_for_function(VIEW_SHOWN, arg="Focus", timeout=120_000)
            page.get_by_role("tab", name="Your photo").click()
            page.locator("#explore-upload input[type=file]").set_input_files(str(photo))
            page.locator("#explore-depth-upload input[type=file]").set_input_files(str(depth))
            for control, name in (("upload", photo.name), ("depth-upload", depth.name)):  # the server has the file
                page.wait_for_function(
                    "([c, n]) => [...document.querySelectorAll(`#explore-${c} a.download-link`)].some(a => a.getAttribute('download') === n)",
                    arg=[control, name], timeout=120_000,
                )
            start = time.perf_counter()
            page.locator("#explore-use-photo").click()
            page.wait_for_function(VIEW_SHOWN, arg=f"at {min(width, VIEW_SIDE)} px wide", timeout=300_000)
            print(f"use this photo -> first view: {time.perf_counter() - start:.2f} s")
            gaps, rates, released = _drags(page)
            typed = _typed(page, releases)
            browser.close()
    finally:
        demo.close()
    _report(width, height, gaps, rates, released, typed)


def _drags(page) -> tuple[list[float], list[float], list[float]]:
    """:data:`DRAGS` drags: the gaps between previews shown (s), previews a second per drag,
    and the seconds from each let-go to its full view."""
    gaps, rates, released = [], [], []
    page.evaluate(RECORD)
    for _ in range(DRAGS):
        page.evaluate("() => { window.__previews = []; }")
        value, _let_go = page.evaluate(DRAG, DRAG_S * 1000)
        start = time.perf_counter()
        page.wait_for_function(VIEW_SHOWN, arg=f"f/{float(value):.1f} ", timeout=60_000)
        released.append(time.perf_counter() - start)
        shown = page.evaluate("() => window.__previews")
        rates.append(len(shown) / DRAG_S)
        gaps += [(b - a) / 1000 for a, b in zip(shown, shown[1:])]
    return gaps, rates, released


def _typed(page, releases: int) -> list[float]:
    """Seconds from a typed value's Enter to its full view."""
    box = page.locator("#explore-aperture input[type=number]")
    views = []
    for index in range(releases):
        value = f"{STOPS[index % len(STOPS)]:.1f}"
        box.fill(value)
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(VIEW_SHOWN, arg=f"f/{value} ", timeout=60_000)
        views.append(time.perf_counter() - start)
    return views


def _report(width: int, height: int, gaps: list[float], rates: list[float], released: list[float], typed: list[float]) -> None:
    size = f"{width}x{height}"
    if gaps:
        cuts = statistics.quantiles(gaps, n=10)
        print(f"{size} previews shown while dragging ({DRAGS} drags of {DRAG_S:.0f} s): {statistics.mean(rates):.1f} a second "
              f"(per drag {[round(r, 1) for r in rates]}); gap between previews median {statistics.median(gaps) * 1000:.0f} ms, "
              f"p10 {cuts[0] * 1000:.0f}, p90 {cuts[-1] * 1000:.0f}, max {max(gaps) * 1000:.0f} ms")
    for label, times in (("drag let go -> full view", released), ("typed value + Enter -> full view", typed)):
        print(f"{size} {label}: median {statistics.median(times):.2f} s, all {[round(t, 2) for t in times]}")


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
            print(_line(f"full {width}x{height} (PNG download)", _times(lambda n: explore.full_view(*explore.view_scene(state)), 1)))


if __name__ == "__main__":
    main()
