"""Per-pixel disc gathering over a window that fits the largest CoC (the TAF-style core).

The window is walked one offset at a time, so memory stays at a few image-sized tensors
whatever the CoC size; between offsets the walk asks ``should_stop`` (when given) whether
the render is still wanted, and raises :class:`RenderStopped` if not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

#: Width in pixels of the soft edge of a gathered disc.
SOFT_EDGE_PX = 1.0
#: The walk asks ``should_stop`` once every this many window offsets.
STOP_CHECK_EVERY = 16

StopCheck = Callable[[], bool] | None


class RenderStopped(RuntimeError):
    """A render was stopped by its ``should_stop`` before it finished."""


def _walk(offsets, should_stop: StopCheck) -> Iterator[tuple[int, int, float]]:
    """``offsets``, checking ``should_stop`` every :data:`STOP_CHECK_EVERY` of them."""
    for index, offset in enumerate(offsets):
        if should_stop is not None and index % STOP_CHECK_EVERY == 0 and should_stop():
            raise RenderStopped("the render was stopped")
        yield offset


def disc_weight(radius: torch.Tensor, distance: float) -> torch.Tensor:
    """Soft-edged disc membership of a point at ``distance`` px for discs of ``radius`` px.

    1 well inside, 0 well outside, linear across a ``SOFT_EDGE_PX`` band centred on the rim,
    so a disc under half a pixel in radius keeps only its centre.
    """
    return ((radius - distance) / SOFT_EDGE_PX + 0.5).clamp(0.0, 1.0)


def window_offsets(max_radius: float) -> Iterator[tuple[int, int, float]]:
    """(dy, dx, distance) for every offset a disc of ``max_radius`` px can reach."""
    reach = math.ceil(max_radius + SOFT_EDGE_PX / 2)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            distance = math.hypot(dy, dx)
            if distance < max_radius + SOFT_EDGE_PX / 2:
                yield dy, dx, distance


def shifted(padded: torch.Tensor, reach: int, dy: int, dx: int, height: int, width: int) -> torch.Tensor:
    """View of ``padded`` (padded by ``reach`` on each side) offset by (dy, dx)."""
    return padded[..., reach + dy : reach + dy + height, reach + dx : reach + dx + width]


def gather_target_disc(values: torch.Tensor, radius: torch.Tensor, should_stop: StopCheck = None) -> torch.Tensor:
    """Normalised gather: each output pixel averages the inputs inside its own soft disc.

    Args:
        values: (B, C, H, W).
        radius: (B, 1, H, W) disc radius in pixels at each output pixel.
        should_stop: asked between window offsets; True raises :class:`RenderStopped`.

    Returns:
        (B, C, H, W); no occlusion, so sharp content next to a blurred pixel leaks into it.
    """
    height, width = values.shape[-2:]
    max_radius = float(radius.detach().max())
    reach = math.ceil(max_radius + SOFT_EDGE_PX / 2)
    padded = F.pad(values, (reach,) * 4)
    inside = F.pad(torch.ones_like(radius), (reach,) * 4)
    total = torch.zeros_like(values)
    norm = torch.zeros_like(radius)
    for dy, dx, distance in _walk(window_offsets(max_radius), should_stop):
        weight = disc_weight(radius, distance) * shifted(inside, reach, dy, dx, height, width)
        total = total + weight * shifted(padded, reach, dy, dx, height, width)
        norm = norm + weight
    return total / norm


def scatter_as_gather(values: torch.Tensor, alpha: torch.Tensor, radius: torch.Tensor, should_stop: StopCheck = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each source pixel spreads its premultiplied colour over its own soft disc (unit mass).

    Args:
        values: (B, C, H, W) colour.
        alpha: (B, 1, H, W) the layer's coverage of each source pixel.
        radius: (B, 1, H, W) disc radius in pixels at each source pixel.
        should_stop: asked between window offsets; True raises :class:`RenderStopped`.

    Returns:
        ((B, C, H, W) premultiplied colour, (B, 1, H, W) alpha) received by each pixel.
    """
    height, width = values.shape[-2:]
    max_radius = float(radius.detach().max())
    offsets = list(window_offsets(max_radius))
    area = sum(disc_weight(radius, distance) for _, _, distance in _walk(offsets, should_stop))
    mass = alpha / area
    reach = math.ceil(max_radius + SOFT_EDGE_PX / 2)
    source = F.pad(torch.cat([values * mass, mass], dim=1), (reach,) * 4)
    source_radius = F.pad(radius, (reach,) * 4)
    total = torch.zeros(values.shape[0], values.shape[1] + 1, height, width, dtype=values.dtype, device=values.device)
    for dy, dx, distance in _walk(offsets, should_stop):
        weight = disc_weight(shifted(source_radius, reach, dy, dx, height, width), distance)
        total = total + weight * shifted(source, reach, dy, dx, height, width)
    return total[:, :-1], total[:, -1:]
