"""The paper's lens as TAF's public code does it: one layer, per-pixel soft disc gather."""

import torch

from dofgen.lens.gather import gather_target_disc


def render_taf(linear: torch.Tensor, coc: torch.Tensor) -> torch.Tensor:
    """Spatially varying soft-disc blur without occlusion.

    Args:
        linear: (B, 3, H, W) linear-light image.
        coc: (B, 1, H, W) signed CoC diameter in pixels.

    Returns:
        (B, 3, H, W): each pixel the normalised average of the inputs inside its own disc.
    """
    return gather_target_disc(linear, coc.abs() / 2)
