import json

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from dofgen import scenes
from dofgen.cli import main


def _summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_render_a_bundled_scene(tmp_path, capsys):
    out = tmp_path / "moto.png"
    assert main(["render", "--scene", "motorcycle", "--f-number", "1.4", "--focus", "2.3", "--blades", "6", "--out", str(out)]) == 0
    summary = _summary(capsys)
    assert summary["focus_distance_m"] == 2.3 and summary["focus_source"] == "user" and summary["f_number"] == 1.4
    original = np.asarray(scenes.load("motorcycle").image, dtype=np.float32)
    rendered = np.asarray(Image.open(out), dtype=np.float32)
    assert rendered.shape == original.shape and np.abs(rendered - original).mean() > 1.0


def test_sweep_writes_a_playable_mp4(tmp_path, capsys):
    out = tmp_path / "sweep.mp4"
    args = ["sweep", "--scene", "motorcycle", "--stops", "2", "4", "8", "--frames-per-stop", "2", "--captions", "--out", str(out)]
    assert main(args) == 0
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert meta["codec"] == "h264" and sum(1 for _ in reader) == 5


def test_analyze_writes_the_maps(tmp_path, capsys):
    assert main(["analyze", "--scene", "tabletop", "--saliency", "spectral", "--out", str(tmp_path / "maps")]) == 0
    summary = _summary(capsys)
    assert summary["focus_source"] == "saliency" and 0.5 < summary["focus_distance_m"] < 6
    for name in ("all_in_focus", "image", "depth", "saliency", "coc"):
        assert Image.open(tmp_path / "maps" / f"{name}.png").size == (1024, 683)
    assert np.load(tmp_path / "maps" / "depth.npy").shape == (683, 1024)


