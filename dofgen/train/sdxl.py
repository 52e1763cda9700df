"""SDXL's parts for training: text conditioning, the VAE's latents, and the diffusion forward process.

Loaded from any diffusers SDXL folder or hub id (``model_index.json``, ``unet``, ``vae``,
``text_encoder(_2)``, ``tokenizer(_2)``, ``scheduler``), as ``StableDiffusionXLPipeline``
would; the text encoders and the VAE are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dofgen.loading import load_or_explain


@dataclass
class Conditioning:
    """What an SDXL UNet takes besides the noisy latents: (B, 77, C) token embeddings and
    ``added_cond_kwargs`` (pooled text embedding and size/crop ids)."""

    prompt_embeds: torch.Tensor
    added_cond_kwargs: dict[str, torch.Tensor]

    def cat(self, other: "Conditioning") -> "Conditioning":
        """Both conditionings stacked along the batch (for classifier-free guidance)."""
        return Conditioning(
            torch.cat([self.prompt_embeds, other.prompt_embeds]),
            {k: torch.cat([v, other.added_cond_kwargs[k]]) for k, v in self.added_cond_kwargs.items()},
        )


class SDXLParts:
    """Frozen text encoders and VAE, the noise schedule, and the UNet of one checkpoint."""

    def __init__(self, model_id_or_path: str, device: torch.device) -> None:
        from diffusers import DDPMScheduler, StableDiffusionXLPipeline

        pipe = load_or_explain(
            "SDXL checkpoint", model_id_or_path, "--model",
            "a diffusers SDXL folder (model_index.json, unet, vae, text_encoder(_2), tokenizer(_2), scheduler)",
            lambda offline: StableDiffusionXLPipeline.from_pretrained(model_id_or_path, local_files_only=offline),
        )
        self.model_id_or_path = model_id_or_path
        self.device = device
        self.tokenizers = (pipe.tokenizer, pipe.tokenizer_2)
        self.text_encoders = tuple(e.requires_grad_(False).eval().to(device) for e in (pipe.text_encoder, pipe.text_encoder_2))
        self.vae = pipe.vae.requires_grad_(False).eval().to(device)
        #: Image pixels per latent pixel (8 for SDXL's VAE).
        self.vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.alphas_cumprod = self.scheduler.alphas_cumprod.to(device)
        self.prediction_type = self.scheduler.config.prediction_type
        #: The checkpoint's UNet (trainable or frozen, as the command decides).
        self.unet = pipe.unet.to(device)

    def frozen(self) -> dict[str, torch.nn.Module]:
        """The frozen components by name."""
        return {"text_encoder": self.text_encoders[0], "text_encoder_2": self.text_encoders[1], "vae": self.vae}

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str], resolution: int) -> Conditioning:
        """SDXL's text conditioning: penultimate hidden states of both encoders, concatenated,
        and the second encoder's pooled output; size ids for a square ``resolution`` image."""
        states, pooled = [], None
        for tokenizer, encoder in zip(self.tokenizers, self.text_encoders):
            ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids
            out = encoder(ids.to(self.device), output_hidden_states=True)
            states.append(out.hidden_states[-2])
            pooled = out[0]
        time_ids = torch.tensor([resolution, resolution, 0, 0, resolution, resolution], dtype=states[0].dtype, device=self.device)
        return Conditioning(
            torch.cat(states, dim=-1),
            {"text_embeds": pooled, "time_ids": time_ids.repeat(len(prompts), 1)},
        )

    def to_latents(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) sRGB in [0, 1] to (B, 4, H/s, W/s) scaled latents (the distribution's mean;
        s = ``vae_scale``)."""
        latents = self.vae.encode(images.to(self.device, self.vae.dtype) * 2 - 1).latent_dist.mean
        return latents * self.vae.config.scaling_factor

    def to_images(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, 4, h, w) scaled latents to (B, 3, sh, sw) sRGB in [0, 1]."""
        images = self.vae.decode(latents.to(self.vae.dtype) / self.vae.config.scaling_factor).sample
        return ((images.float() + 1) / 2).clamp(0, 1)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """``sqrt(a) x0 + sqrt(1 - a) noise`` with ``a`` the cumulative alpha at each timestep."""
        alpha = self.alphas_cumprod[timesteps].view(-1, 1, 1, 1).to(x0.dtype)
        return alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """What the UNet is trained to predict (epsilon or v, per the scheduler's config)."""
        if self.prediction_type == "v_prediction":
            alpha = self.alphas_cumprod[timesteps].view(-1, 1, 1, 1).to(x0.dtype)
            return alpha.sqrt() * noise - (1 - alpha).sqrt() * x0
        return noise

    def predict_x0(self, unet: torch.nn.Module, noisy: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """The UNet's estimate of the clean latents from ``noisy`` at ``timesteps``."""
        output = unet(noisy, timesteps, encoder_hidden_states=cond.prompt_embeds, added_cond_kwargs=cond.added_cond_kwargs).sample
        return self.x0_from(noisy, timesteps, output)

    def x0_from(self, noisy: torch.Tensor, timesteps: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """The clean latents that a UNet ``output`` (epsilon or v) for ``noisy`` implies."""
        alpha = self.alphas_cumprod[timesteps].view(-1, 1, 1, 1).to(noisy.dtype)
        if self.prediction_type == "v_prediction":
            return alpha.sqrt() * noisy - (1 - alpha).sqrt() * output
        return (noisy - (1 - alpha).sqrt() * output) / alpha.sqrt()
