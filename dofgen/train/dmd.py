"""``python -m dofgen.train dmd``: Section F.1's distillation, DMD2-style, with the lens in the loop.

A few-step generator G (a copy of the SDXL UNet of ``--model``) is distilled over 4 steps
with distribution matching (DMD2, Yin et al. 2024): the gradient of a Deep or Shallow step
is the difference between a fake score (``μ_fake``, a trained copy of the UNet that follows
G's outputs) and the real score (``μ_real``, the frozen UNet with classifier-free guidance 8),
and, DMD2's GAN term, a classifier on ``μ_fake``'s middle features that tells G's outputs from
the dataset's photos.

* **Deep** steps match G's all-in-focus image x to the Deep DoF data.
* **Shallow** steps render x̂ = lens(x, D, F, EXIF) — D from the depth model, F from the
  focus-distance predictor, the f-number and focal length of a Shallow DoF row — and match x̂
  to the Shallow DoF data.
* ``μ_fake`` is updated ``--fake-updates`` (5) times per G update; G's updates alternate
  Deep and Shallow (``--dof deep`` is F.1's first stage, Deep only).
* The focus predictor is trained every iteration with a Huber loss (weight λ3 = 200).

Every hyper-parameter of F.1 is a flag with the paper's value as its default; where the
seed is silent, the choice is documented in ``docs/training.md``. Writes ``OUT/unet/`` (G),
``OUT/focus_predictor/``, and with ``--export-pipeline`` a whole SDXL folder ``OUT/pipeline/``
that ``Generator.from_pretrained`` and ``DefocusPipeline.from_pretrained`` load (its
``focus_predictor/`` then replaces saliency-weighted focus).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dofgen.camera import CameraSettings
from dofgen.depth import DEFAULT_DEPTH_MODEL, DepthEstimator
from dofgen.focus_predictor import FOCUS_SUBFOLDER, INPUTS, FocusPredictor, focus_loss
from dofgen.generator import DEEP_DOF_SUFFIX, camera_text
from dofgen.train.data import Batch, Rows, draw, load_rows
from dofgen.train.defocus import depth_of, lens, saliency_focus
from dofgen.train.accelerate_run import Run, adamw, add_run_flags, check_run_flags
from dofgen.train.sdxl import Conditioning, SDXLParts

KINDS = ("deep", "shallow")
#: Random streams within one step (integers: see ``dofgen.train.data.draw``).
GENERATOR_STREAM, SCORE_STREAM = 1000, 2000
#: A focus distance for cameras that only name their aperture and focal length.
FAR_M = 100.0


class FakeScore(nn.Module):
    """``μ_fake``: a UNet, and per kind a small classifier on its middle-block features (DMD2's GAN)."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet
        channels = unet.config.block_out_channels[-1]
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        self.heads = nn.ModuleDict({
            kind: nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, 1, 1))
            for kind in KINDS
        })
        self._features: torch.Tensor | None = None
        unet.mid_block.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, inputs, output: torch.Tensor) -> None:
        self._features = output

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, cond: Conditioning, kind: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The UNet's output for (B, 4, h, w) ``noisy``, and with ``kind`` the (B,) real-vs-generated logits."""
        output = self.unet(noisy, timesteps, encoder_hidden_states=cond.prompt_embeds, added_cond_kwargs=cond.added_cond_kwargs).sample
        logits = self.heads[kind](self._features.float()).mean(dim=(1, 2, 3)) if kind else None
        self._features = None
        return output, logits


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deep", type=Path, required=True, help="Deep DoF dataset folder (dofgen.curate's OUT/deep).")
    parser.add_argument("--shallow", type=Path, help="Shallow DoF dataset folder (OUT/shallow); needed unless --dof deep.")
    parser.add_argument("--dof", choices=("alternate", "deep", "shallow"), default="alternate",
                        help="Which data G's updates use: alternate (F.1's full setup), deep (F.1's first stage) or shallow only.")
    parser.add_argument("--generator-init", type=Path, help="A UNet folder to start G from, e.g. the first stage's OUT/unet (default: --model's UNet).")
    parser.add_argument("--depth-model", default=DEFAULT_DEPTH_MODEL, help="Transformers depth model (the paper used Metric3Dv2).")
    parser.add_argument("--focus-init", type=Path, help="A focus_predictor folder to start from (default: a new predictor).")
    parser.add_argument("--focus-inputs", choices=INPUTS, default="rgbd", help="What a new focus predictor sees: the image and its depth, or the image only.")
    parser.add_argument("--focus-learning-rate", type=float, default=1e-4, help="AdamW learning rate of the focus predictor (our choice; the paper gives none).")
    parser.add_argument("--huber-delta", type=float, default=0.1, help="Delta of the focus Huber loss, on log metres (our choice; the paper gives none).")
    parser.add_argument("--guidance-scale", type=float, default=8.0, help="Classifier-free guidance of μ_real (F.1 used 8).")
    parser.add_argument("--fake-updates", type=int, default=5, help="μ_fake updates per G update (F.1 used 5).")
    parser.add_argument("--lambda-deep", type=float, default=1.0, help="λ1, the weight of the Deep steps' distribution-matching loss (F.1 used 1).")
    parser.add_argument("--lambda-shallow", type=float, default=1.0, help="λ2, the weight of the Shallow steps' distribution-matching loss (F.1 used 1).")
    parser.add_argument("--lambda-focus", type=float, default=200.0, help="λ3, the weight of the focus Huber loss (F.1 used 200).")
    parser.add_argument("--gan-weight", type=float, default=5e-3, help="Weight of G's GAN loss, 0 for none (DMD2's SDXL value).")
    parser.add_argument("--gan-fake-weight", type=float, default=1e-2, help="Weight of the classifier's GAN loss in μ_fake's updates (DMD2's SDXL value).")
    parser.add_argument("--denoising-timesteps", type=int, nargs="+", default=[999, 749, 499, 249], help="G's denoising timesteps, decreasing (F.1 distils to 4 steps).")
    parser.add_argument("--min-timestep", type=int, default=20, help="Distribution-matching timesteps are drawn from [min, max] (DMD2 uses 2%% to 98%%).")
    parser.add_argument("--max-timestep", type=int, default=980, help="Upper end of the distribution-matching timesteps.")
    parser.add_argument("--export-pipeline", action="store_true", help="Also write OUT/pipeline: the SDXL folder with G and the focus predictor.")
    add_run_flags(parser)


def check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    check_run_flags(parser, args)
    if args.dof != "deep" and args.shallow is None:
        parser.error(f"--dof {args.dof} needs --shallow")
    if args.fake_updates < 1:
        parser.error("--fake-updates must be at least 1")
    if not 0 <= args.min_timestep < args.max_timestep:
        parser.error("--min-timestep must be at least 0 and below --max-timestep")
    if sorted(args.denoising_timesteps, reverse=True) != args.denoising_timesteps or len(set(args.denoising_timesteps)) != len(args.denoising_timesteps):
        parser.error("--denoising-timesteps must decrease strictly")


def kind_of_step(step: int, dof: str) -> str:
    """The data of G's update number ``step``: Deep and Shallow alternate, Deep first."""
    return dof if dof != "alternate" else KINDS[step % 2]


def dm_loss(latents: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """DMD's distribution-matching loss: its gradient with respect to (B, 4, h, w) ``latents``
    is ``(fake - real) / mean|latents - real|`` (the two scores' clean-image estimates)."""
    with torch.no_grad():
        scale = (latents - real).abs().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-6)
        gradient = torch.nan_to_num((fake - real) / scale)
    return 0.5 * F.mse_loss(latents.float(), (latents - gradient).detach().float())


class Distillation:
    """The models, the data and one iteration of F.1's loop."""

    def __init__(self, args: argparse.Namespace, run: Run) -> None:
        self.args, self.run = args, run
        parts = self.parts = SDXLParts(args.model, run.device)
        self.rows = {"deep": Rows(load_rows(args.deep), args.resolution, args.batch_size, args.seed)}
        if args.shallow is not None:
            self.rows["shallow"] = Rows(load_rows(args.shallow), args.resolution, args.batch_size, args.seed + 1)
        self.real = parts.unet.requires_grad_(False).eval()
        if args.generator_init:
            from diffusers import UNet2DConditionModel

            generator = UNet2DConditionModel.from_pretrained(args.generator_init).to(run.device)
        else:
            generator = copy.deepcopy(self.real)
        self.generator = generator.requires_grad_(True).train()
        self.fake = FakeScore(copy.deepcopy(self.real).requires_grad_(True)).train()
        self.depth = DepthEstimator.from_pretrained(args.depth_model, device=run.device)
        self.depth.model.requires_grad_(False)
        focus = FocusPredictor.from_pretrained(args.focus_init) if args.focus_init else FocusPredictor(inputs=args.focus_inputs)
        self.focus = focus.to(run.device).requires_grad_(True).train()
        for name, module, trainable in [("generator", self.generator, True), ("fake_score", self.fake, True), ("focus_predictor", self.focus, True),
                                        ("real_score", self.real, False), ("depth_model", self.depth.model, False), *((n, m, False) for n, m in parts.frozen().items())]:
            run.watch(name, module, trainable)
        prepare = run.prepare
        self.generator, self.generator_opt = prepare(self.generator, adamw(args, self.generator.parameters()))
        self.fake, self.fake_opt = prepare(self.fake, adamw(args, self.fake.parameters()))
        self.focus, self.focus_opt = prepare(self.focus, adamw(args, self.focus.parameters(), args.focus_learning_rate))
        self.uncond = parts.encode_prompts([""] * args.batch_size, args.resolution)

    def _noise(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.randn(shape, generator=generator).to(self.run.device)

    def generate(self, batch: Batch, generator: torch.Generator, grad: bool) -> torch.Tensor:
        """G's all-in-focus latents (B, 4, h, w), from a random one of its denoising steps,
        reached by running G's own earlier steps (DMD2's backward simulation)."""
        steps = self.args.denoising_timesteps
        cond = self.parts.encode_prompts([p + DEEP_DOF_SUFFIX for p in batch.prompts], self.args.resolution)
        side = self.args.resolution // self.parts.vae_scale
        shape = (len(batch.prompts), self.parts.unet.config.in_channels, side, side)
        last = int(torch.randint(len(steps), (1,), generator=generator))
        latents = self._noise(shape, generator)
        with torch.no_grad():
            for index in range(last):
                timestep = torch.full((shape[0],), steps[index], device=self.run.device)
                x0 = self.parts.predict_x0(self.generator, latents, timestep, cond)
                latents = self.parts.add_noise(x0, self._noise(shape, generator), torch.full_like(timestep, steps[index + 1]))
        with torch.set_grad_enabled(grad):
            return self.parts.predict_x0(self.generator, latents, torch.full((shape[0],), steps[last], device=self.run.device), cond)

    def score_conditioning(self, batch: Batch, kind: str) -> Conditioning:
        """The scores' text: the prompt with "deep depth of field" (Deep), or with the row's
        camera, e.g. "shot at f/1.8, 50mm" (Shallow)."""
        if kind == "deep":
            texts = [p + DEEP_DOF_SUFFIX for p in batch.prompts]
        else:
            cameras = [CameraSettings(n, f, FAR_M) for n, f in zip(batch.f_number.tolist(), batch.focal_length_mm.tolist())]
            texts = [f"{p}, {camera_text(camera)}" for p, camera in zip(batch.prompts, cameras)]
        return self.parts.encode_prompts(texts, self.args.resolution)

    def shallow(self, images: torch.Tensor, batch: Batch, depth: torch.Tensor, focus_m: torch.Tensor) -> torch.Tensor:
        """x̂'s latents: the lens on (B, 3, H, W) ``images`` with the row's EXIF and ``focus_m``."""
        return self.parts.to_latents(lens(images, depth, batch.f_number, batch.focal_length_mm, focus_m.detach()))

    def _timesteps(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(self.args.min_timestep, self.args.max_timestep + 1, (count,), generator=generator).to(self.run.device)

    def fake_update(self, step: int, kind: str, index: int) -> torch.Tensor:
        """One ``μ_fake`` update: denoise G's (detached) outputs; classify them against photos."""
        args, parts = self.args, self.parts
        batch = self.rows[kind].batch(step, self.run.rank, stream=index + 1)
        generator = draw(args.seed, step, self.run.rank, SCORE_STREAM + index)
        with torch.no_grad():
            latents = self.generate(batch, generator, grad=False)
            if kind == "shallow":
                images = parts.to_images(latents)
                depth = depth_of(self.depth, images)
                latents = self.shallow(images, batch, depth, self.focus(images, depth))
            photos = parts.to_latents(batch.images)
        count = latents.shape[0]
        noise = self._noise((2 * count, *latents.shape[1:]), generator)
        timesteps = self._timesteps(2 * count, generator)
        cond = self.score_conditioning(batch, kind)
        both = cond.cat(cond)
        output, logits = self.fake(parts.add_noise(torch.cat([latents, photos]), noise, timesteps), timesteps, both, kind if args.gan_fake_weight else None)
        loss = F.mse_loss(output[:count].float(), parts.target(latents, noise[:count], timesteps[:count]).float())
        if logits is not None:
            loss = loss + args.gan_fake_weight * (F.softplus(logits[:count]).mean() + F.softplus(-logits[count:]).mean())
        self.run.accelerator.backward(loss)
        self.fake_opt.step()
        self.fake_opt.zero_grad(set_to_none=True)
        return loss.detach()

    def generator_update(self, step: int, kind: str) -> dict[str, torch.Tensor]:
        """One update of G (distribution matching, GAN) and of the focus predictor (Huber)."""
        args, parts = self.args, self.parts
        batch = self.rows[kind].batch(step, self.run.rank, stream=0)
        generator = draw(args.seed, step, self.run.rank, GENERATOR_STREAM)
        latents = self.generate(batch, generator, grad=True)
        with torch.set_grad_enabled(kind == "shallow"):
            images = parts.to_images(latents)
        depth = depth_of(self.depth, images.detach())
        focus_m = self.focus(images.detach(), depth)
        huber = focus_loss(focus_m, saliency_focus(images.detach(), depth), args.huber_delta)
        if kind == "shallow":
            latents = self.shallow(images, batch, depth, focus_m)
        noisy = parts.add_noise(latents, self._noise(latents.shape, generator), timesteps := self._timesteps(latents.shape[0], generator))
        cond = self.score_conditioning(batch, kind)
        with torch.no_grad():
            both = parts.predict_x0(self.real, torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), self.uncond.cat(cond))
            uncond, text = both.chunk(2)
            real = uncond + args.guidance_scale * (text - uncond)
            fake_output, _ = self.fake(noisy, timesteps, cond)
            fake = parts.x0_from(noisy, timesteps, fake_output)
        dm = dm_loss(latents, real, fake)
        losses = {f"loss/dm_{kind}": dm, "loss/focus_huber": huber}
        loss = (args.lambda_deep if kind == "deep" else args.lambda_shallow) * dm + args.lambda_focus * huber
        if args.gan_weight:
            _, logits = self.fake(noisy, timesteps, cond, kind)
            gan = F.softplus(-logits).mean()
            losses[f"loss/gan_{kind}"] = gan
            loss = loss + args.gan_weight * gan
        self.run.accelerator.backward(loss)
        self.generator_opt.step()
        self.focus_opt.step()
        for optimizer in (self.generator_opt, self.focus_opt, self.fake_opt):  # μ_fake's GAN gradients are G's, not its own
            optimizer.zero_grad(set_to_none=True)
        return losses

    def iteration(self, step: int) -> dict[str, torch.Tensor]:
        """``--fake-updates`` updates of ``μ_fake``, then one of G and the focus predictor."""
        kind = kind_of_step(step, self.args.dof)
        fake_losses = [self.fake_update(step, kind, index) for index in range(self.args.fake_updates)]
        return {"loss/fake_score": torch.stack(fake_losses).mean(), **self.generator_update(step, kind)}


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    check_flags(parser, args)
    run = Run(args, "dmd")
    loop = Distillation(args, run)
    for step in range(run.begin(), args.max_steps):
        run.log(step + 1, loop.iteration(step))
        run.after_step(step + 1)

    def save() -> None:
        run.save_model(loop.generator, args.output_dir / "unet")
        run.save_model(loop.focus, args.output_dir / FOCUS_SUBFOLDER)
        if args.export_pipeline and run.accelerator.is_main_process:
            from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

            unet = UNet2DConditionModel.from_pretrained(args.output_dir / "unet")
            pipeline = StableDiffusionXLPipeline.from_pretrained(args.model, unet=unet)
            pipeline.save_pretrained(args.output_dir / "pipeline")
            FocusPredictor.from_pretrained(args.output_dir / FOCUS_SUBFOLDER).save_pretrained(args.output_dir / "pipeline" / FOCUS_SUBFOLDER)
        run.accelerator.wait_for_everyone()

    run.finish(save)
    return 0
