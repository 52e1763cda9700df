"""Depth D in metres (Figure A5): a transformers depth model, and hole filling.

Every depth that reaches the lens from outside (uploads, datasets, models) passes through
:func:`fill_holes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from dofgen import config
from dofgen.loading import TransformersComponent, load_processor_and_model, resolve_device

#: Metric Depth Anything V2 Small, fine-tuned on Hypersim (indoor, up to 20 m): metric output
#: in metres, the small (25M-parameter) backbone that runs on a CPU, Apache-2.0. Generated
#: portraits, food, animals and objects sit mostly within 20 m. For landscapes, set
#: DOFGEN_DEPTH to "depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf" (up to 80 m).
DEFAULT_DEPTH_MODEL = config.DEPTH.default
#: Median depth a relative (inverse-depth) model's output is scaled to.
RELATIVE_MEDIAN_DEPTH_M = 3.0


@dataclass(frozen=True)
class DepthMap:
    """Depth (H, W) in metres, whether the model was metric, and how it was converted."""

    depth: torch.Tensor
    metric: bool
    conversion: str


def fill_holes(depth: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Fill NaN, infinite and non-positive depths from valid neighbours.

    Holes take the farthest valid depth nearby (push-pull over a max pyramid): holes in
    depth maps are mostly occlusions beside a foreground edge, where the surface behind is
    the one that shows.

    Args:
        depth: (H, W) or (..., H, W) metres.

    Returns:
        The filled depth (same shape, float32) and the number of pixels filled.

    Raises:
        ValueError: when no pixel is valid.
    """
    if not torch.is_tensor(depth) or depth.dim() < 2:
        raise ValueError("depth must be a tensor of shape (H, W) or (..., H, W)")
    depth = depth.float()
    valid = torch.isfinite(depth) & (depth > 0)
    count = int((~valid).sum())
    if count == 0:
        return depth, 0
    shape = depth.shape
    if not bool(valid.reshape(-1, shape[-2] * shape[-1]).any(dim=1).all()):
        raise ValueError("depth has no valid value (all NaN, infinite or non-positive)")
    flat = torch.where(valid, depth, -torch.inf).reshape(-1, 1, *shape[-2:])
    return _fill_max(flat).reshape(shape), count


def _fill_max(depth: torch.Tensor) -> torch.Tensor:
    """(N, 1, h, w) with -inf holes to no holes (where each map has a valid pixel)."""
    holes = torch.isinf(depth)
    height, width = depth.shape[-2:]
    if not bool(holes.any()) or height * width == 1:
        return depth
    kernel = (min(2, height), min(2, width))
    coarse = _fill_max(F.max_pool2d(depth, kernel, ceil_mode=True))
    up = coarse.repeat_interleave(kernel[0], dim=-2).repeat_interleave(kernel[1], dim=-1)[..., :height, :width]
    return torch.where(holes, up, depth)


class DepthEstimator(TransformersComponent):
    """A transformers depth-estimation model that returns metres.

    Load with :meth:`from_pretrained` (a hub id or a local folder); call with a PIL image.
    """

    def __init__(self, model: torch.nn.Module, processor, device: torch.device) -> None:
        super().__init__(model, processor, device)
        config = model.config
        self.metric = getattr(config, "depth_estimation_type", None) == "metric" or config.model_type == "zoedepth"

    @classmethod
    def from_pretrained(cls, model_id_or_path: str = DEFAULT_DEPTH_MODEL, device: str | torch.device | None = None) -> "DepthEstimator":
        """Load a depth model and its image processor.

        Raises:
            RuntimeError: the model cannot be loaded; says what to set.
        """
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        processor, model = load_processor_and_model(
            "depth model", model_id_or_path, "DOFGEN_DEPTH",
            "a local folder with a transformers depth-estimation model (config.json, weights, preprocessor_config.json)",
            AutoImageProcessor, AutoModelForDepthEstimation,
        )
        return cls(model, processor, resolve_device(device))

    @torch.inference_mode()
    def __call__(self, image: Image.Image) -> DepthMap:
        """Depth at the input resolution, in metres, with holes filled."""
        image = image.convert("RGB")
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        outputs = self.model(**inputs)
        predicted = self.processor.post_process_depth_estimation(outputs, target_sizes=[(image.height, image.width)])[0]["predicted_depth"]
        predicted = predicted.float().cpu()
        if self.metric:
            depth, conversion = predicted, "metric output, used as metres"
        else:
            depth, conversion = relative_to_metres(predicted)
        depth, holes = fill_holes(depth)
        if holes:
            conversion += f"; {holes} invalid pixels filled"
        return DepthMap(depth=depth, metric=self.metric, conversion=conversion)


def relative_to_metres(inverse_depth: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Relative inverse depth (larger is nearer) to metres, up to an assumed scale.

    ``depth = RELATIVE_MEDIAN_DEPTH_M * median(v) / v`` for positive values ``v``: the median
    pixel is placed at ``RELATIVE_MEDIAN_DEPTH_M``; non-positive values become holes.
    """
    positive = inverse_depth[inverse_depth > 0]
    if positive.numel() == 0:
        raise ValueError("the depth model returned no positive inverse depth")
    median = positive.median()
    depth = torch.where(inverse_depth > 0, RELATIVE_MEDIAN_DEPTH_M * median / inverse_depth, torch.nan)
    return depth, f"relative inverse depth scaled so the median pixel is {RELATIVE_MEDIAN_DEPTH_M:g} m (not metric)"


def model_id_from_env() -> str:
    """The depth model to load: DOFGEN_DEPTH, or the default."""
    return config.value(config.DEPTH)
