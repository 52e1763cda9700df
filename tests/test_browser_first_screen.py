"""The Explore tab's first screen and the photographer's controls in Debian's chromium:
the opening blur, the picture's label and toolbar, the aperture and focus tracks, the f/16
compare, the scene maps, sweeps with progress and Cancel, and the oversize depth hint.

``DOFGEN_SCREENSHOTS=folder`` keeps the screenshots (the first screen at laptop 1366x900 and
phone 390x844, the compare, the maps, a sweep in progress)."""

import re

import numpy as np
import pytest

from dofgen.ui import scales, uploads

from tests.support.browser import app_url, browser, shots_dir, sync_api  # noqa: F401 (fixtures; skips without chromium)

expect = sync_api.expect
pytestmark = pytest.mark.slow


def _open(browser, app_url, viewport=(1366, 900)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=2 if viewport[0] < 640 else 1)
    page.goto(app_url)
    _wait_info(page, "largest blur", 180)
    page.wait_for_function("() => document.querySelector('#explore-image img')?.complete")
    page.wait_for_selector("#explore-aperture .dofgen-scale", timeout=30_000)
    return page


def _wait_info(page, text: str, timeout: float = 60.0) -> None:
    page.wait_for_function("t => (document.querySelector('#explore-focus-info') || {}).innerText?.includes(t)", arg=text, timeout=timeout * 1000)


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


@pytest.mark.parametrize("viewport", [(1366, 900), (390, 844)], ids=["laptop", "phone"])
def test_the_first_screen_shows_a_large_blur(app_url, browser, tmp_path, viewport):
    """The opening view's largest blur is >= 40 px; the picture's label and toolbar sit above
    it, not over its corners, and a click on the label is not a click on the picture."""
    page = _open(browser, app_url, viewport)
    info = page.locator("#explore-focus-info").inner_text()
    blur = int(re.search(r"largest blur (\d+) px at (\d+) px wide", info).group(1))
    assert blur >= 40, info
    assert "Sharp from" in info and "circle of confusion" in info
    picture = _box(page, "#explore-image img")
    for covering in ("#explore-image label[data-testid=block-label]", "#explore-image .icon-button-wrapper"):
        assert not _overlap(_box(page, covering), picture), covering
    label = _box(page, "#explore-image label[data-testid=block-label]")
    hit = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('.image-frame')", [label["x"] + label["width"] / 2, label["y"] + label["height"] / 2])
    assert not hit
    page.screenshot(path=str(shots_dir(tmp_path) / f"first-screen-{viewport[0]}x{viewport[1]}.png"))
    page.screenshot(path=str(shots_dir(tmp_path) / f"first-screen-{viewport[0]}x{viewport[1]}-full.png"), full_page=True)
    page.close()


def test_aperture_in_third_stops_and_focus_in_inverse_distance(app_url, browser):
    """Arrow keys on the aperture track step a third of a stop, Page Up a full stop; the
    focus track sets the distance its position stands for; each renders the value the box
    shows."""
    page = _open(browser, app_url)
    box = page.locator("#explore-aperture input[type=number]")
    track = page.locator("#explore-aperture input.dofgen-track")
    assert box.input_value() == "1.8" and track.input_value() == str(scales.aperture_position(1.8))
    marks = page.locator("#explore-aperture .dofgen-marks span").all_inner_texts()
    assert marks == ["1.4", "2", "2.8", "4", "5.6", "8", "11", "16", "22"]
    track.focus()
    for key, expected in (("ArrowRight", "2"), ("ArrowRight", "2.2"), ("PageUp", "2.8"), ("ArrowLeft", "2.5")):
        track.press(key)
        expect(box).to_have_value(expected)
        _wait_info(page, f"f/{float(expected):.1f}")
        assert track.input_value() == str(scales.aperture_position(float(expected)))
    focus = page.locator("#explore-focus input.dofgen-track")
    native = page.locator("#explore-focus input[data-testid=range-input]")
    low, high = float(native.get_attribute("min")), float(native.get_attribute("max"))
    assert high == scales.FOCUS_FAR_M and "∞" in page.locator("#explore-focus .dofgen-marks").inner_text()
    position = scales.focus_position(5.0, low, high)
    focus.fill(str(position))
    expected = scales.focus_value(position, low, high)
    expect(page.locator("#explore-focus input[type=number]")).to_have_value(f"{expected:g}")
    _wait_info(page, f"{expected:.2f} m (set by you)")
    page.close()


