"""The Explore tab in a real browser: Debian's chromium driven by Playwright."""

import json
import time
from pathlib import Path

import pytest

from tests.support.browser import IDLE, answered, app_url, browser, shots_dir, sync_api  # noqa: F401 (fixtures; skips without chromium)

expect = sync_api.expect


def _image_src(page) -> str:
    return page.locator("#explore-image img").first.get_attribute("src") or ""


def _wait_new_image(page, old: str, timeout: float = 60.0) -> str:
    page.wait_for_function(
        "old => { const i = document.querySelector('#explore-image img'); return i && i.src && i.src !== old && i.complete; }",
        arg=old, timeout=timeout * 1000,
    )
    return _image_src(page)


def _info(page) -> str:
    return page.locator("#explore-focus-info").inner_text()


#: The picture shown is a full view (not a live preview), loaded.
VIEW_SHOWN = "(() => { const i = document.querySelector('#explore-image img'); return !!i && i.complete && !i.src.endsWith('-preview.jpg'); })()"


def _wait_info(page, text: str, timeout: float = 30.0) -> float:
    """Seconds until the focus line contains ``text`` and the picture is a full view (a live
    preview, which carries its focus line too, is not enough)."""
    start = time.perf_counter()
    page.wait_for_function(f"t => (document.querySelector('#explore-focus-info') || {{}}).innerText?.includes(t) && {VIEW_SHOWN}", arg=text, timeout=timeout * 1000)
    return time.perf_counter() - start


def _stuck_controls(page) -> list[str]:
    """Elements left in Gradio's error state (toasts aside)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.error')].filter(e => !e.closest('.toast-wrap, [class*=toast]'))"
        ".map(e => (e.closest('[id]') || {}).id || e.className)"
    )


def _toasts(page) -> str:
    return " | ".join(page.evaluate("() => [...document.querySelectorAll('.toast-body')].map(e => e.innerText)"))


def _natural_size(page) -> list[int]:
    """The shown picture's pixel size, once it has loaded."""
    page.wait_for_function("() => { const i = document.querySelector('#explore-image img'); return i && i.complete && i.naturalWidth > 0; }")
    return page.locator("#explore-image img").first.evaluate("i => [i.naturalWidth, i.naturalHeight]")


def _click_picture(page, fx: float, fy: float) -> None:
    """Click at (fx, fy), as shares of the picture's width and height (it is letterboxed)."""
    img = page.locator("#explore-image img").first
    natural_w, natural_h = _natural_size(page)
    box = img.bounding_box()
    scale = min(box["width"] / natural_w, box["height"] / natural_h)
    left = (box["width"] - natural_w * scale) / 2
    top = (box["height"] - natural_h * scale) / 2
    # relative to the element: Playwright scrolls it into view, waits until it is stable
    # and would get the click, then clicks (a page scroll after a render cannot move it)
    img.click(position={"x": left + fx * natural_w * scale, "y": top + fy * natural_h * scale})