def test_prompt_through_tiny_models(tmp_path, capsys, tiny_sdxl_path, tiny_depth_path):
    out = tmp_path / "gen.png"
    args = ["render", "--prompt", "a lamp", "--generator", str(tiny_sdxl_path), "--depth-model", str(tiny_depth_path),
            "--saliency", "spectral", "--width", "64", "--height", "64", "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    assert Image.open(out).size == (64, 64) and "generate" in _summary(capsys)["timings_s"]


@pytest.mark.parametrize(
    "args",
    [
        ["render", "--scene", "tabletop"],  # no --out
        ["render", "--scene", "nowhere", "--out", "x.png"],
        ["render", "--scene", "tabletop", "--prompt", "a cat", "--out", "x.png"],
        ["render", "--scene", "tabletop", "--f-number", "wide", "--out", "x.png"],
        ["explode", "--scene", "tabletop"],
    ],
)
def test_bad_flags_one_line_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


@pytest.mark.parametrize(
    "args, match",
    [
        (["render", "--scene", "tabletop", "--f-number", "-1"], "--f-number -1 is out of range"),
        (["sweep", "--scene", "tabletop", "--fps", "0"], "--fps 0"),
        (["sweep", "--scene", "tabletop", "--stops", "8", "4", "2"], "increasing"),
        (["render", "--scene", "tabletop", "--blades", "4"], "blades"),
        (["render", "--scene", "tabletop", "--blades", "6", "--method", "taf"], "layered lens only"),
        (["render", "--scene", "tabletop", "--highlight-boost", "-2"], "--highlight-boost"),
        (["render", "--scene", "tabletop", "--depth", "d.npy"], "--depth goes with --image"),
        (["render", "--prompt", "a cat", "--generator", "/nowhere", "--width", "100"], "multiple of 8"),
        (["sweep", "--prompt", "a cat", "--generator", "/nowhere", "--fps", "0"], "--fps 0"),
    ],
)
def test_bad_values_refused_before_any_work(args, match, tmp_path, capsys, monkeypatch):
    """One line, exit 2, before a model loads or a frame renders (was: --fps 0 refused
    after every frame had rendered, bad values only after trying to load a model)."""
    import dofgen.pipeline

    def no_work(*a, **k):
        raise AssertionError("work started before the values were checked")

    monkeypatch.setattr(dofgen.pipeline.DefocusPipeline, "from_image", no_work)
    monkeypatch.setattr(dofgen.pipeline.DefocusPipeline, "__init__", no_work)
    out = tmp_path / ("a.mp4" if args[0] == "sweep" else "a.png")
    assert main(args + ["--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and not out.exists()


def test_bad_input_files_one_line(tmp_path, capsys):
    (tmp_path / "fake.jpg").write_text("not a photo")
    assert main(["render", "--image", str(tmp_path / "fake.jpg"), "--out", str(tmp_path / "a.png")]) == 2
    assert "not an image" in capsys.readouterr().err
    Image.new("RGB", (120, 80)).save(tmp_path / "photo.jpg")
    np.save(tmp_path / "square.npy", np.ones((50, 50), dtype=np.float32))
    assert main(["render", "--image", str(tmp_path / "photo.jpg"), "--depth", str(tmp_path / "square.npy"), "--out", str(tmp_path / "a.png")]) == 2
    assert "shapes differ" in capsys.readouterr().err


def test_sweep_uses_blades_and_highlight_boost(tmp_path, capsys):
    """The sweep's frames carry the lens options (was: --blades and --highlight-boost ignored)."""
    frames = {}
    for name, extra in (("plain", []), ("shaped", ["--blades", "6", "--highlight-boost", "1.5"])):
        out = tmp_path / f"{name}.mp4"
        assert main(["sweep", "--scene", "street-at-night", "--focus", "2.0", "--stops", "1.8", "2.8", "--frames-per-stop", "1", "--out", str(out), *extra]) == 0
        reader = imageio_ffmpeg.read_frames(str(out))
        meta = next(reader)
        frames[name] = np.frombuffer(next(reader), dtype=np.uint8).reshape(meta["size"][1], meta["size"][0], 3).astype(np.float32)
    from dofgen.pipeline import DefocusPipeline, refocus

    scene = scenes.load("street-at-night")
    base = DefocusPipeline(device="cpu").from_image(scene.image, scene.depth, scene.camera.replace(f_number=1.8), focus_distance=2.0)
    shaped = np.asarray(refocus(base, base.camera, blades=6, highlight_boost=1.5).image, dtype=np.float32)
    decoded = frames["shaped"]
    assert decoded.shape == (682, 1024, 3)  # 1024x683 cropped to an even height, never padded
    assert np.abs(decoded - shaped[:682]).mean() < 3.0  # H.264 at crf 18
    assert np.abs(frames["shaped"] - frames["plain"]).mean() > 2.0


@pytest.mark.parametrize("source", ["data/no-such-study", "./votes", "/tmp/none/at/all"])
def test_aggregate_refuses_a_missing_folder_at_once(source, tmp_path, capsys, monkeypatch):
    """Not tried as a Hub dataset id (was: 26 s of retries before failing)."""
    import huggingface_hub

    from study.aggregate import main as aggregate

    monkeypatch.setattr(huggingface_hub.HfApi, "snapshot_download", lambda *a, **k: pytest.fail("tried the Hub"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert aggregate(["--source", source, "--out", str(tmp_path / "out")]) == 1
    assert "no folder" in capsys.readouterr().err


def test_highlight_boost_zero_turns_the_boost_off(tmp_path):
    """``--highlight-boost 0`` renders without the boost, and leaving it out keeps the lens's
    default (was: 0 without --blades silently kept the default 0.5)."""
    from dofgen.pipeline import DefocusPipeline, refocus

    scene = scenes.load("street-at-night")
    base = DefocusPipeline(device="cpu").from_image(scene.image, scene.depth, scene.camera.replace(f_number=1.8), focus_distance=2.0)
    rendered = {}
    for name, extra in (("off", ["--highlight-boost", "0"]), ("default", [])):
        out = tmp_path / f"{name}.png"
        assert main(["render", "--scene", "street-at-night", "--f-number", "1.8", "--focus", "2.0", "--out", str(out), *extra]) == 0
        rendered[name] = np.asarray(Image.open(out), dtype=np.float32)
    off = np.asarray(refocus(base, base.camera, highlight_boost=0.0).image, dtype=np.float32)
    assert np.abs(rendered["off"] - off).max() <= 1.0
    assert np.abs(rendered["default"] - np.asarray(base.image, dtype=np.float32)).max() <= 1.0
    assert np.abs(rendered["off"] - rendered["default"]).mean() > 0.5  # the night scene's lights bloom by default
