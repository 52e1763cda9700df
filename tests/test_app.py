"""The Explore handlers and the launched app."""


import gradio as gr
import numpy as np
import pytest
from gradio_client import Client
from PIL import Image

from app import build_app, launch
from dofgen import scenes
from dofgen.ui import explore
from dofgen.ui.explore import focus_from_click, load_scene, refocus_view, render_aperture_sweep, show_maps, use_photo
from dofgen.ui.models import LazyModels

LENS = ("Circle", 0.0, "Ours (layered)")


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


def test_scene_loads_with_automatic_focus_on_the_subject():
    state, image, focus_text, caption, f_number, focal, focus, auto = load_scene("tabletop")
    assert auto is True and "from saliency" in focus_text and "CC0" in caption
    assert 0.5 < focus < 5.5 and focal == 50.0
    assert Image.open(image).size == (1024, 683) and image.endswith(".jpg")


def _pixels(image: Image.Image | str) -> np.ndarray:
    return np.asarray(Image.open(image) if isinstance(image, str) else image, dtype=np.float32)


def test_sliders_rerun_only_the_lens():
    state = load_scene("tabletop")[0]
    original = _pixels(state.result.all_in_focus)
    wide = refocus_view(state, 1.4, 50, False, 1.2, *LENS)
    narrow = refocus_view(state, 16.0, 50, False, 1.2, *LENS)
    far = refocus_view(state, 1.4, 50, False, 4.9, *LENS)
    assert wide[0].result.all_in_focus is state.result.all_in_focus  # the scene is reused
    assert np.abs(_pixels(narrow[1]) - original).mean() < np.abs(_pixels(wide[1]) - original).mean() / 3
    top = slice(0, 200)
    assert np.abs(_pixels(far[1])[top] - original[top]).mean() < np.abs(_pixels(wide[1])[top] - original[top]).mean() / 2
    assert "set by you" in wide[2] and wide[3] == 1.2
    auto = refocus_view(wide[0], 1.4, 50, True, 1.2, *LENS)
    assert auto[3] == pytest.approx(state.auto_focus_m, abs=0.01) and "from saliency" in auto[2]


def test_click_focuses_on_the_surface_under_the_pointer():
    state = load_scene("tabletop")[0]
    depth = state.result.depth
    auto, focus = focus_from_click(state, gr.SelectData(None, {"index": [450, 600], "value": None}))
    assert auto is False and focus == pytest.approx(float(depth[600, 450]), rel=0.05)
    assert focus_from_click(state, gr.SelectData(None, {"index": [500, 100], "value": None}))[1] == pytest.approx(5.0, rel=0.03)
    with pytest.raises(gr.Error, match="outside"):
        focus_from_click(state, gr.SelectData(None, {"index": [5000, 10], "value": None}))


@pytest.mark.parametrize(
    "args, match",
    [
        ((float("nan"), 50, False, 2.0, *LENS), "f_number"),
        ((-2.0, 50, False, 2.0, *LENS), "f_number"),
        ((2.8, 50, False, 0.01, *LENS), "focus_distance_m"),
        ((2.8, 50, False, float("inf"), *LENS), "focus_distance_m"),
        ((2.8, 50, False, 2.0, "Circle", -1.0, "Ours (layered)"), "highlight boost"),
        ((2.8, 50, False, 2.0, "12", 0.0, "Ours (layered)"), "blades"),
        ((2.8, 50, False, 2.0, "Circle", 0.0, "Pinhole"), "Unknown lens"),
    ],
)
def test_bad_values_are_clear_errors(args, match):
    state = load_scene("street-at-night")[0]
    with pytest.raises(gr.Error, match=match):
        refocus_view(state, *args)
    with pytest.raises(gr.Error, match="first"):
        refocus_view(None, *args)


def test_bad_uploads_are_clear_errors(tmp_path, monkeypatch):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(gr.Error, match="not an image"):
        use_photo(str(text), None)
    huge = tmp_path / "huge.png"
    Image.new("RGB", (4100, 10)).save(huge)
    with pytest.raises(gr.Error, match="4096"):
        use_photo(str(huge), None)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * (21 * 2**20))
    with pytest.raises(gr.Error, match="20 MB"):
        use_photo(str(big), None)
    with pytest.raises(gr.Error, match="Upload a photo"):
        use_photo(None, None)
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (90, 120, 150)).save(photo)
    monkeypatch.setenv("DOFGEN_DEPTH", str(tmp_path / "no-model"))
    monkeypatch.setattr(explore, "MODELS", LazyModels())
    with pytest.raises(gr.Error, match="depth map"):
        use_photo(str(photo), None)  # no depth model here: say so, and how to go on


