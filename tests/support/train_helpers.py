"""Tiny Deep and Shallow DoF datasets made from the bundled scenes, in dofgen.curate's layout,
and 2-process ``accelerate launch`` runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from dofgen import scenes
from dofgen.imageio import to_pil, to_tensor
from dofgen.lens import render

ROOT = Path(__file__).resolve().parents[2]
# accelerate's --cpu launcher needs MPI for several processes; torchrun's (--multi_gpu) with
# ACCELERATE_USE_CPU gives CPU processes over gloo
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]


#: The repository's FSDP config, for 2 CPU processes (DOFGEN_FSDP_ON_CPU: see dofgen.train.accelerate_run.check_processes).
LAUNCH_FSDP = [*LAUNCH[:3], "--config_file", str(ROOT / "configs" / "accelerate_fsdp.yaml"), *LAUNCH[4:]]


def launch(*args: str, fsdp: bool = False) -> subprocess.CompletedProcess:
    """2 CPU processes under ``accelerate launch`` (DDP, or with ``fsdp`` the repository's
    FSDP config) running ``-m <args>``; fails the test with their output."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ACCELERATE_USE_CPU="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               DOFGEN_FSDP_ON_CPU="1" if fsdp else "0")
    done = subprocess.run([*(LAUNCH_FSDP if fsdp else LAUNCH), "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done


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


@pytest.fixture(autouse=True)
def own_random_state():
    """Tests that seed or draw from torch's global generator give it back as they found it,
    so the tests after them see the random numbers they would see without them."""
    with torch.random.fork_rng():
        yield
