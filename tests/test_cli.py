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


def test_bad_values_one_line_exit_2(tmp_path, capsys):
    assert main(["render", "--scene", "tabletop", "--f-number", "-1", "--out", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m dofgen: error: f_number=-1")
