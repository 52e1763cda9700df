"""Generator G (Figure A5): a few-step SDXL that makes the all-in-focus image.

Default: SDXL-Turbo (``stabilityai/sdxl-turbo``), a 4-step-capable distilled SDXL that
diffusers loads as one repository. Scheduler: Euler ancestral with trailing timesteps, 4
steps, guidance scale 0 (the distilled model needs no classifier-free guidance). Licence:
Stability AI's non-commercial research community licence (SAI-NC) — fine for a research
Space; set ``DOFGEN_GENERATOR`` to another diffusers SDXL checkpoint (for example a local
folder with SDXL-Lightning's 4-step UNet merged into SDXL base) for other uses. Any diffusers
SDXL checkpoint or folder works; for an undistilled one pass ``steps`` and ``guidance_scale``.

Each model generates at its native size (:meth:`Generator.native_size`): 512x512 for
SDXL-Turbo (trained there; at 1024 it repeats subjects), the UNet's own size (1024x1024)
for SDXL-based models. ``DOFGEN_GENERATOR=dmd2`` loads DMD2's 4-step SDXL UNet (Yin et al.,
NeurIPS 2024: distribution-matching distillation, the recipe of Section F.1; weights
``tianweiy/DMD2``, licence CC BY-NC 4.0 per its model card) into SDXL base (CreativeML Open
RAIL++-M) with the LCM scheduler and its authors' timesteps 999, 749, 499, 249.

The lens adds the blur, so the prompt is steered toward deep depth of field
(:data:`DEEP_DOF_SUFFIX`, and :data:`NEGATIVE_PROMPT` when guidance is on). The study's
baselines instead write the camera into the prompt (``exif_in_prompt=True``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from dofgen import config
from dofgen.camera import CameraSettings
from dofgen.loading import load_or_explain, resolve_device

DEFAULT_GENERATOR = config.GENERATOR.default
DEFAULT_STEPS = 4
DEFAULT_GUIDANCE = 0.0
#: Appended to the prompt for the all-in-focus image.
DEEP_DOF_SUFFIX = ", deep depth of field, everything in sharp focus, f/16"
#: Used when guidance_scale > 1 (classifier-free guidance; a distilled model at 0 ignores it).
NEGATIVE_PROMPT = "bokeh, shallow depth of field, blurry background, defocused, out of focus, tilt-shift"
MAX_PROMPT_CHARS = 2000
MAX_SIDE = 2048
#: Subfolder of a checkpoint that holds a trained ``ExifEmbedding`` (Section F.3).
EXIF_SUBFOLDER = "exif_embedding"
#: The UNet LoRA that ``python -m dofgen.train exif --lora-rank`` trains with the embedding.
LORA_FILE = "pytorch_lora_weights.safetensors"
#: Models trained at 512x512 (by name): SDXL-Turbo.
NATIVE_512 = ("sdxl-turbo",)
#: DMD2 (``DOFGEN_GENERATOR=dmd2``): the SDXL base it was distilled from, its 4-step UNet
#: (a hub "repo/file" or a local file) and the timesteps its authors sample at.
DMD2 = "dmd2"
DMD2_BASE = config.SDXL_BASE.default
DMD2_UNET = config.DMD2_UNET.default
DMD2_TIMESTEPS = (999, 749, 499, 249)

Progress = Callable[[int, int], None]


class PromptTruncatedWarning(UserWarning):
    """The prompt is longer than the text encoders take; the rest is cut off."""


def camera_text(camera: CameraSettings) -> str:
    """The camera as prompt text, e.g. "shot at f/2.8, 50mm"."""
    return f"shot at f/{float(camera.f_number):g}, {float(camera.focal_length_mm):g}mm"


def check_size(width: int, height: int) -> None:
    """Raise ``ValueError`` unless both sides are multiples of 8 from 64 to 2048."""
    for name, side in (("width", width), ("height", height)):
        if not isinstance(side, int) or side % 8 or not 64 <= side <= MAX_SIDE:
            raise ValueError(f"{name}={side!r} must be a multiple of 8 from 64 to {MAX_SIDE}")


class Generator:
    """Wraps a diffusers SDXL pipeline; ``generate`` returns the all-in-focus image."""

    def __init__(
        self, pipe, steps: int = DEFAULT_STEPS, guidance_scale: float = DEFAULT_GUIDANCE, exif_embedding=None,
        native_side: int | None = None, timesteps: tuple[int, ...] | None = None,
    ) -> None:
        self.pipe = pipe
        self.steps = len(timesteps) if timesteps else steps
        self.guidance_scale = guidance_scale
        self.exif_embedding = exif_embedding
        self.timesteps = list(timesteps) if timesteps else None
        unet_side = int(pipe.unet.config.sample_size) * int(getattr(pipe, "vae_scale_factor", 8))
        self.native_side = native_side or min(MAX_SIDE, max(64, unet_side // 8 * 8))

    def native_size(self) -> dict[str, int]:
        """``width`` and ``height`` the model was trained at (square)."""
        return {"width": self.native_side, "height": self.native_side}

    @classmethod
    def from_pretrained(
        cls,
        model_id_or_path: str = DEFAULT_GENERATOR,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        steps: int = DEFAULT_STEPS,
        guidance_scale: float = DEFAULT_GUIDANCE,
    ) -> "Generator":
        """Load an SDXL pipeline (hub id or folder) and, when its folder has them, its EXIF
        embedding and the UNet LoRA trained with it.

        Raises:
            RuntimeError: the model cannot be loaded; says what to set.
        """
        from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionXLPipeline

        from dofgen.exif_embedding import ExifEmbedding

        device = resolve_device(device)
        dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
        pipe = load_or_explain(
            "generator", model_id_or_path, "DOFGEN_GENERATOR",
            "a local folder with a diffusers SDXL pipeline (model_index.json, unet, vae, text_encoder(_2), tokenizer(_2), scheduler)",
            lambda offline: StableDiffusionXLPipeline.from_pretrained(model_id_or_path, dtype=dtype, local_files_only=offline),
        )
        pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config, timestep_spacing="trailing")
        pipe.set_progress_bar_config(disable=True)
        exif = None
        if Path(model_id_or_path, EXIF_SUBFOLDER).is_dir():
            exif = ExifEmbedding.from_pretrained(Path(model_id_or_path, EXIF_SUBFOLDER)).to(device=device, dtype=dtype)
            exif.attach(pipe.unet)
        if Path(model_id_or_path, LORA_FILE).is_file():  # trained with the embedding (dofgen.train exif --lora-rank)
            pipe.load_lora_weights(str(model_id_or_path), weight_name=LORA_FILE)
        native = 512 if any(name in str(model_id_or_path).lower() for name in NATIVE_512) else None
        return cls(pipe.to(device), steps, guidance_scale, exif, native_side=native)

    @classmethod
    def from_dmd2(
        cls,
        base: str = DMD2_BASE,
        unet_file: str = DMD2_UNET,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> "Generator":
        """DMD2's 4-step SDXL UNet (a state dict file, local or "repo/file" on the hub)
        loaded into ``base``'s UNet, with the LCM scheduler and DMD2's timesteps.

        Raises:
            RuntimeError: the base or the UNet file cannot be loaded; says what to set.
        """
        from diffusers import LCMScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

        device = resolve_device(device)
        dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)

        def load(offline: bool):
            path = Path(unet_file)
            if not path.is_file():
                from huggingface_hub import hf_hub_download

                repo, _, name = unet_file.rpartition("/")
                path = Path(hf_hub_download(repo, name, local_files_only=offline))
            config = UNet2DConditionModel.load_config(base, subfolder="unet", local_files_only=offline)
            unet = UNet2DConditionModel.from_config(config)
            unet.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return StableDiffusionXLPipeline.from_pretrained(base, unet=unet.to(dtype), dtype=dtype, local_files_only=offline)

        pipe = load_or_explain(
            "generator", f"{base} + {unet_file}", "DOFGEN_SDXL_BASE and DOFGEN_DMD2_UNET",
            "a local SDXL base folder and DMD2's UNet file", lambda offline: load(offline and not Path(base).is_dir()),
        )
        pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe.to(device), guidance_scale=0.0, timesteps=DMD2_TIMESTEPS)

    def prompt_notes(self, prompt: str) -> list[str]:
        """Problems with ``prompt`` worth telling the user (today: truncation)."""
        tokens = self.pipe.tokenizer(prompt, truncation=False)["input_ids"]
        limit = self.pipe.tokenizer.model_max_length
        if len(tokens) > limit:
            return [f"the prompt is {len(tokens)} tokens; the text encoders take {limit}, so the end is cut off"]
        return []

    def generate(
        self,
        prompt: str,
        seed: int = 0,
        camera: CameraSettings | None = None,
        width: int = 1024,
        height: int = 1024,
        steps: int | None = None,
        *,
        exif_in_prompt: bool = False,
        deep_dof: bool = True,
        progress: Progress | None = None,
    ) -> Image.Image:
        """The image for ``prompt``: all in focus, or (``exif_in_prompt``) as the camera says;
        ``deep_dof=False`` sends the prompt as it is (the study's plain-prompt baselines).

        Same prompt, seed and settings give the same image.
        """
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty; describe the picture you want")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt is {len(prompt)} characters; keep it under {MAX_PROMPT_CHARS}")
        check_size(width, height)
        steps = steps or self.steps
        if exif_in_prompt:
            if camera is None:
                raise ValueError("exif_in_prompt needs a camera")
            text = f"{prompt.strip()}, {camera_text(camera)}"
        else:
            text = prompt.strip() + (DEEP_DOF_SUFFIX if deep_dof else "")
        for note in self.prompt_notes(text):
            warnings.warn(note, PromptTruncatedWarning, stacklevel=2)
        if self.exif_embedding is not None:
            chosen = camera or CameraSettings(16.0, 50.0, 3.0)
            self.exif_embedding.set_camera(chosen.f_number, chosen.focal_length_mm)
        generator = torch.Generator(device="cpu").manual_seed(int(seed))  # same noise on any device

        def on_step(pipe, step: int, timestep, callback_kwargs: dict) -> dict:
            if progress:
                progress(step + 1, steps)
            return callback_kwargs

        output = self.pipe(
            prompt=text,
            negative_prompt=NEGATIVE_PROMPT if (self.guidance_scale > 1 and deep_dof and not exif_in_prompt) else None,
            num_inference_steps=steps,
            guidance_scale=self.guidance_scale,
            timesteps=self.timesteps,
            width=width,
            height=height,
            generator=generator,
            callback_on_step_end=on_step,
            output_type="pil",
        )
        return output.images[0]


def model_id_from_env() -> str:
    """The generator to load: DOFGEN_GENERATOR, or the default."""
    return config.value(config.GENERATOR)


def load_from_env(model_id_or_path: str | None = None, device: str | torch.device | None = None) -> Generator:
    """The configured generator: ``model_id_or_path`` or DOFGEN_GENERATOR; ``dmd2`` loads
    DMD2 into DOFGEN_SDXL_BASE with DOFGEN_DMD2_UNET (defaults: the authors' files)."""
    choice = model_id_or_path or model_id_from_env()
    if choice.strip().lower() == DMD2:
        return Generator.from_dmd2(config.value(config.SDXL_BASE), config.value(config.DMD2_UNET), device)
    return Generator.from_pretrained(choice, device=device)
