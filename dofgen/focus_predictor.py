"""Focus-distance predictor (Section C, F.1): F from the all-in-focus image and its depth.

A small convolutional network scores every pixel of the image (and, with ``inputs="rgbd"``,
its log depth, plus the pixel's position); the focus distance is the score-weighted
geometric mean of the depth, the weights a softmax over pixels. So it is the saliency-
weighted depth of Figure A5 with learned weights: always inside the scene's depth range,
differentiable in the image and the depth. Trained with a Huber loss on log distance by
``python -m dofgen.train dmd`` (every iteration, F.1); a trained one replaces
saliency-weighted focus in :class:`~dofgen.pipeline.DefocusPipeline` when its weights (a
``focus_predictor/`` folder) are present. The app finds one with :func:`load_from_env`.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from PIL import Image
from torch import nn

from dofgen import config
from dofgen.generator import model_id_from_env as generator_id_from_env
from dofgen.imageio import to_tensor
from dofgen.loading import resolve_device

#: DOFGEN_FOCUS_PREDICTOR values that turn the predictor off (saliency-weighted focus).
OFF = ("saliency", "none")
#: Subfolder of a generator checkpoint (or of ``dofgen.train dmd``'s output) that holds one.
FOCUS_SUBFOLDER = "focus_predictor"
INPUTS = ("rgb", "rgbd")
#: Depth is clamped to at least this (metres) before its logarithm.
MIN_DEPTH_M = 1e-3


def focus_loss(predicted: torch.Tensor, target: torch.Tensor, delta: float = 0.1) -> torch.Tensor:
    """Huber loss between (B,) predicted and target focus distances, on their logarithms
    (so 10 % too far costs the same at 1 m as at 10 m)."""
    return F.huber_loss(predicted.clamp(min=MIN_DEPTH_M).log(), target.to(predicted).clamp(min=MIN_DEPTH_M).log(), delta=delta)


class FocusPredictor(ModelMixin, ConfigMixin):
    """Predicts the focus distance in metres.

    Args:
        inputs: ``"rgbd"`` (image and log depth) or ``"rgb"`` (image only; the depth is still
            what is averaged).
        width: channels of the hidden layers.
        layers: dilated 3x3 convolutions (dilation 1, 2, 4, ...: the receptive field grows
            to the whole ``input_size`` image).
        input_size: side the inputs are resized to.
    """

    @register_to_config
    def __init__(self, inputs: str = "rgbd", width: int = 32, layers: int = 5, input_size: int = 64) -> None:
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs={inputs!r} must be one of {', '.join(INPUTS)}")
        channels = (3 if inputs == "rgb" else 4) + 2  # + pixel position
        blocks: list[nn.Module] = []
        for index in range(layers):
            dilation = 2**index
            blocks += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation), nn.GroupNorm(1, width), nn.SiLU()]
            channels = width
        self.body = nn.Sequential(*blocks)
        self.score = nn.Conv2d(width, 1, 1)

    def weights(self, image: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Per-pixel weights (B, 1, s, s) summing to one, s = ``input_size``.

        Args:
            image: (B, 3, H, W) sRGB in [0, 1].
            depth: (B, 1, H, W) or (B, H, W) metres.
        """
        return self._weights_and_log_depth(image, depth)[0]

    def forward(self, image: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) sRGB in [0, 1] and (B, 1, H, W) metres to (B,) focus distances in metres."""
        weights, log_depth = self._weights_and_log_depth(image, depth)
        return (weights * log_depth).sum(dim=(1, 2, 3)).exp()

    def _weights_and_log_depth(self, image: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if depth.dim() == 3:
            depth = depth[:, None]
        if image.dim() != 4 or image.shape[1] != 3 or depth.shape[0] != image.shape[0] or depth.shape[1:2] != (1,):
            raise ValueError(f"image must be (B, 3, H, W) and depth (B, 1, H, W); got {tuple(image.shape)} and {tuple(depth.shape)}")
        size = (self.config.input_size,) * 2
        dtype = self.score.weight.dtype
        log_depth = F.interpolate(depth.float().clamp(min=MIN_DEPTH_M).log(), size=size, mode="area")
        features = [F.interpolate(image.float(), size=size, mode="area") * 2 - 1]
        if self.config.inputs == "rgbd":
            mean = log_depth.mean(dim=(2, 3), keepdim=True)
            std = log_depth.std(dim=(2, 3), keepdim=True).clamp(min=1e-3)
            features.append((log_depth - mean) / std)
        ramp = torch.linspace(-1, 1, size[0], device=image.device)
        features += [ramp.view(1, 1, -1, 1).expand(image.shape[0], 1, *size), ramp.view(1, 1, 1, -1).expand(image.shape[0], 1, *size)]
        logits = self.score(self.body(torch.cat(features, dim=1).to(dtype))).float()
        weights = logits.flatten(1).softmax(dim=1).view_as(logits)
        return weights, log_depth

    @torch.no_grad()
    def predict(self, image: Image.Image, depth: torch.Tensor) -> float:
        """The focus distance in metres for a PIL image and its (H, W) depth in metres."""
        device = self.score.weight.device
        return float(self(to_tensor(image)[None].to(device), depth.reshape(1, 1, *depth.shape[-2:]).to(device)))


def find_focus_predictor(checkpoint: str | Path | None, device: str | torch.device | None = None) -> FocusPredictor | None:
    """The trained predictor in ``checkpoint/focus_predictor`` (a local folder), or None."""
    folder = Path(checkpoint or "", FOCUS_SUBFOLDER)
    if checkpoint is None or not folder.is_dir():
        return None
    return FocusPredictor.from_pretrained(folder).eval().to(resolve_device(device))


def load_from_env(device: str | torch.device | None = None) -> FocusPredictor | None:
    """The configured predictor: DOFGEN_FOCUS_PREDICTOR (a folder or hub id; ``saliency``
    turns it off), else the ``focus_predictor/`` folder of DOFGEN_GENERATOR's local
    checkpoint, else None (saliency-weighted focus). Raises what ``from_pretrained`` raises."""
    choice = config.value(config.FOCUS_PREDICTOR).strip()
    if choice.lower() in OFF:
        return None
    if choice:
        return FocusPredictor.from_pretrained(choice).eval().to(resolve_device(device))
    return find_focus_predictor(generator_id_from_env(), device)
