"""Convert scikit-image's Middlebury 2014 motorcycle into a bundled RGB-D scene.

Run once from the repository root (needs ``pip install scikit-image``; the app does not):
``python -m scripts.convert_middlebury_motorcycle``. Writes dofgen/assets/scenes/motorcycle/.

Depth from ground-truth disparity with the calibration in ``skimage.data.stereo_motorcycle``'s
docstring (valid for its 4x down-sampled images): ``depth = baseline * focal / (disparity +
doffs)``, baseline 193.001 mm, focal 994.978 px, doffs 31.086 px. Pixels without ground truth
(NaN/inf) are filled by ``dofgen.depth.fill_holes`` (background-preferring), so holes take the
depth of the surface behind them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dofgen.depth import fill_holes

ROOT = Path(__file__).resolve().parent.parent

BASELINE_MM = 193.001
FOCAL_PX = 994.978
DOFFS_PX = 31.086
SENSOR_WIDTH_MM = 36.0  # we state the camera as its 35 mm (full-frame) equivalent


def main() -> None:
    from skimage.data import stereo_motorcycle

    left, _, disparity = stereo_motorcycle()
    disparity = np.asarray(disparity, dtype=np.float64)
    if disparity.ndim == 3:
        disparity = disparity[..., 0]
    depth_m = BASELINE_MM * FOCAL_PX / (disparity + DOFFS_PX) / 1000.0
    depth_m[~np.isfinite(depth_m)] = np.nan
    filled, count = fill_holes(torch.from_numpy(depth_m).float())
    height, width = filled.shape
    folder = ROOT / "dofgen" / "assets" / "scenes" / "motorcycle"
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(left).save(folder / "image.png", optimize=True)
    millimetres = np.clip(np.round(filled.numpy() * 1000.0), 1, 65535).astype(np.uint16)
    Image.fromarray(millimetres).save(folder / "depth.png", optimize=True)
    focal_mm = FOCAL_PX / width * SENSOR_WIDTH_MM
    meta = {
        "title": "Motorcycle (Middlebury 2014)",
        "source": "Middlebury 2014 stereo dataset, 'Motorcycle', via skimage.data.stereo_motorcycle (4x down-sampled); "
        "depth from ground-truth disparity, converted by scripts/convert_middlebury_motorcycle.py",
        "licence": "Middlebury stereo datasets: free for research use with citation; redistributed by scikit-image (BSD-3-Clause)",
        "attribution": "D. Scharstein, H. Hirschmüller, Y. Kitajima, G. Krathwohl, N. Nesic, X. Wang, P. Westling: "
        "High-resolution stereo datasets with subpixel-accurate ground truth, GCPR 2014",
        "camera": {"focal_length_mm": round(focal_mm, 2), "sensor_width_mm": SENSOR_WIDTH_MM, "f_number": 2.8},
        "depth_unit": "millimetres, 16-bit PNG",
        "holes_filled": int(count),
        "suggested_focus_m": round(float(np.median(filled.numpy())), 2),
    }
    (folder / "scene.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {folder}: {width}x{height}, {count} holes filled, depth {float(filled.min()):.2f}-{float(filled.max()):.2f} m")


if __name__ == "__main__":
    main()
