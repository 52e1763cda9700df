"""The committed path-traced scenes (``scenes/<name>.npz``) as tensors, for the benchmark and the tests.

``render_scenes.py`` writes them (see ``save_scene`` there for the fields); ``python -m
benchmarks.bench_pathtraced`` scores the lenses on them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dofgen.camera import CameraSettings
from dofgen.lens import coc_diameter_px

SCENES_DIR = Path(__file__).resolve().parent / "scenes"
#: Scenes only scored, never tuned on: a lens change is judged on them apart, and one that
#: helps the other (tuning) scenes but hurts these is not an improvement. They were chosen
#: on 2026-12-07; lens changes before that date were tuned on all the scenes.
HELD_OUT = frozenset({"many_depths", "slanted_ground", "street_column", "twigs", "white_wall"})


@dataclass(frozen=True)
class BenchScene:
    """One path-traced scene: tensors (1, C, H, W), the camera and the scoring masks (H, W)."""

    name: str
    description: str
    image: torch.Tensor
    depth: torch.Tensor
    reference: torch.Tensor
    camera: CameraSettings
    blades: int
    light_mask: torch.Tensor
    white_surface: torch.Tensor
    digest: str
    #: sRGB PSNR between the reference's two half renders (lens sampling noise); NaN if unknown.
    noise_psnr: float = math.nan

    @property
    def held_out(self) -> bool:
        """Whether the scene is only scored, never tuned on (:data:`HELD_OUT`)."""
        return self.name in HELD_OUT

    @property
    def coc(self) -> torch.Tensor:
        """(1, 1, H, W) signed CoC diameter in pixels (design formula)."""
        return coc_diameter_px(self.depth, self.camera, self.image.shape[-1])


def load_scene(path: Path) -> BenchScene:
    """Read ``scenes/<name>.npz`` into float32 tensors."""
    with np.load(path) as data:
        def image(key: str) -> torch.Tensor:
            return torch.from_numpy(data[key].astype(np.float32)).permute(2, 0, 1)[None]

        camera = CameraSettings(
            float(data["f_number"]), float(data["focal_length_mm"]),
            float(data["focus_distance_m"]), float(data["sensor_width_mm"]),
        )
        return BenchScene(
            path.stem, str(data["description"]), image("image"),
            torch.from_numpy(data["depth"].astype(np.float32))[None, None], image("reference"),
            camera, int(data["blades"]), torch.from_numpy(data["light_mask"]),
            torch.from_numpy(data["white_surface"]), hashlib.sha1(path.read_bytes()).hexdigest()[:12],
            float(data["half_renders_psnr_db"]) if "half_renders_psnr_db" in data.files else math.nan,
        )
