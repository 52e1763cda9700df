"""The paper's lens as TAF's public code does it: one layer, per-pixel soft disc gather on
sRGB values (the baseline does not get our linear-light blending)."""

import torch

from dofgen.lens.gather import StopCheck, gather_target_disc


def render_taf(srgb: torch.Tensor, coc: torch.Tensor, should_stop: StopCheck = None) -> torch.Tensor:
    """Spatially varying soft-disc blur without occlusion.

    Args:
        srgb: (B, 3, H, W) sRGB values.
        coc: (B, 1, H, W) signed CoC diameter in pixels.
        should_stop: asked while gathering; True raises ``RenderStopped``.

    Returns:
        (B, 3, H, W): each pixel the normalised average of the inputs inside its own disc.
    """
    return gather_target_disc(srgb, coc.abs() / 2, should_stop)
