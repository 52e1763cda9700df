"""Bundled RGB-D scenes (``dofgen/assets/scenes/<name>/``, package data): image, metric depth and camera."""

from __future__ import annotations

import builtins
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dofgen.camera import DEFAULT_FOCUS_DISTANCE_M, CameraSettings
from dofgen.depth import fill_holes

SCENES_DIR = Path(__file__).resolve().parent / "assets" / "scenes"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: The scene the Explore tab opens on: a portrait at 85 mm f/1.8 whose background blurs well.
DEFAULT = "portrait"


@dataclass(frozen=True)
class Scene:
    """An all-in-focus image with its depth (H, W) in metres and its camera."""

    name: str
    image: Image.Image
    depth: torch.Tensor
    camera: CameraSettings
    meta: dict = field(default_factory=dict)

    @property
    def focus_point(self) -> tuple[int, int] | None:
        """The pixel (x, y) the scene is meant to be focused on, from ``focus_point`` in its
        metadata ([x, y] as shares of width and height, as a camera's EXIF records the
        focus point); None when it has none."""
        point = self.meta.get("focus_point")
        if not (isinstance(point, builtins.list) and len(point) == 2 and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in point)):
            return None
        return min(int(point[0] * self.image.width), self.image.width - 1), min(int(point[1] * self.image.height), self.image.height - 1)


def list() -> list[str]:  # noqa: A001 - the name the design asks for
    """Names of the bundled scenes, sorted."""
    return sorted(p.name for p in SCENES_DIR.iterdir() if (p / "scene.json").is_file() and _NAME.match(p.name))


def load(name: str) -> Scene:
    """Load a bundled scene by name (one of :func:`list`)."""
    if not isinstance(name, str) or not _NAME.match(name) or not (SCENES_DIR / name / "scene.json").is_file():
        raise ValueError(f"unknown scene {name!r}; bundled scenes: {', '.join(list())}")
    folder = SCENES_DIR / name
    meta = json.loads((folder / "scene.json").read_text())
    image = Image.open(folder / "image.png").convert("RGB")
    depth = _read_depth(folder)
    if depth.shape != (image.height, image.width):
        raise ValueError(f"scene {name!r}: depth {tuple(depth.shape)} does not match image {image.size[::-1]}")
    cam = meta.get("camera", {})
    camera = CameraSettings(
        f_number=cam.get("f_number", 2.8),
        focal_length_mm=cam["focal_length_mm"],
        focus_distance_m=meta.get("suggested_focus_m", DEFAULT_FOCUS_DISTANCE_M),
        sensor_width_mm=cam["sensor_width_mm"],
    )
    return Scene(name=name, image=image, depth=depth, camera=camera, meta=meta)


def _read_depth(folder: Path) -> torch.Tensor:
    """Depth in metres from depth.npy (metres) or depth.png (16-bit millimetres), holes filled."""
    if (folder / "depth.npy").is_file():
        depth = torch.from_numpy(np.load(folder / "depth.npy", allow_pickle=False).astype(np.float32))
    else:
        depth = torch.from_numpy(np.asarray(Image.open(folder / "depth.png"), dtype=np.float32) / 1000.0)
    return fill_holes(depth)[0]