def test_photo_with_a_depth_map_and_exif(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({33437: 2.0, 37386: 85.0})
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (90, 120, 150)).save(photo, exif=exif)
    depth = np.full((24, 32), 3.0, dtype=np.float32)
    depth[5, 5] = np.nan
    np.save(tmp_path / "depth.npy", depth)
    state, image, focus_text, notes, f_number, focal, focus, auto = use_photo(str(photo), str(tmp_path / "depth.npy"))
    assert (f_number, focal) == (2.0, 85.0) and Image.open(image).size == (64, 48)
    assert "EXIF" in notes and "holes filled" in notes
    assert state.result.depth.shape == (48, 64)


def test_generation_without_models_says_how_to_configure(monkeypatch, tmp_path):
    monkeypatch.setenv("DOFGEN_GENERATOR", str(tmp_path / "none"))
    monkeypatch.setattr(explore, "MODELS", LazyModels())
    with pytest.raises(gr.Error, match="DOFGEN_GENERATOR"):
        explore.generate_scene("a corgi", 0, 2.8, 50, progress=lambda *a, **k: None)
    with pytest.raises(gr.Error, match="prompt"):
        explore.generate_scene("  ", 0, 2.8, 50, progress=lambda *a, **k: None)


def test_generation_with_tiny_models(monkeypatch, tiny_sdxl_path, tiny_depth_path):
    monkeypatch.setenv("DOFGEN_GENERATOR", str(tiny_sdxl_path))
    monkeypatch.setenv("DOFGEN_DEPTH", str(tiny_depth_path))
    monkeypatch.setenv("DOFGEN_SALIENCY", "spectral")
    monkeypatch.setenv("DOFGEN_DEVICE", "cpu")
    monkeypatch.setattr(explore, "MODELS", LazyModels())
    monkeypatch.setattr(explore.DefocusPipeline, "__call__", _small(explore.DefocusPipeline.__call__))
    state, image, focus_text, *_ = explore.generate_scene("a lamp", 3, 2.8, 50, progress=lambda *a, **k: None)
    assert Image.open(image).size == (64, 64) and state.result.focus_source == "saliency"


def _small(call):
    def wrapped(self, *args, **kwargs):
        return call(self, *args, **(kwargs | {"width": 64, "height": 64}))

    return wrapped


def test_maps_and_sweep():
    state = load_scene("motorcycle")[0]
    maps = show_maps(state)
    assert [label for _, label in maps] == ["All in focus", "Depth", "Saliency", "Circle of confusion"]
    assert maps[1][0].height > state.result.image.height  # the legend sits under the map
    png = explore.download_png(state)
    assert np.array_equal(_pixels(png), _pixels(state.result.image))  # lossless
    path = render_aperture_sweep(state, progress=lambda *a, **k: None)
    assert path.endswith(".mp4") and open(path, "rb").read(12)[4:8] == b"ftyp"


def test_launched_app_over_the_api():
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert {"/refocus_view", "/load_scene", "/use_photo", "/generate_scene"} <= set(endpoints)
        picture, focus_text, caption, f_number, focal, focus, auto = client.predict("tabletop", api_name="/load_scene")
        original = _pixels(Image.open(picture))
        wide, _, used = client.predict(1.4, 50, False, 1.2, *LENS, api_name="/refocus_view")
        narrow, _, _ = client.predict(22.0, 50, False, 1.2, *LENS, api_name="/refocus_view")
        assert used == 1.2
        assert np.abs(_pixels(Image.open(narrow)) - original).mean() < np.abs(_pixels(Image.open(wide)) - original).mean() / 3
        with pytest.raises(Exception, match="less than minimum"):
            client.predict(-2.0, 50, False, 1.2, *LENS, api_name="/refocus_view")
        # the app keeps serving after a bad request
        assert client.predict(2.8, 50, True, 1.2, *LENS, api_name="/refocus_view")[2] == pytest.approx(focus, abs=0.01)
    finally:
        demo.close()
