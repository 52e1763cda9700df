"""Section B on pairs made from the bundled scenes: all in focus vs our lens at f/1.8."""

import io
import json

import pandas as pd
import pytest
import torch
from PIL import Image

from tests.support.curate_shard import jpeg
from dofgen import scenes
from dofgen.evaluate import main
from dofgen.imageio import to_pil, to_tensor
from dofgen.lens import render
from dofgen.metrics import signal_energy
from dofgen.evaluate_pairs import find_pairs, side_by_side
from tests.support.tiny_models import save_tiny_blip2

WIDTH = 192


def scene_pair(name: str) -> tuple[bytes, bytes]:
    """(all-in-focus JPEG with f/16 EXIF, our lens at f/1.8 as JPEG with f/1.8 EXIF), small."""
    scene = scenes.load(name)
    height = round(scene.image.height * WIDTH / scene.image.width)
    image = to_tensor(scene.image.resize((WIDTH, height), Image.LANCZOS))
    depth = torch.nn.functional.interpolate(scene.depth[None, None], size=(height, WIDTH), mode="nearest")[0, 0]
    near = float(depth.flatten().kthvalue(max(1, depth.numel() // 20)).values)  # focus near: the rest blurs
    # no highlight boost: bloomed lights are bright discs whose edges the energy counts as detail
    wide = render(image, depth, scene.camera.replace(f_number=1.8, focus_distance_m=near), highlight_boost=0.0)
    tags = {"make": "Canon", "model": "Canon EOS 7D", "focal_length": float(scene.camera.focal_length_mm)}
    return jpeg(to_pil(image), dict(tags, f_number=16.0)), jpeg(to_pil(wide), dict(tags, f_number=1.8))


@pytest.fixture(scope="module")
def pair_root(tmp_path_factory):
    """Both layouts: NAME_f16.jpg / NAME_f1.8.jpg, and EBB!'s original/ + bokeh/."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "simple").mkdir()
    (root / "ebb" / "train" / "original").mkdir(parents=True)
    (root / "ebb" / "train" / "bokeh").mkdir(parents=True)
    for index, name in enumerate(scenes.list()):
        sharp, wide = scene_pair(name)
        (root / "simple" / f"{name}_f16.jpg").write_bytes(sharp)
        (root / "simple" / f"{name}_f1.8.jpg").write_bytes(wide)
        (root / "ebb" / "train" / "original" / f"{index}.jpg").write_bytes(sharp)
        (root / "ebb" / "train" / "bokeh" / f"{index}.jpg").write_bytes(wide)
    (root / "simple" / "lonely_f16.jpg").write_bytes(sharp)  # no partner: not a pair
    return root


def test_finds_both_layouts(pair_root):
    pairs = find_pairs(pair_root)
    names = [pair.name for pair in pairs]
    count = len(scenes.list())
    assert names == sorted([*(f"ebb/train/{i}" for i in range(count)), *(f"simple/{n}" for n in scenes.list())])
    simple = next(pair for pair in pairs if pair.name == "simple/motorcycle")
    assert simple.all_in_focus.name == "motorcycle_f16.jpg" and (simple.all_in_focus_f, simple.wide_f) == (16.0, 1.8)


def test_share_of_pairs_with_higher_all_in_focus_energy(pair_root, tmp_path):
    out = tmp_path / "out"
    assert main(["pairs", "--root", str(pair_root), "--out", str(out)]) == 0
    table = pd.read_csv(out / "pairs.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"] == len(table) == 2 * len(scenes.list())
    for row in table.itertuples():  # energies against a direct computation
        sharp = to_tensor(Image.open(row.all_in_focus))
        wide = to_tensor(Image.open(row.wide))
        assert row.all_in_focus_paper == pytest.approx(signal_energy(sharp).item(), rel=1e-9)
        assert row.wide_ac == pytest.approx(signal_energy(wide, include_dc=False).item(), rel=1e-9)
    # our lens only takes detail away: the all-in-focus photo always has more AC energy
    assert summary["all_in_focus_higher_ac_percent"] == 100.0
    expected_paper = 100.0 * (table["all_in_focus_paper"] > table["wide_paper"]).mean()
    assert summary["all_in_focus_higher_paper_percent"] == pytest.approx(expected_paper)
    assert "ac: 100.0 %" in (out / "index.html").read_text()
    assert main(["pairs", "--root", str(tmp_path / "missing")]) == 2


@pytest.mark.slow
def test_generate_writes_figures_and_index(pair_root, tmp_path, tiny_sdxl_path, tiny_depth_path):
    captioner = save_tiny_blip2(tmp_path / "captioner", answer="yes")  # its caption: "yesyes..."
    out = tmp_path / "out"
    argv = ["pairs", "--root", str(pair_root / "simple"), "--out", str(out), "--generate", "--captioner", str(captioner),
            "--generator", str(tiny_sdxl_path), "--depth-model", str(tiny_depth_path), "--saliency", "spectral",
            "--size", "64", "--device", "cpu"]
    assert main(argv) == 0
    html = (out / "index.html").read_text()
    for name in scenes.list():
        figure = Image.open(out / "figures" / f"{name}.jpg")
        assert figure.height > 256 and figure.width > 4 * 256  # four panels and a caption line
        assert f"figures/{name}.jpg" in html
        ours_wide, ours_deep = Image.open(out / "ours" / f"{name}_f1.8.png"), Image.open(out / "ours" / f"{name}_f16.png")
        assert max(ours_wide.size) == 64 and ours_wide.size == ours_deep.size
    count = len(scenes.list())
    assert html.count("<figure>") == count and html.count("<figcaption><b>") == count and "yesyesyes" in html
    assert main([*argv[:-4], "--captioner", str(tmp_path / "nothing"), "--device", "cpu"]) == 1


def test_side_by_side_labels_and_caption():
    panels = [(label, Image.new("RGB", (64, 48), colour)) for label, colour in (("real f/16", "red"), ("ours f/1.8", "blue"))]
    figure = side_by_side(panels, "a caption " * 30, height=96)
    assert figure.width == 2 * 128 + 3 * 8
    bottom = torch.from_numpy(__import__("numpy").asarray(figure))[96 + 36 :]
    assert (bottom < 128).any()  # the caption is written below the panels
    buffer = io.BytesIO()
    figure.save(buffer, "PNG")
