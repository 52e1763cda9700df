"""Figure A5 on batches of tensors, for training: depth D, the focus target, the lens x -> x̂.

The depth model and saliency run without gradients (they are frozen and only place the
focal plane); the lens is differentiable in the image, so a Shallow step's loss reaches the
generator through x̂.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dofgen.camera import CameraSettings
from dofgen.depth import DepthEstimator, fill_holes, relative_to_metres
from dofgen.focus import focus_distance
from dofgen.lens import render
from dofgen.saliency import spectral_residual

#: Depths are clamped to at least this (metres) before the lens.
MIN_DEPTH_M = 0.05
#: The focus distance stays at least this many focal lengths away (as in the pipeline).
MIN_FOCUS_FOCAL_LENGTHS = 1.5


@torch.no_grad()
def depth_of(estimator: DepthEstimator, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] to (B, 1, H, W) depth in metres (holes filled).

    The image is resized to the processor's size (rounded to its patch multiple) and
    normalised as the processor would, then the model's depth is resized back.
    """
    processor = estimator.processor
    size = getattr(processor, "size", None) or {}
    multiple = getattr(processor, "ensure_multiple_of", 1) or 1
    side = [max(multiple, round(size.get(k, images.shape[-2 if k == "height" else -1]) / multiple) * multiple) for k in ("height", "width")]
    pixels = F.interpolate(images.float(), size=tuple(side), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(processor.image_mean, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std, device=pixels.device).view(1, 3, 1, 1)
    model_dtype = next(estimator.model.parameters()).dtype
    predicted = estimator.model(pixel_values=((pixels - mean) / std).to(estimator.device, model_dtype)).predicted_depth
    depth = F.interpolate(predicted.float()[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False).to(images.device)
    if not estimator.metric:
        depth = torch.stack([relative_to_metres(d)[0] for d in depth])
    return fill_holes(depth)[0].clamp(min=MIN_DEPTH_M)


@torch.no_grad()
def saliency_focus(images: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """(B,) saliency-weighted focus distances (spectral residual; :func:`dofgen.focus.focus_distance`):
    the focus predictor's training target."""
    return torch.tensor([focus_distance(d[0], spectral_residual(image.cpu()).to(d.device)) for image, d in zip(images, depth)], device=images.device)


def lens(images: torch.Tensor, depth: torch.Tensor, f_number: torch.Tensor, focal_length_mm: torch.Tensor, focus_m: torch.Tensor) -> torch.Tensor:
    """Our layered lens per sample: (B, 3, H, W) sRGB in [0, 1], (B, 1, H, W) metres and (B,)
    camera values to the (B, 3, H, W) shallow-DoF images (full-frame sensor)."""
    out = []
    for index in range(images.shape[0]):
        focal = float(focal_length_mm[index])
        focus = max(float(focus_m[index]), MIN_FOCUS_FOCAL_LENGTHS * focal / 1000.0)
        out.append(render(images[index], depth[index], CameraSettings(float(f_number[index]), focal, focus)))
    return torch.stack(out)