def _open(browser, app_url, viewport=(1366, 900)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.goto(app_url)
    _wait_info(page, "Focus", 60)
    return page


def _type(page, control: str, value: str, shown: str) -> None:
    """Type ``value`` into the number box of ``#explore-<control>``, Tab, and wait for the
    render whose focus line contains ``shown``."""
    box = page.locator(f"#explore-{control} input[type=number]")
    box.fill(value)
    box.press("Tab")
    _wait_info(page, shown)


def _uploaded(page, control: str, name: str) -> None:
    """Wait until ``#explore-<control>`` holds the uploaded file ``name``: the server has it
    (the component links to its copy), so a click now sends it."""
    page.wait_for_function(
        "([c, n]) => [...document.querySelectorAll(`#explore-${c} a.download-link`)].some(a => a.href.includes('/file=') && a.getAttribute('download') === n)",
        arg=[control, name], timeout=60_000,
    )


def _use_photo(page, photo: Path, depth: Path, width_px: int) -> None:
    """Upload ``photo`` with its ``depth`` map and wait for the view ``width_px`` wide."""
    page.get_by_role("tab", name="Your photo").click()
    page.locator("#explore-upload input[type=file]").set_input_files(str(photo))
    page.locator("#explore-depth-upload input[type=file]").set_input_files(str(depth))
    _uploaded(page, "upload", photo.name)
    _uploaded(page, "depth-upload", depth.name)
    before = _image_src(page)
    page.locator("#explore-use-photo").click()
    _wait_new_image(page, before)  # the photo's view (the scene before may be as wide)
    _wait_info(page, f"{width_px} px wide", 60)


def _box_follows_track(page, control: str) -> None:
    """Wait until the number box of ``#explore-<control>`` shows its track's value."""
    page.wait_for_function(
        "c => { const n = document.querySelector(`#explore-${c} input[type=number]`), r = document.querySelector(`#explore-${c} input[type=range]`);"
        " return n.value !== '' && Math.abs(parseFloat(n.value) - parseFloat(r.value)) < 1e-9; }",
        arg=control,
    )


@pytest.mark.slow
def test_every_way_of_setting_a_slider_renders_the_value_shown(app_url, browser):
    """Typing then Tab or Enter, arrow keys and dragging all render the value in the box."""
    page = _open(browser, app_url)
    aperture = page.locator("#explore-aperture input[type=number]")
    aperture.fill("22")
    aperture.press("Tab")
    _wait_info(page, "f/22.0")
    aperture.fill("5.6")
    aperture.press("Enter")
    _wait_info(page, "f/5.6")
    track = page.locator("#explore-aperture input.dofgen-track")  # the track in stops (dofgen.ui.scales)
    track.focus()
    track.press("ArrowRight")
    track.press("ArrowRight")
    _wait_info(page, "f/7.1")  # two third stops up from f/5.6
    assert aperture.input_value() == "7.1"
    focus = page.locator("#explore-focus input[type=number]")
    focus.fill("4.5")
    focus.press("Tab")
    _wait_info(page, "4.50 m (set by you)")  # the render with the focus set by hand
    expect(page.locator("#explore-auto-focus input")).not_to_be_checked(timeout=30_000)  # its own (unqueued) request
    assert focus.input_value() == "4.5" and "set by you" in _info(page)
    assert not page.locator("#explore-auto-focus input").is_checked()
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    for step in range(1, 8):
        page.mouse.move(box["x"] + 2 + step * (box["width"] - 4) / 7 * 0.3, y)
        _box_follows_track(page, "aperture")  # the page has taken this move in before the next
    page.mouse.up()
    _box_follows_track(page, "aperture")
    shown = float(aperture.input_value())
    _wait_info(page, f"f/{shown:.1f}")
    page.close()


@pytest.mark.slow
def test_a_failed_action_leaves_every_control_usable(app_url, browser, tmp_path, monkeypatch):
    """Generate with no generator, a text file named .jpg and an empty file: a toast each,
    no control in an error state, and the sliders still render."""
    from dofgen.ui import explore
    from dofgen.ui.models import LazyModels

    monkeypatch.setenv("DOFGEN_GENERATOR", str(tmp_path / "no-generator"))
    monkeypatch.setattr(explore, "MODELS", LazyModels())
    page = _open(browser, app_url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#explore-prompt textarea").fill("a corgi on a lawn")
    page.locator("#explore-generate").click()
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')].some(e => e.innerText.includes('DOFGEN_GENERATOR'))", timeout=60_000)
    assert len(_toasts(page)) < 400  # one sentence, not a library dump
    assert _stuck_controls(page) == []
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for upload, message in ((fake, "not an image"), (empty, "empty")):
        page.goto(app_url)
        _wait_info(page, "Focus", 60)
        page.get_by_role("tab", name="Your photo").click()
        page.locator("#explore-upload input[type=file]").set_input_files(str(upload))
        page.wait_for_function("m => [...document.querySelectorAll('.toast-body')].some(e => e.innerText.includes(m))", arg=message, timeout=30_000)
        with answered(page):  # the click's answer (a toast and no change) has landed
            page.locator("#explore-use-photo").click()
        assert _stuck_controls(page) == []
    aperture = page.locator("#explore-aperture input[type=number]")
    aperture.fill("8")
    aperture.press("Tab")
    _wait_info(page, "f/8.0")
    _click_picture(page, 0.5, 0.1)
    _wait_info(page, "set by you")
    assert _stuck_controls(page) == []
    page.close()


@pytest.mark.slow
def test_a_deep_rotated_photo(app_url, browser, tmp_path):
    """A phone photo (EXIF orientation 6) with depth to 100 m as a compressed .npz: shown
    upright, the focus slider reaches its far end, and every control still works."""
    import numpy as np
    from PIL import Image

    sideways = Image.new("RGB", (600, 400), (40, 60, 90))
    sideways.paste((230, 200, 40), (0, 0, 120, 400))  # the top of the upright picture
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    photo = tmp_path / "phone.jpg"
    sideways.save(photo, exif=exif)
    depth = np.tile(np.linspace(2.0, 100.0, 600, dtype=np.float32)[:, None], (1, 400))  # upright: 400 wide, 600 high
    np.savez_compressed(tmp_path / "depth.npz", depth=depth)
    page = _open(browser, app_url)
    _use_photo(page, photo, tmp_path / "depth.npz", 400)
    assert _natural_size(page) == [400, 600]
    assert float(page.locator("#explore-focus input[data-testid=range-input]").get_attribute("max")) >= 100
    _type(page, "focus", "97.8", "97.80 m")
    _type(page, "aperture", "2", "f/2.0")
    _click_picture(page, 0.5, 0.1)  # a tenth of the way down: about 12 m
    page.wait_for_function("() => parseFloat(document.querySelector('#explore-focus input[type=number]').value) < 15", timeout=30_000)
    _wait_info(page, f"Focus {page.locator('#explore-focus input[type=number]').input_value()[:3]}")
    assert _stuck_controls(page) == []
    page.close()


def test_baseline_lens_in_its_own_queue(app_url, browser):
    """TAF: the blade control is disabled with a hint, the render reports its size and time."""
    page = _open(browser, app_url)
    page.locator("#explore-blades").get_by_text("6", exact=True).click()
    page.locator("#explore-method").get_by_text("TAF lens (baseline)").click()
    _wait_info(page, "TAF lens rendered at", 120)
    expect(page.locator("#explore-blades input").first).to_be_disabled(timeout=30_000)  # its own (unqueued) request
    assert page.locator("#explore-blades input").first.is_disabled()
    assert "layered lens only" in page.locator("#explore-blades").inner_text()
    assert _stuck_controls(page) == []
    page.locator("#explore-method").get_by_text("Ours (layered)").click()
    page.wait_for_function("() => !document.querySelector('#explore-blades input').disabled")
    page.close()


@pytest.mark.slow
def test_cancel_stops_a_baseline_render(app_url, browser):
    """A long TAF render (200 mm, f/1.4: about 20 s), cancelled after a second: the server's
    render thread ends and its cores go idle; our lens then renders."""
    import threading

    page = _open(browser, app_url)
    _type(page, "focal-length", "200", "200 mm")
    _type(page, "aperture", "1.4", "f/1.4")
    page.locator("#explore-method").get_by_text("TAF lens (baseline)").click()
    page.wait_for_function("() => [...document.querySelectorAll('.progress-text, .progress-level, .meta-text')].some(e => e.innerText.includes('TAF lens'))", timeout=30_000)
    rendering = [t for t in threading.enumerate() if t.name.startswith("baseline-")]
    assert rendering
    page.locator("#explore-cancel").click()
    deadline = time.perf_counter() + 5
    for thread in rendering:  # the render threads end: joined, within 5 s in all
        thread.join(max(0.0, deadline - time.perf_counter()))
    assert not any(t.name.startswith("baseline-") for t in threading.enumerate()), "the baseline kept rendering"
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(2)  # not a wait: the window over which this process's CPU time is measured
    assert time.process_time() - cpu < 0.5 * (time.perf_counter() - wall)  # the cores are free again
    assert "TAF lens rendered" not in _info(page)
    page.locator("#explore-method").get_by_text("Ours (layered)").click()
    _type(page, "aperture", "2", "f/2.0")
    assert _stuck_controls(page) == []
    page.close()


@pytest.mark.slow
def test_each_pick_sends_one_request(app_url, browser):
    """A scene picked with the mouse, one picked with the keys, a blade count clicked: each
    sends its request once. (Gradio's dropdown sends ``.input`` twice for a mouse pick; the
    second scene load landed after the user's next change and reset the aperture.)"""
    page = _open(browser, app_url)
    joins: list[str] = []
    page.on("request", lambda r: joins.append(r.post_data) if "queue/join" in r.url else None)
    after = {}  # fn_index -> the queued steps that follow it (.then), from the page's config
    for dep in page.evaluate("() => window.gradio_config.dependencies.map(d => [d.id, d.trigger_after, d.queue !== false && d.backend_fn])"):
        if dep[1] is not None and dep[2]:
            after.setdefault(dep[1], []).append(dep[0])

    def chain(fn: int) -> set[int]:
        return {fn}.union(*(chain(step) for step in after.get(fn, [])))

    def settle(before: str, start: int) -> None:
        """The action's picture has landed, and every step of the chain it started has been
        sent and answered. Gradio sends a second trigger of a running event (a duplicate)
        when the first is answered, with the chain's next step; by then both are sent."""
        _wait_new_image(page, before)
        sent = lambda: bool(joins[start:]) and chain(json.loads(joins[start])["fn_index"]) <= {json.loads(j)["fn_index"] for j in joins[start:]}  # noqa: E731
        while not sent():
            page.wait_for_event("request", timeout=60_000)
        page.wait_for_function(IDLE, timeout=60_000)  # the last step (the baseline lens, when chosen) answered too

    before, start = _image_src(page), len(joins)
    page.locator("#explore-scene input").click()
    page.get_by_role("option", name="tabletop").click()
    settle(before, start)
    before, start = _image_src(page), len(joins)
    page.locator("#explore-scene input").click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    settle(before, start)
    before, start = _image_src(page), len(joins)
    page.locator("#explore-blades").get_by_text("6", exact=True).click()
    settle(before, start)
    picked = [j for j in joins if '"data":["' in j]
    assert len(picked) == 2, picked  # two scene loads
    assert len(joins) == len(set(joins)), joins


@pytest.mark.slow
def test_explore_in_a_browser(app_url, browser, tmp_path):
    shots = shots_dir(tmp_path)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(app_url)
    first = _wait_new_image(page, "")

    # pick a bundled scene
    page.locator("#explore-scene input").click()
    page.get_by_role("option", name="tabletop").click()
    _wait_new_image(page, first)
    _wait_info(page, "1024 px wide")
    focus_before = page.locator("#explore-focus input[type=number]").input_value()

    # move the aperture slider: the lens alone re-runs
    aperture = page.locator("#explore-aperture input[type=number]")
    aperture.fill("1.4")
    start = time.perf_counter()
    aperture.press("Enter")
    aperture.blur()
    _wait_info(page, "f/1.4")
    wide_src = _image_src(page)
    print(f"typed value to new image: {time.perf_counter() - start:.2f} s")

    # click on the image: focus moves to the surface there
    _click_picture(page, 0.5, 0.12)  # the far wall
    _wait_info(page, "5.00 m")
    page.wait_for_function(
        "before => document.querySelector('#explore-focus input[type=number]').value !== before", arg=focus_before
    )
    assert _image_src(page) != wide_src
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

    _use_photo(page, *_portrait(tmp_path), 400)  # a new scene: the old sweep goes
    page.wait_for_selector("#explore-video", state="hidden", timeout=10_000)


def _portrait(folder: Path) -> tuple[Path, Path]:
    """A 400x600 portrait photo and its depth map (.npz)."""
    import numpy as np
    from PIL import Image

    photo, depth = folder / "portrait.jpg", folder / "portrait.npz"
    if not photo.exists():
        picture = Image.new("RGB", (400, 600), (40, 60, 90))
        picture.paste((230, 200, 40), (100, 150, 300, 450))
        picture.save(photo)
        np.savez_compressed(depth, depth=np.tile(np.linspace(1.0, 8.0, 600, dtype=np.float32)[:, None], (1, 400)))
    return photo, depth


def _fits_its_picture(page, selector: str) -> bool:
    """The element's box has its picture's aspect ratio (within a pixel): no letterbox bars."""
    return page.locator(selector).first.evaluate(
        """e => { const r = e.getBoundingClientRect(); const w = e.naturalWidth || e.videoWidth, h = e.naturalHeight || e.videoHeight;
                  return Math.abs(r.height - r.width * h / w) <= 1.5 || Math.abs(r.width - r.height * w / h) <= 1.5; }"""
    )


#: The picture's label and toolbar sit in a row above it (CSS px, with the block's border).
LABEL_ROW = 40


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [(390, 844), (1366, 900)], ids=["phone", "laptop"])
def test_layout_keeps_the_controls_by_the_picture(app_url, browser, tmp_path, viewport):
    """Phone and laptop: the picture sized to itself (no letterbox in a tall box), under 50 %
    (phone) or 70 % of the screen's height; the sliders right under it; no empty PNG or video
    boxes; a sweep video sized to itself too; a portrait photo fits the screen."""
    width, height = viewport
    shots = shots_dir(tmp_path)
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=2 if width < 640 else 1)
    page.goto(app_url)
    _wait_new_image(page, "")
    frame = page.locator("#explore-image").bounding_box()
    picture = page.locator("#explore-image img").first.bounding_box()
    aperture = page.locator("#explore-aperture").bounding_box()
    assert frame["height"] - picture["height"] < LABEL_ROW and _fits_its_picture(page, "#explore-image img")
    assert picture["height"] <= (0.5 if width < 640 else 0.7) * height
    assert 0 < aperture["y"] - (picture["y"] + picture["height"]) < 220  # the focus and depth-of-field lines between
    if width < 640:
        assert picture["y"] + picture["height"] < height and aperture["y"] < height  # both on the first screen
    assert page.locator("#explore-png").count() == 0 or not page.locator("#explore-png").is_visible()
    assert page.locator("#explore-video").count() == 0 or not page.locator("#explore-video").is_visible()
    page.screenshot(path=str(shots / f"explore-{width}.png"), full_page=True)
    page.locator("#explore-scene input").click()
    page.get_by_role("option", name="tabletop").click()  # a smaller scene than the first one sweeps sooner
    _wait_info(page, "f/2.8 · 50 mm")
    page.locator("#explore-sweep-aperture").click()
    page.wait_for_selector("#explore-video video[src]", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#explore-video video').videoWidth > 0", timeout=60_000)
    video = page.locator("#explore-video video").bounding_box()
    assert video["height"] <= (0.5 if width < 640 else 0.7) * height
    if width < 640:
        assert _fits_its_picture(page, "#explore-video video")
    page.screenshot(path=str(shots / f"explore-{width}-sweep.png"), full_page=True)
    _use_photo(page, *_portrait(tmp_path), 400)
    page.wait_for_function("() => { const i = document.querySelector('#explore-image img'); return i && i.complete && i.naturalHeight === 600; }")
    picture = page.locator("#explore-image img").first.bounding_box()
    assert picture["height"] <= (0.5 if width < 640 else 0.7) * height
    assert page.locator("#explore-image").bounding_box()["height"] - picture["height"] < LABEL_ROW
    page.screenshot(path=str(shots / f"explore-{width}-portrait.png"), full_page=True)
    page.close()


@pytest.mark.slow
def test_upload_and_slider_latency_at_1024(app_url, browser, tmp_path):
    """A 1024x1024 photo with its depth map; times a typed value to the new view shown."""
    import numpy as np
    import torch

    from dofgen import scenes

    scene = scenes.load("tabletop")
    photo, depth = tmp_path / "square.png", tmp_path / "square.npy"
    scene.image.resize((1024, 1024)).save(photo)
    np.save(depth, torch.nn.functional.interpolate(scene.depth[None, None], size=(1024, 1024), mode="nearest")[0, 0].numpy())
    page = _open(browser, app_url)
    _use_photo(page, photo, depth, 1024)
    assert _natural_size(page) == [1024, 1024]
    aperture = page.locator("#explore-aperture input[type=number]")
    latencies = []
    for value in ("1.4", "2.8", "2.0", "4.0", "1.8"):
        aperture.fill(value)
        start = time.perf_counter()
        aperture.press("Enter")
        _wait_info(page, f"f/{value} ")
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(f"1024x1024 typed value to new view: median {latencies[2]:.2f} s, all {[round(x, 2) for x in latencies]}")
    assert latencies[2] < 10  # the 1 s target is recorded in benchmarks/RESULTS.md, not asserted


#: Records each picture the page loads into the view's place, with the focus line then.
_RECORD_FRAMES = """() => { window.__frames = []; document.addEventListener('load', e => {
  if (e.target.matches && e.target.matches('#explore-image img'))
    window.__frames.push([e.target.src, document.querySelector('#explore-focus-info').innerText]); }, true); }"""


def _f_number(text: str) -> float:
    return float(text.split(" f/")[1].split(" ")[0])


@pytest.mark.slow
def test_a_drag_shows_previews_that_the_focus_line_follows(app_url, browser):
    """Dragging the aperture for 3 s shows at least 5 distinct previews (a lower bound; the
    rate is in benchmarks/bench_explore.py), each landing with the focus line of its own
    f-number (not the last view's), in the view's place: the slider under the picture stays
    put. Letting go shows the full view of the value in the box."""
    page = _open(browser, app_url)
    before = page.locator("#explore-aperture").bounding_box()["y"]
    page.evaluate(_RECORD_FRAMES)
    track = page.locator("#explore-aperture input.dofgen-track").bounding_box()
    y = track["y"] + track["height"] / 2
    page.mouse.move(track["x"] + 2, y)
    page.mouse.down()
    start, step = time.perf_counter(), 0
    while time.perf_counter() - start < 3.0:  # the drag's length, not a wait
        step += 1
        page.mouse.move(track["x"] + 2 + (track["width"] - 4) * 0.6 * (step % 30) / 30, y)
    _box_follows_track(page, "aperture")
    value = float(page.locator("#explore-aperture input[type=number]").input_value())
    page.wait_for_function(  # the preview of where the pointer rests has loaded, the button still down
        "t => { const last = window.__frames[window.__frames.length - 1];"
        " return !!last && last[0].endsWith('-preview.jpg') && last[1].includes(t) && document.querySelector('#explore-image img').src === last[0]; }",
        arg=f"f/{value:.1f} ",
    )
    mid_drag = page.locator("#explore-aperture").bounding_box()["y"]
    frames = page.evaluate("() => window.__frames")  # [src, focus line when it loaded], in order
    previews = {src: text for src, text in frames if src.endswith("-preview.jpg")}
    assert len(previews) >= 5, f"{len(previews)} previews in a 3 s drag ({step} moves)"
    f_numbers = [_f_number(text) for text in previews.values()]
    assert len(set(f_numbers)) >= 3 and _f_number(frames[-1][1]) == value
    assert abs(mid_drag - before) <= 2, f"the aperture slider moved {mid_drag - before:.0f} px mid-drag"
    page.mouse.up()
    _wait_info(page, f"f/{value:.1f} ")
    assert abs(page.locator("#explore-aperture").bounding_box()["y"] - before) <= 2
    page.close()


@pytest.mark.slow
def test_a_typed_value_renders_on_enter_or_tab_only(app_url, browser):
    """Typed key by key, 1.4 then Enter renders f/1.4 alone (never f/1 with a red
    out-of-range toast), and 22 then Tab f/22 alone (never f/2 first): every lens request
    sent carries the committed value."""
    page = _open(browser, app_url)
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if "/queue/join" in r.url and r.post_data else None)
    aperture = page.locator("#explore-aperture input[type=number]")
    for value, key in (("1.4", "Enter"), ("22", "Tab")):
        sent.clear()
        aperture.click()
        page.keyboard.press("Control+A")
        aperture.press_sequentially(value)
        aperture.press(key)
        _wait_info(page, f"f/{float(value):.1f} ")
        apertures = {body["data"][1] for body in sent if len(body.get("data") or []) >= 8}
        assert apertures == {float(value)}, f"typing {value}: sent {sorted(apertures)}"
        assert _toasts(page) == "" and _stuck_controls(page) == []
    page.close()

