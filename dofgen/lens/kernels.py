"""Aperture kernels: anti-aliased discs (round aperture) and regular polygons (blades)."""

from __future__ import annotations

import math
from functools import lru_cache

import torch

_SUPERSAMPLING = 8


def _check_blades(blades: int) -> None:
    if blades != 0 and not 5 <= blades <= 9:
        raise ValueError(f"blades={blades} is out of range; use 0 (circular) or 5 to 9")


def aperture_coverage(dx: torch.Tensor, dy: torch.Tensor, radius: float, blades: int) -> torch.Tensor:
    """1 inside the aperture of the given radius (pixels), 0 outside; no anti-aliasing.

    ``blades`` 0 is a circle; 5 to 9 is a regular polygon inscribed in that circle with a
    vertex at the top. ``dx``, ``dy``: offsets from the aperture centre, any shape.
    """
    rho = torch.hypot(dx, dy)
    if blades == 0:
        return (rho <= radius).to(dx.dtype)
    sector = 2 * math.pi / blades
    theta = torch.atan2(dx, -dy) % sector - sector / 2
    edge = radius * math.cos(math.pi / blades) / torch.cos(theta)
    return (rho <= edge).to(dx.dtype)


@lru_cache(maxsize=256)
def _kernel_cpu(diameter: float, blades: int) -> torch.Tensor:
    with torch.inference_mode(False):  # cached: must stay usable where autograd is on
        return _make_kernel(diameter, blades)


def _make_kernel(diameter: float, blades: int) -> torch.Tensor:
    if diameter <= 1.0:
        return torch.ones(1, 1)
    radius = diameter / 2
    half = math.ceil(radius)
    n = 2 * half + 1
    sub = (torch.arange(n * _SUPERSAMPLING, dtype=torch.float64) + 0.5) / _SUPERSAMPLING - half - 0.5
    dy, dx = torch.meshgrid(sub, sub, indexing="ij")
    cover = aperture_coverage(dx, dy, radius, blades)
    kernel = cover.reshape(n, _SUPERSAMPLING, n, _SUPERSAMPLING).mean(dim=(1, 3))
    # no all-zero outer ring (the aperture can stop short of it): fewer taps, same blur
    while kernel.shape[-1] > 1 and not (kernel[[0, -1]].any() or kernel[:, [0, -1]].any()):
        kernel = kernel[1:-1, 1:-1]
    return (kernel / kernel.sum()).float()


def aperture_kernel(
    diameter: float, blades: int = 0, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Normalised (sum 1), anti-aliased aperture kernel of a given diameter in pixels.

    Returns:
        (K, K) with K odd; a 1x1 delta when the diameter is 1 px or less.
    """
    _check_blades(blades)
    return _kernel_cpu(round(float(diameter), 3), int(blades)).to(device=device, dtype=dtype)
