"""One whole pipeline call on a CUDA device with tiny random models (fp16 generator).

Run by hand on a GPU machine, from the repository root: ``python -m
benchmarks.gpu_pipeline_check``. Real weights
cannot be fetched offline; this proves the CUDA path (generator in fp16, depth model, lens
on the device) and times each stage of a 256x256 call.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from dofgen.camera import CameraSettings
from dofgen.depth import DepthEstimator
from dofgen.generator import Generator
from dofgen.pipeline import DefocusPipeline
from tests.support.tiny_models import save_tiny_depth_anything, save_tiny_sdxl


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        sdxl = save_tiny_sdxl(Path(folder) / "sdxl")
        depth = save_tiny_depth_anything(Path(folder) / "depth")
        pipeline = DefocusPipeline(Generator.from_pretrained(str(sdxl)), DepthEstimator.from_pretrained(str(depth)))
        camera = CameraSettings(1.8, 50.0, 2.0)
        for _ in range(2):  # the second call is warm
            result = pipeline("a teapot on a desk", camera, seed=1, width=256, height=256)
        print("device", pipeline.device, "generator dtype", pipeline.generator.pipe.unet.dtype, "depth on", result.depth.device)
        assert torch.isfinite(result.depth).all() and result.image.size == (256, 256)
        print("timings (s):", {k: round(v, 4) for k, v in result.timings.items()})


if __name__ == "__main__":
    main()
