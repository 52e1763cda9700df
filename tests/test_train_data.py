"""Training rows: dofgen.curate's save_to_disk folders and image folders with metadata.jsonl."""

from __future__ import annotations

import json

import pytest
import torch

from dofgen import scenes
from dofgen.train.data import Rows, load_rows

from tests.support.train_helpers import own_random_state, save_disk_dataset, save_imagefolder  # noqa: F401 (autouse)


def test_both_layouts_give_the_same_rows(tmp_path):
    disk = load_rows(save_disk_dataset(tmp_path / "disk", "shallow"))
    folder = load_rows(save_imagefolder(tmp_path / "folder", "shallow"))
    assert len(disk) == len(folder) == len(scenes.list())  # a row per bundled scene
    for name in ("prompt", "f_number", "focal_length_mm"):
        assert sorted(disk[name]) == sorted(folder[name])
    batch = Rows(folder, resolution=16, batch_size=2, seed=0).batch(step=5, rank=1)
    assert batch.images.shape == (2, 3, 16, 16) and 0 <= float(batch.images.min()) and float(batch.images.max()) <= 1
    again = Rows(folder, resolution=16, batch_size=2, seed=0).batch(step=5, rank=1)
    assert torch.equal(batch.images, again.images) and batch.prompts == again.prompts  # resumable draws
    other = [Rows(folder, 16, 2, 0).batch(step=s, rank=0).prompts for s in range(8)]
    assert len({tuple(p) for p in other}) > 1


def test_unusable_rows_are_dropped_and_bad_folders_explained(tmp_path):
    folder = save_imagefolder(tmp_path / "rows", "deep")
    lines = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    lines[0]["f_number"], lines[1]["prompt"] = 0.0, " "
    (folder / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert load_rows(folder)["prompt"] == [line["prompt"] for line in lines[2:]]  # the two broken rows dropped
    with pytest.raises(ValueError, match="not a dataset folder"):
        load_rows(tmp_path / "nothing")
    for line in lines:
        line.pop("focal_length_mm")
    (folder / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(ValueError, match="no column focal_length_mm"):
        load_rows(folder)
