import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from dofgen.evaluate import main, stop_frames
from dofgen.metrics import content_consistency
from dofgen.segmentation import Segmenter

from tests.support.tiny_models import save_tiny_segformer
from tests.support.train_helpers import launch

DEMO = "assets/study/demo/manifest.jsonl"


class ColourClasses:
    """A segmenter whose classes are the quantised red and green of each pixel (known answer)."""

    def top_classes(self, image: Image.Image, k: int = 3) -> torch.Tensor:
        rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.int64))
        return torch.stack([rgb[..., 0] // 64, 10 + rgb[..., 1] // 64, 20 + rgb[..., 2] // 64])[:k]


def test_content_consistency_known_answers():
    frame = np.zeros((10, 20, 3), np.uint8)
    same = [frame, frame.copy(), frame.copy()]
    assert content_consistency(same, ColourClasses()) == 100.0
    changed = frame.copy()
    changed[:5, :, :] = 255  # the top half changes every class
    assert content_consistency([frame, changed], ColourClasses()) == pytest.approx(50.0)
    partly = frame.copy()
    partly[:, :10, 0] = 255  # only red changes on the left: green and blue still match
    assert content_consistency([frame, partly], ColourClasses()) == 100.0
    assert content_consistency([frame, partly], ColourClasses(), k=1) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="segmentation model"):
        content_consistency(same, None)


def test_tiny_segformer_through_from_pretrained(tmp_path):
    segmenter = Segmenter.from_pretrained(str(save_tiny_segformer(tmp_path / "seg")), device="cpu")
    image = Image.fromarray((np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8))
    top = segmenter.top_classes(image)
    assert top.shape == (3, 40, 60) and int(top.max()) < 12
    assert content_consistency([image, image], segmenter) == 100.0
    with pytest.raises(RuntimeError, match="DOFGEN_SEGMENTER"):
        Segmenter.from_pretrained(str(tmp_path / "none"))


def test_stop_frames():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in (0, 0, 1, 1, 2)]
    assert [int(f[0, 0, 0]) for f in stop_frames(frames, 2)] == [0, 1, 2]
    assert [int(f[0, 0, 0]) for f in stop_frames(frames, None)] == [0, 1, 2]


@pytest.fixture(scope="module")
def demo_eval(tmp_path_factory):
    """(segmenter folder, output folder) of the demo manifest evaluated in one process."""
    root = tmp_path_factory.mktemp("demo")
    seg = save_tiny_segformer(root / "seg")
    assert main(["--manifest", DEMO, "--out", str(root / "eval"), "--segmenter", str(seg), "--device", "cpu"]) == 0
    return seg, root / "eval"


@pytest.mark.slow
def test_demo_stimuli_table(demo_eval, tmp_path):
    out = demo_eval[1]
    table = pd.read_csv(out / "table.csv").set_index("method")
    assert table.loc["ours", "blur_monotonicity_ac"] == 100.0  # every stop of every demo sweep
    assert table.loc["no_lens", "blur_monotonicity_ac"] < 100.0
    # the demo's lenses blur in linear light: the paper's energy (mean included) ranks them low
    assert (table.loc[["ours", "deepdof_taf", "drbokeh_lens"], "blur_monotonicity_paper"] < 50.0).all()
    assert table["content_consistency"].between(0, 100).all()
    per_prompt = pd.read_csv(out / "per_prompt.csv")
    assert len(per_prompt) == 12 and set(per_prompt["stops"]) == {8}
    markdown = (out / "table.md").read_text()
    assert f"| ours | 3 | {table.loc['ours', 'blur_monotonicity_paper']:.2f} | 100.00 |" in markdown
    assert "zero frequency" in markdown
    assert main(["--manifest", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "e2"), "--segmenter", "none"]) == 2


@pytest.mark.slow
def test_distributed_over_two_processes_gives_the_same_tables(demo_eval, tmp_path):
    """``accelerate launch --multi_gpu --num_processes 2`` (gloo on CPU) splits the videos
    between two processes and gathers the same rows."""
    seg, single = demo_eval
    double = tmp_path / "two"
    run = launch("dofgen.evaluate", "--manifest", DEMO, "--out", str(double), "--segmenter", str(seg), "--device", "cpu")
    assert "process 1/2: 6 of 12 videos" in run.stderr and "process 2/2: 6 of 12 videos" in run.stderr
    pd.testing.assert_frame_equal(pd.read_csv(single / "per_prompt.csv"), pd.read_csv(double / "per_prompt.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(single / "table.csv"), pd.read_csv(double / "table.csv"))


@pytest.mark.slow
def test_a_rerun_measures_only_the_videos_it_has_no_row_for(demo_eval, tmp_path, monkeypatch):
    import shutil

    from dofgen import evaluate as module

    seg, single = demo_eval
    out = tmp_path / "again"
    shutil.copytree(single / "rows", out / "rows")
    kept = sorted((out / "rows").glob("*.json"))
    assert len(kept) == 12
    kept[0].unlink()  # as if the first run stopped before its last video
    measured, measure = [], module.evaluate_stimulus
    monkeypatch.setattr(module, "evaluate_stimulus", lambda stimulus, segmenter=None: measured.append(stimulus) or measure(stimulus, segmenter))
    assert main(["--manifest", DEMO, "--out", str(out), "--segmenter", str(seg), "--device", "cpu"]) == 0
    assert len(measured) == 1
    pd.testing.assert_frame_equal(pd.read_csv(single / "per_prompt.csv"), pd.read_csv(out / "per_prompt.csv"))
    assert list((out / "logs").rglob("events.out.tfevents.*"))  # TensorBoard by default
    assert main(["--manifest", DEMO, "--out", str(out), "--segmenter", "none"]) == 0  # another segmenter: measured again
    assert len(measured) == 13 and pd.read_csv(out / "per_prompt.csv")["content_consistency"].isna().all()
