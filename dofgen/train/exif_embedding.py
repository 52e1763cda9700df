"""``python -m dofgen.train exif``: Section F.3's EXIF embedding (and optionally LoRA) on SDXL.

The "4-step SDXL (Distilled)" baseline: the UNet of ``--model`` stays frozen; an
:class:`~dofgen.exif_embedding.ExifEmbedding` (sinusoids of aperture and focal length, two
projection layers, added to the timestep embedding) learns, with the UNet's own denoising
loss, to steer the image by the photo's EXIF. ``--lora-rank R`` also trains LoRA adapters
(peft) on the UNet's attention projections.

Writes ``OUT/exif_embedding/``, the folder ``Generator.from_pretrained`` picks up when it
sits inside the checkpoint folder (``--output-dir`` may be that folder), and with LoRA
``OUT/pytorch_lora_weights.safetensors`` (``pipe.load_lora_weights(OUT)``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from datasets import concatenate_datasets
from torch import nn

from dofgen.exif_embedding import ExifEmbedding
from dofgen.generator import EXIF_SUBFOLDER
from dofgen.train.data import Rows, draw, load_rows
from dofgen.train.accelerate_run import Run, adamw, add_run_flags, check_run_flags
from dofgen.train.sdxl import Conditioning, SDXLParts

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
NOISE_STREAM = 1


class ExifUNet(nn.Module):
    """A UNet with an EXIF embedding on its timestep embedding: one module for ``accelerate``."""

    def __init__(self, unet: nn.Module, exif: ExifEmbedding) -> None:
        super().__init__()
        self.unet, self.exif = unet, exif
        exif.attach(unet)

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning, f_number: torch.Tensor, focal_length_mm: torch.Tensor) -> torch.Tensor:
        """The UNet's prediction for (B, 4, h, w) ``noisy`` latents with (B,) EXIF values."""
        self.exif.set_camera(f_number, focal_length_mm)
        return self.unet(noisy, timesteps, encoder_hidden_states=cond.prompt_embeds, added_cond_kwargs=cond.added_cond_kwargs).sample


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="Dataset folders (e.g. dofgen.curate's OUT/deep OUT/shallow).")
    parser.add_argument("--lora-rank", type=int, default=0, help="Also train LoRA of this rank on the UNet; 0 is off (LoRA needs peft).")
    parser.add_argument("--init-exif", type=Path, help="An exif_embedding folder to continue from (default: the model's, else a new embedding).")
    parser.add_argument("--frequency-dim", type=int, default=128, help="Sinusoidal channels per EXIF value of a new embedding.")
    parser.add_argument("--hidden-dim", type=int, default=512, help="Width of the first projection layer of a new embedding.")
    add_run_flags(parser)
    # F.3 gives no optimiser; F.1's 5e-7 is for distilling a trained UNet, too small for a new module
    parser.set_defaults(learning_rate=1e-4, max_steps=20000)


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    check_run_flags(parser, args)
    if args.lora_rank < 0:
        parser.error("--lora-rank must be 0 or more")
    run = Run(args, "exif")
    parts = SDXLParts(args.model, run.device)
    rows = Rows(concatenate_datasets([load_rows(path) for path in args.data]), args.resolution, args.batch_size, args.seed)
    unet = parts.unet.requires_grad_(False)
    init = args.init_exif or (Path(args.model) / EXIF_SUBFOLDER if (Path(args.model) / EXIF_SUBFOLDER).is_dir() else None)
    exif = ExifEmbedding.from_pretrained(init) if init else ExifEmbedding(unet.time_embedding.linear_2.out_features, args.frequency_dim, args.hidden_dim)
    exif.requires_grad_(True)
    if args.lora_rank:
        try:
            from peft import LoraConfig
        except ImportError:
            parser.error("--lora-rank needs peft: pip install peft")
        unet.add_adapter(LoraConfig(r=args.lora_rank, lora_alpha=args.lora_rank, init_lora_weights="gaussian", target_modules=LORA_TARGETS))
    model = ExifUNet(unet, exif.to(run.device)).to(run.device)
    optimizer = adamw(args, [p for p in model.parameters() if p.requires_grad])
    run.watch("exif_embedding", exif, True)
    run.watch("unet", lambda: (p for n, p in unet.named_parameters() if "lora" not in n), False)
    if args.lora_rank:
        run.watch("unet_lora", lambda: (p for n, p in unet.named_parameters() if "lora" in n), True)
    for name, module in parts.frozen().items():
        run.watch(name, module, False)
    model, optimizer = run.prepare(model, optimizer)
    run.accelerator.print(f"exif: {len(rows)} rows, {sum(p.numel() for p in optimizer.param_groups[0]['params'])} trainable weights")

    for step in range(run.begin(), args.max_steps):
        batch = rows.batch(step, run.rank)
        cond = parts.encode_prompts(batch.prompts, args.resolution)
        with torch.no_grad():
            x0 = parts.to_latents(batch.images)
        generator = draw(args.seed, step, run.rank, NOISE_STREAM)
        noise = torch.randn(x0.shape, generator=generator).to(x0)
        timesteps = torch.randint(0, parts.scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator).to(run.device)
        prediction = model(parts.add_noise(x0, noise, timesteps), timesteps, cond, batch.f_number, batch.focal_length_mm)
        loss = F.mse_loss(prediction.float(), parts.target(x0, noise, timesteps).float())
        run.accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        run.log(step + 1, {"loss/denoise": loss})
        run.after_step(step + 1)

    def save() -> None:
        state = run.accelerator.get_state_dict(model)
        if run.accelerator.is_main_process:
            trained = run.accelerator.unwrap_model(model)
            # a fresh module gets the gathered weights: under FSDP the trained one holds shards
            exif_out = ExifEmbedding(**{k: v for k, v in trained.exif.config.items() if not k.startswith("_")})
            exif_out.load_state_dict({k.removeprefix("exif."): v for k, v in state.items() if k.startswith("exif.")})
            exif_out.save_pretrained(args.output_dir / EXIF_SUBFOLDER)
            if args.lora_rank:
                _save_lora(trained.unet, {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.") and "lora" in k}, args.output_dir)
        run.accelerator.wait_for_everyone()

    run.finish(save)
    return 0


def _save_lora(unet: nn.Module, lora_state: dict[str, torch.Tensor], folder: Path) -> None:
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, state_dict=lora_state))
    StableDiffusionXLPipeline.save_lora_weights(folder, unet_lora_layers=layers)
