"""Saliency S (Figure A5): a transformers foreground-segmentation model, or spectral residual.

The model default is CLIPSeg (``CIDAS/clipseg-rd64-refined``, Apache-2.0 on its model card):
text-prompted segmentation native to transformers, asked for the photo's main subject. With
no model configured or loadable, :class:`SpectralResidualSaliency` (Hou and Zhang, CVPR 2007)
needs no weights; since it marks anything unexpected (small bright lights more than the
subject), :func:`subject_saliency` combines it with a weight-free subject estimate from
depth (what stands in front of its surroundings) and a centre prior.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from PIL import Image

from dofgen import config
from dofgen.imageio import to_tensor
from dofgen.loading import TransformersComponent, load_processor_and_model, resolve_device

DEFAULT_SALIENCY_MODEL = config.SALIENCY.default
DEFAULT_PROMPT = "the main subject of the photo"
#: Side, in pixels, at which spectral residual looks at the image (Hou and Zhang use 64).
SPECTRAL_SIZE = 64
#: Side, in pixels, at which depth prominence looks at the depth map.
PROMINENCE_SIZE = 128
#: Width of a pixel's surroundings for depth prominence, as a share of the longer side.
SURROUND_SHARE = 0.1
#: Standard deviation of the centre prior, in half-widths of the frame.
CENTRE_SIGMA = 0.5
#: Share of the depth prominence's peak below which a scene is taken to have no object
#: standing out (then spectral residual alone leads, with the centre prior).
PROMINENCE_FLOOR = 0.02


def _normalise(saliency: torch.Tensor) -> torch.Tensor:
    low, high = saliency.min(), saliency.max()
    if not torch.isfinite(high - low) or high - low < 1e-12:
        return torch.zeros_like(saliency)
    return (saliency - low) / (high - low)


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur (1, 1, h, w) with a separable Gaussian (reflect padding)."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect" if min(image.shape[-2:]) > radius else "replicate")
    blurred = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    return F.conv2d(blurred, kernel.view(1, 1, -1, 1))


def spectral_residual(image: torch.Tensor) -> torch.Tensor:
    """Spectral-residual saliency (Hou and Zhang 2007).

    The log amplitude spectrum minus its local (3x3) average keeps what is unexpected in
    the image; back with the original phase, squared and smoothed, it marks salient regions.

    Args:
        image: (3, H, W) sRGB in [0, 1].

    Returns:
        (H, W) saliency in [0, 1].
    """
    height, width = image.shape[-2:]
    gray = image.mean(dim=0, keepdim=True)[None].float()
    if float(gray.std()) < 1e-4:  # a flat image: nothing stands out
        return torch.zeros(height, width)
    scale = SPECTRAL_SIZE / max(height, width)
    small = F.interpolate(gray, size=(max(8, round(height * scale)), max(8, round(width * scale))), mode="area")
    spectrum = torch.fft.fft2(small)
    log_amplitude = torch.log(spectrum.abs() + 1e-8)
    residual = log_amplitude - F.avg_pool2d(F.pad(log_amplitude, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    saliency = torch.fft.ifft2(torch.exp(torch.complex(residual, torch.angle(spectrum)))).abs() ** 2
    saliency = _gaussian_blur(saliency, sigma=2.5)
    return _normalise(F.interpolate(saliency, size=(height, width), mode="bilinear", align_corners=False)[0, 0])


def depth_prominence(depth: torch.Tensor) -> torch.Tensor:
    """How far each pixel stands in front of its surroundings: a subject estimate from depth.

    ``P = max(0, q / blur(q) - 1)`` with ``q = 1 / D`` (disparity) and ``blur`` a Gaussian
    about a tenth of the frame wide. Objects in front of what is behind them score high; a
    wall, a floor or the sky (smooth in disparity) scores about 0, and so do small lights on
    a wall. No weights, no image.

    Args:
        depth: (H, W) metres, finite and positive.

    Returns:
        (H, W) prominence (0 up; 0.5 means 1.5 times nearer than the surroundings).
    """
    height, width = depth.shape
    disparity = 1.0 / depth.float().clamp(min=1e-3)[None, None]
    scale = PROMINENCE_SIZE / max(height, width)
    small = F.interpolate(disparity, size=(max(8, round(height * scale)), max(8, round(width * scale))), mode="area")
    surround = _gaussian_blur(small, sigma=SURROUND_SHARE * max(small.shape[-2:]))
    prominence = (small / surround - 1.0).clamp(min=0.0)
    return F.interpolate(prominence, size=(height, width), mode="bilinear", align_corners=False)[0, 0]


def centre_prior(height: int, width: int) -> torch.Tensor:
    """(H, W) Gaussian weight, 1 at the centre of the frame: people frame what matters there."""
    y = torch.linspace(-1.0, 1.0, height)[:, None]
    x = torch.linspace(-1.0, 1.0, width)[None, :]
    return torch.exp(-(x**2 + y**2) / (2 * CENTRE_SIGMA**2))


def subject_saliency(saliency: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """The subject from weight-free cues: depth prominence times a centre prior.

    Spectral residual alone marks small bright lights; objects standing in front of their
    surroundings near the middle of the frame are what a photographer focuses on. When no
    object stands out in depth (a flat wall, a landscape), ``saliency`` times the centre
    prior leads instead.

    Args:
        saliency: (H, W) image saliency in [0, 1] (e.g. spectral residual).
        depth: (H, W) metres.

    Returns:
        (H, W) subject saliency in [0, 1].
    """
    centre = centre_prior(*depth.shape).to(saliency.device)
    prominence = depth_prominence(depth).to(saliency.device)
    if float(prominence.max()) > PROMINENCE_FLOOR:
        return _normalise(prominence * centre * (1.0 + saliency))
    return _normalise(saliency * centre)


class SpectralResidualSaliency:
    """Saliency that needs no weights; see :func:`spectral_residual`.

    ``reason`` says why it stands in for a model, when it does.
    """

    name = "spectral residual (Hou and Zhang 2007)"
    #: Image-only and blind to subjects: the pipeline adds :func:`subject_saliency`'s cues.
    needs_subject_prior = True

    def __init__(self, reason: str = "") -> None:
        self.reason = reason

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """(H, W) saliency in [0, 1] for a PIL image."""
        return spectral_residual(to_tensor(image))


class SaliencyEstimator(TransformersComponent):
    """A transformers text-prompted segmentation model (CLIPSeg) asked for the main subject."""

    def __init__(self, model: torch.nn.Module, processor, device: torch.device, prompt: str, name: str) -> None:
        super().__init__(model, processor, device)
        self.prompt = prompt
        self.name = name

    @classmethod
    def from_pretrained(
        cls, model_id_or_path: str = DEFAULT_SALIENCY_MODEL, device: str | torch.device | None = None, prompt: str = DEFAULT_PROMPT
    ) -> "SaliencyEstimator":
        """Load the model and its processor.

        Raises:
            RuntimeError: the model cannot be loaded; says what to set.
        """
        from transformers import AutoProcessor, CLIPSegForImageSegmentation

        processor, model = load_processor_and_model(
            "saliency model", model_id_or_path, "DOFGEN_SALIENCY",
            "a local folder with a CLIPSeg model and processor, or to 'spectral' for the weight-free estimator",
            AutoProcessor, CLIPSegForImageSegmentation,
        )
        return cls(model, processor, resolve_device(device), prompt, str(model_id_or_path))

    @torch.inference_mode()
    def __call__(self, image: Image.Image) -> torch.Tensor:
        """(H, W) saliency in [0, 1] at the image's resolution."""
        image = image.convert("RGB")
        inputs = self.processor(text=[self.prompt], images=[image], padding=True, return_tensors="pt").to(self.device)
        logits = self.model(**inputs).logits.reshape(1, 1, *inputs["pixel_values"].shape[-2:])
        probability = torch.sigmoid(logits.float())
        return F.interpolate(probability, size=(image.height, image.width), mode="bilinear", align_corners=False)[0, 0].cpu()


def load_saliency(model_id_or_path: str | None = None) -> SaliencyEstimator | SpectralResidualSaliency:
    """The configured estimator (argument, else DOFGEN_SALIENCY, else the default model).

    ``"spectral"`` or an empty value selects spectral residual; so does a model that cannot
    be loaded, with the reason in ``.reason``.
    """
    choice = config.value(config.SALIENCY) if model_id_or_path is None else model_id_or_path
    if choice.strip().lower() in ("", "spectral", "spectral-residual"):
        return SpectralResidualSaliency()
    try:
        return SaliencyEstimator.from_pretrained(choice)
    except RuntimeError as error:
        return SpectralResidualSaliency(reason=str(error))