def test_compare_maps_and_a_cancelled_sweep(app_url, browser, tmp_path):
    """Compare with f/16 shows both pictures in a split slider; the maps show whole (contain);
    a sweep shows progress, locks its buttons, and Cancel ends it with no video."""
    page = _open(browser, app_url)
    page.locator("#explore-compare-button").click()
    page.wait_for_function("() => [...document.querySelectorAll('#explore-compare img')].filter(i => i.complete && i.naturalWidth > 0).length === 2", timeout=120_000)
    assert "f/16" in page.locator("#explore-compare").inner_text()
    page.locator("#explore-compare").screenshot(path=str(shots_dir(tmp_path) / "compare-f16.png"))

    page.get_by_text("Scene maps").click()
    page.locator("#explore-maps-button").click()
    page.wait_for_function("() => [...document.querySelectorAll('#explore-maps img')].filter(i => i.complete && i.naturalWidth > 0).length >= 4", timeout=60_000)
    fits = page.evaluate("() => [...document.querySelectorAll('#explore-maps img')].map(i => getComputedStyle(i).objectFit)")
    assert set(fits) == {"contain"}, fits
    whole = page.evaluate(
        """() => { const g = document.querySelector('#explore-maps').getBoundingClientRect();
                   return [...document.querySelectorAll('#explore-maps img')].map(i => { const r = i.getBoundingClientRect();
                     return r.bottom <= g.bottom + 1 && r.right <= g.right + 1 && Math.abs(r.height - r.width * i.naturalHeight / i.naturalWidth) <= 2; }); }"""
    )
    assert whole == [True] * 4, whole  # every map in the gallery's box, at its own aspect ratio (legend and all)
    covered = page.evaluate(
        """() => [...document.querySelectorAll('#explore-maps .thumbnail-item')].map(t => {
             const i = t.querySelector('img').getBoundingClientRect(), c = t.querySelector('.caption-label').getBoundingClientRect();
             return c.top < i.bottom - 1; })"""
    )
    assert covered == [False] * 4, covered  # captions under the maps, not over their legends
    page.locator("#explore-maps").screenshot(path=str(shots_dir(tmp_path) / "scene-maps.png"))

    page.locator("#explore-sweep-aperture").click()
    cancel = page.locator("#explore-cancel-sweep")
    expect(cancel).to_be_visible(timeout=30_000)
    expect(page.locator("#explore-sweep-aperture")).to_be_disabled()
    page.wait_for_selector("#explore-video [data-testid=status-tracker]:not(.hide)", timeout=60_000)  # its progress
    page.locator("#explore-video").screenshot(path=str(shots_dir(tmp_path) / "sweep-progress.png"))
    cancel.click()
    expect(cancel).to_be_hidden(timeout=30_000)
    expect(page.locator("#explore-sweep-aperture")).to_be_enabled()
    expect(page.locator("#explore-sweep-focus")).to_be_enabled()
    assert page.locator("#explore-video video[src]").count() == 0
    page.close()


def test_an_oversize_depth_map_gets_the_apps_hint(app_url, browser, tmp_path):
    """A float .npy over the upload limit: the app's toast says to save it as .npz, not
    Gradio's size error, and the box is left empty."""
    depth = tmp_path / "depth.npy"
    np.save(depth, np.ones(uploads.MAX_UPLOAD_BYTES // 4 + 4096, dtype=np.float32))
    page = _open(browser, app_url)
    page.get_by_role("tab", name="Your photo").click()
    page.locator("#explore-depth-upload input[type=file]").set_input_files(str(depth))
    toast = page.locator(".toast-body", has_text=".npz")
    expect(toast).to_be_visible(timeout=60_000)
    assert "MB, over the 20 MB limit" in toast.inner_text()
    assert "exceeds" not in " ".join(page.locator(".toast-body").all_inner_texts()).lower()
    expect(page.locator("#explore-depth-upload a.download-link")).to_have_count(0, timeout=30_000)
    page.close()
