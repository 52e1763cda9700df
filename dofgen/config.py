"""Every environment variable that the library and the Explore tab read: name, default, meaning.

One place, in the manner of ``huggingface_hub.constants``: modules ask :func:`value` or
:func:`flag` here and never read ``os.environ`` themselves, and ``docs/configuration.md`` is
generated from :data:`VARIABLES` (a test checks it). The study's variables are in
``study.config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TRUE = ("1", "true", "yes")


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, its default (``""``: unset) and what it does."""

    name: str
    default: str
    meaning: str


GENERATOR = Variable(
    "DOFGEN_GENERATOR", "stabilityai/sdxl-turbo",
    "The all-in-focus generator: a diffusers SDXL repository or folder (a folder with `exif_embedding/` gets the Section F.3 "
    "embedding, one with `focus_predictor/` its focus predictor), or `dmd2` for DMD2's 4-step UNet in SDXL base.",
)
SDXL_BASE = Variable("DOFGEN_SDXL_BASE", "stabilityai/stable-diffusion-xl-base-1.0", "With `DOFGEN_GENERATOR=dmd2`: the SDXL base that DMD2's UNet goes into.")
DMD2_UNET = Variable("DOFGEN_DMD2_UNET", "tianweiy/DMD2/dmd2_sdxl_4step_unet_fp16.bin", "With `DOFGEN_GENERATOR=dmd2`: DMD2's 4-step UNet weights (a hub file or a local file).")
DEPTH = Variable(
    "DOFGEN_DEPTH", "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
    "The depth model: a transformers depth-estimation repository or folder. A metric model gives metres; a relative one is "
    "scaled so the median pixel sits at 3 m, and the result says so.",
)
SALIENCY = Variable("DOFGEN_SALIENCY", "CIDAS/clipseg-rd64-refined", "The saliency model (CLIPSeg); `spectral` (or empty) selects spectral residual, which needs no weights.")
FOCUS_PREDICTOR = Variable(
    "DOFGEN_FOCUS_PREDICTOR", "",
    "A trained focus-distance predictor (folder or hub id); unset: the generator folder's `focus_predictor/`, else none; "
    "`saliency` or `none` turns it off (saliency-weighted focus).",
)
ZERO_GPU = Variable(
    "SPACES_ZERO_GPU", "",
    "Set by Hugging Face on a ZeroGPU Space: the models are made and moved to CUDA at import, the lens of slider views runs "
    "on the CPU, and only generation, depth, saliency, sweeps, PNG exports and baselines ask for the GPU.",
)
DEVICE = Variable("DOFGEN_DEVICE", "", "The device models and the lens run on, e.g. `cpu` or `cuda:0`; unset: CUDA when available, else the CPU.")
CAPTIONER = Variable("DOFGEN_CAPTIONER", "Salesforce/blip2-opt-2.7b", "Curation: the captioner for photos without a caption (Section D).")
VALIDITY = Variable("DOFGEN_VALIDITY", "OpenGVLab/InternVL3-1B-hf", "Curation: the vision-language model that checks a candidate is a real photograph.")
BLUR_CLASSIFIER = Variable("DOFGEN_BLUR_CLASSIFIER", "", "Curation: the no/desirable/undesirable blur classifier (train one with `python -m dofgen.curate.train_blur`).")
PAIRS_CAPTIONER = Variable("DOFGEN_PAIRS_CAPTIONER", "OpenGVLab/InternVL3-1B-hf", "`dofgen-evaluate pairs --generate`: the captioner of the f/16 photos (Section B).")
SEGMENTER = Variable("DOFGEN_SEGMENTER", "openmmlab/upernet-convnext-small", "Content Consistency: the semantic-segmentation model (Section F.2).")
FSDP_ON_CPU = Variable("DOFGEN_FSDP_ON_CPU", "", "`1`: the training commands run FSDP on CPU processes too (how CI tests the FSDP config).")
HUB_OFFLINE = Variable("HF_HUB_OFFLINE", "", "`1`: load models from the local cache only (also assumed when the hub's name does not resolve).")
CACHE_MAX_AGE_S = Variable(
    "DOFGEN_CACHE_MAX_AGE_S", "900",
    "Seconds a file stays in Gradio's cache (every picture, video and upload the app handles), checked every minute "
    "(every half of it when shorter); all go when the server stops.",
)
SERVER_NAME = Variable("GRADIO_SERVER_NAME", "0.0.0.0", "The address the app listens on.")
SERVER_PORT = Variable("GRADIO_SERVER_PORT", "", "The port the app listens on; unset: `PORT`, else 7860 or the next free port.")
PORT = Variable("PORT", "", "The port, as some hosts set it, when `GRADIO_SERVER_PORT` is unset.")
WORLD_SIZE = Variable("WORLD_SIZE", "1", "Set by `accelerate launch`: how many processes were launched (checked against accelerate's count).")
USE_FSDP = Variable("ACCELERATE_USE_FSDP", "", "Set by `accelerate launch` with an FSDP config.")
SCREENSHOTS = Variable("DOFGEN_SCREENSHOTS", "", "Tests only: a folder where the browser tests keep their screenshots, to look at them.")

VARIABLES: tuple[Variable, ...] = (
    GENERATOR, SDXL_BASE, DMD2_UNET, DEPTH, SALIENCY, FOCUS_PREDICTOR, ZERO_GPU, DEVICE, CAPTIONER, VALIDITY, BLUR_CLASSIFIER,
    PAIRS_CAPTIONER, SEGMENTER, FSDP_ON_CPU, HUB_OFFLINE, CACHE_MAX_AGE_S, SERVER_NAME, SERVER_PORT, PORT, WORLD_SIZE, USE_FSDP, SCREENSHOTS,
)


def value(variable: Variable, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value as set (an empty value included), else its default."""
    environ = os.environ if environ is None else environ
    return environ.get(variable.name, variable.default)


def is_true(text: object) -> bool:
    """True for ``1``, ``true`` or ``yes`` (any case, spaces around ignored)."""
    return isinstance(text, str) and text.strip().lower() in TRUE


def flag(variable: Variable, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the variable is set to ``1``, ``true`` or ``yes``."""
    return is_true(value(variable, environ))


def markdown(variables: tuple[Variable, ...]) -> str:
    """A Markdown table of ``variables``: name, default, meaning."""
    rows = [f"| `{v.name}` | {f'`{v.default}`' if v.default else 'unset'} | {v.meaning} |" for v in variables]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows]) + "\n"
