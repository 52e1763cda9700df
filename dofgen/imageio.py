"""Conversions between PIL images and (3, H, W) float tensors.

``to_tensor``/``to_pil`` keep sRGB values in [0, 1]; ``to_linear``/``linear_to_pil`` go
straight between 8-bit sRGB and linear light through lookup tables, which is several times
faster than the transfer function's powers (the Explore tab's sliders use them).
"""

from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from dofgen.color import linear_to_srgb, srgb_to_linear

#: Linear light is quantised to this many steps on its way to 8 bits: near black, where the
#: sRGB curve is steepest (12.92), a step moves the output by 0.05 of a level.
ENCODE_STEPS = 65535


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image to a (3, H, W) float32 sRGB tensor in [0, 1]."""
    array = np.array(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) float tensor in [0, 1] to an 8-bit RGB PIL image."""
    array = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


@lru_cache(maxsize=8)
def _tables(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode(False):
        decode = srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255).float()
        encode = (linear_to_srgb(torch.arange(ENCODE_STEPS + 1, dtype=torch.float64) / ENCODE_STEPS) * 255).round().to(torch.uint8)
    return decode.to(device), encode.to(device)


def to_linear(image: Image.Image, device: str | torch.device = "cpu") -> torch.Tensor:
    """PIL image to a (3, H, W) float32 linear-light tensor (exact for 8-bit input)."""
    codes = torch.from_numpy(np.array(image.convert("RGB"))).to(device)
    return _tables(str(torch.device(device)))[0][codes.long()].permute(2, 0, 1).contiguous()


def linear_to_pil(linear: torch.Tensor) -> Image.Image:
    """(3, H, W) linear light to an 8-bit sRGB PIL image (within one level of ``to_pil(linear_to_srgb(x))``)."""
    table = _tables(str(linear.device))[1]
    codes = (linear.detach().clamp(0, 1) * ENCODE_STEPS + 0.5).long()
    return Image.fromarray(table[codes].permute(1, 2, 0).cpu().numpy())
