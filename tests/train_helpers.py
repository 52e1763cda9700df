"""Tiny Deep and Shallow DoF datasets made from the bundled scenes, in dofgen.curate's layout."""

from __future__ import annotations

import json
from pathlib import Path

import torch.nn.functional as F

from dofgen import scenes
from dofgen.imageio import to_pil, to_tensor
from dofgen.lens import render


def scene_rows(kind: str, side: int = 64) -> list[dict]:
    """One row per bundled scene: deep (all in focus, f/16) or shallow (our lens at f/1.8)."""
    rows = []
    for name in scenes.list():
        scene = scenes.load(name)
        image = F.interpolate(to_tensor(scene.image)[None], size=(side, side), mode="area")[0]
        depth = F.interpolate(scene.depth[None, None], size=(side, side), mode="nearest")[0, 0]
        f_number = 16.0 if kind == "deep" else 1.8
        if kind == "shallow":
            image = render(image, depth, scene.camera.replace(f_number=f_number, sensor_width_mm=6.0))
        rows.append({"image": to_pil(image), "file_name": f"{name}.png", "prompt": scene.meta["title"].lower(),
                     "f_number": f_number, "focal_length_mm": float(scene.camera.focal_length_mm), "exposure_time_s": 0.01})
    return rows


def save_disk_dataset(folder: Path, kind: str) -> Path:
    """``save_to_disk`` layout (what ``dofgen.curate`` writes)."""
    import datasets

    rows = scene_rows(kind)
    datasets.Dataset.from_list(rows).save_to_disk(str(folder))
    return folder


def save_imagefolder(folder: Path, kind: str) -> Path:
    """Image folder with ``metadata.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "metadata.jsonl").open("w") as metadata:
        for row in scene_rows(kind):
            row.pop("image").save(folder / row["file_name"])
            metadata.write(json.dumps(row) + "\n")
    return folder
