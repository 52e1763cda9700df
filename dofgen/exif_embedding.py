"""EXIF embedding of Section F.3 for a diffusers UNet, attached without forking diffusers.

Aperture and focal length each get a sinusoidal embedding (of their logarithms, so equal
ratios are equal steps: one stop is one step in aperture); the two are concatenated and go
through two projection layers to one embedding, added to the UNet's timestep embedding by
a forward hook on ``unet.time_embedding``. The last layer starts at zero, so an untrained
module leaves the UNet's output unchanged.
"""

from __future__ import annotations

import math

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import get_timestep_embedding
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

#: Scale of log2 values before the sinusoids (timesteps run to ~1000; log2 of f/22 is ~4.5).
LOG_SCALE = 100.0


class ExifEmbedding(ModelMixin, ConfigMixin):
    """Embeds (aperture, focal length) into the UNet's timestep-embedding space.

    Args:
        time_embed_dim: width of the UNet's timestep embedding
            (``unet.time_embedding.linear_2.out_features``).
        frequency_dim: sinusoidal channels per EXIF value.
        hidden_dim: width of the first projection layer.
    """

    @register_to_config
    def __init__(self, time_embed_dim: int, frequency_dim: int = 128, hidden_dim: int = 512) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(2 * frequency_dim, hidden_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(hidden_dim, time_embed_dim)
        nn.init.zeros_(self.linear_2.weight)
        nn.init.zeros_(self.linear_2.bias)
        self._camera: tuple[torch.Tensor, torch.Tensor] | None = None
        self._hook = None

    def forward(self, f_number: torch.Tensor, focal_length_mm: torch.Tensor) -> torch.Tensor:
        """(B,) f-numbers and (B,) focal lengths to (B, time_embed_dim)."""
        frequency_dim = self.config.frequency_dim
        parts = [
            get_timestep_embedding(torch.log2(value.float()) * LOG_SCALE, frequency_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
            for value in (f_number, focal_length_mm)
        ]
        features = torch.cat(parts, dim=-1).to(self.linear_1.weight.dtype)
        return self.linear_2(self.act(self.linear_1(features)))

    def set_camera(self, f_number: float | torch.Tensor, focal_length_mm: float | torch.Tensor) -> None:
        """EXIF values for the next UNet calls: scalars, or (B,) tensors."""
        values = [torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in (f_number, focal_length_mm)]
        if any(not torch.isfinite(v).all() or (v <= 0).any() for v in values):
            raise ValueError("EXIF values must be finite and positive")
        self._camera = (values[0], values[1])

    def attach(self, unet: nn.Module) -> None:
        """Add this embedding to ``unet.time_embedding``'s output on every forward."""
        self.detach()
        self._hook = unet.time_embedding.register_forward_hook(self._add)

    def detach(self) -> None:
        """Remove the hook; the UNet is as before."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _add(self, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
        if self._camera is None:
            return output
        f_number, focal = (v.to(output.device) for v in self._camera)
        embedding = self(f_number, focal).to(output.dtype)
        if embedding.shape[0] != output.shape[0]:  # classifier-free guidance doubles the batch
            repeats = math.ceil(output.shape[0] / embedding.shape[0])
            embedding = embedding.repeat(repeats, 1)[: output.shape[0]]
        return output + embedding
