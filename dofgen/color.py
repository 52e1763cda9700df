"""sRGB transfer function: the lens blurs in linear light."""

import torch


def srgb_to_linear(image: torch.Tensor) -> torch.Tensor:
    """Decode sRGB values in [0, 1] to linear light. Shape: any, e.g. (B, 3, H, W)."""
    image = image.clamp(0.0, 1.0)
    return torch.where(
        image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055).clamp(min=1e-12) ** 2.4
    )


def linear_to_srgb(image: torch.Tensor) -> torch.Tensor:
    """Encode linear light to sRGB in [0, 1] (values above 1 clip). Shape: any."""
    image = image.clamp(0.0, 1.0)
    return torch.where(
        image <= 0.0031308, image * 12.92, 1.055 * image.clamp(min=1e-12) ** (1 / 2.4) - 0.055
    )
