"""The Explore handlers and the launched app."""

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from PIL import Image

from app import build_app
from dofgen import scenes
from dofgen.ui.explore import focus_from_click, load_scene, refocus


def test_bundled_scenes_load_with_metric_depth():
    names = scenes.list()
    assert {"tabletop", "street-at-night", "motorcycle"} <= set(names)
    for name in names:
        scene = scenes.load(name)
        assert scene.depth.shape == (scene.image.height, scene.image.width)
        assert bool((scene.depth > 0.1).all()) and float(scene.depth.max()) < 100
        assert scene.meta["licence"] and scene.meta["source"]
    with pytest.raises(ValueError, match="unknown scene"):
        scenes.load("../../etc/passwd")


def test_refocus_changes_with_aperture_and_focus():
    state, image, focus, focal, caption = load_scene("tabletop")
    wide = np.asarray(refocus(state, 1.4, focal, 1.2, "Circle", 0.0, "Ours (layered)"), dtype=np.float32)
    narrow = np.asarray(refocus(state, 16.0, focal, 1.2, "Circle", 0.0, "Ours (layered)"), dtype=np.float32)
    far = np.asarray(refocus(state, 1.4, focal, 4.9, "Circle", 0.0, "Ours (layered)"), dtype=np.float32)
    original = np.asarray(image, dtype=np.float32)
    assert wide.shape == original.shape
    # stopping down brings the picture back toward the all-in-focus image
    assert np.abs(narrow - original).mean() < np.abs(wide - original).mean() / 3
    # focusing on the wall sharpens its top rows (the string lights)
    top = slice(0, 200)
    assert np.abs(far[top] - original[top]).mean() < np.abs(wide[top] - original[top]).mean() / 2


def test_click_focuses_on_the_surface_under_the_pointer():
    state = load_scene("tabletop")[0]
    red_cylinder = gr.SelectData(None, {"index": [450, 600], "value": None})
    wall = gr.SelectData(None, {"index": [500, 100], "value": None})
    assert focus_from_click(state, red_cylinder) == pytest.approx(float(state.depth[600, 450]), rel=0.05)
    assert focus_from_click(state, wall) == pytest.approx(5.0, rel=0.03)
    with pytest.raises(gr.Error, match="outside"):
        focus_from_click(state, gr.SelectData(None, {"index": [5000, 10], "value": None}))


@pytest.mark.parametrize(
    "args, match",
    [
        ((float("nan"), 50, 2.0, "Circle", 0.0, "Ours (layered)"), "f_number"),
        ((-2.0, 50, 2.0, "Circle", 0.0, "Ours (layered)"), "f_number"),
        ((2.8, 50, 0.01, "Circle", 0.0, "Ours (layered)"), "focus_distance_m"),
        ((2.8, 50, 2.0, "Circle", -1.0, "Ours (layered)"), "highlight_boost"),
        ((2.8, 50, 2.0, "Circle", 0.0, "Pinhole"), "Unknown lens"),
    ],
)
def test_bad_values_are_gradio_errors(args, match):
    state = load_scene("tabletop")[0]
    with pytest.raises(gr.Error, match=match):
        refocus(state, *args)
    with pytest.raises(gr.Error, match="Pick a scene"):
        refocus(None, *args)


def test_launched_app_serves_renders_over_the_api():
    demo = build_app()
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert "/refocus" in endpoints and "/load_scene" in endpoints
        picture, focus, focal, caption = client.predict("tabletop", api_name="/load_scene")
        assert (focus, focal) == (pytest.approx(2.0), pytest.approx(50.0)) and "CC0" in caption
        original = np.asarray(Image.open(picture), dtype=np.float32)
        # the session keeps the scene: the lens alone re-runs
        wide = client.predict(1.4, 50, 1.2, "Circle", 0.0, "Ours (layered)", api_name="/refocus")
        narrow = client.predict(22.0, 50, 1.2, "Circle", 0.0, "Ours (layered)", api_name="/refocus")
        wide, narrow = (np.asarray(Image.open(p), dtype=np.float32) for p in (wide, narrow))
        assert wide.shape == original.shape
        assert np.abs(narrow - original).mean() < np.abs(wide - original).mean() / 3
    finally:
        demo.close()
