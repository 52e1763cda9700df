"""``python -m study.build --prompts FILE --methods ... --out DIR``: the study's stimuli.

For each prompt and each method that can run here, an aperture-sweep video over the study
stops, then the manifest. How each method is made (design notes):

| method | how |
|---|---|
| ours | the distilled generator's all-in-focus image, depth, focus (its trained predictor when the checkpoint has ``focus_predictor/``, else saliency), our layered lens |
| deepdof_taf | the same all-in-focus scene through the TAF lens |
| sdxl_taf | one SDXL image (plain prompt) through the TAF lens |
| sdxl_exif_fixed_drbokeh | one SDXL image with the camera fixed in the prompt (f/16) through the Dr.Bokeh lens, saliency as matte |
| sdxl | SDXL regenerated for every stop with the camera in the prompt, same seed |
| sdxl_distilled | the distilled generator regenerated for every stop (EXIF embedding when the checkpoint has one, else the camera in the prompt) |
| camera_tokens | external (Fang et al. 2024): imported from ``--import-dir/<prompt_id>.mp4`` |

A method whose model cannot load is skipped with one line. Finished videos are kept
(resumable: a rerun renders only what is missing). Scale-out: under ``accelerate launch``
(GPUs, nodes, or ``--cpu --num_processes N``) the prompts are split between the processes
with ``PartialState.split_between_processes``, each on its own device; ``--shard i/n`` takes
every n-th prompt from the i-th first, for independent launches. Seconds per video and
videos done go to the ``accelerate`` trackers (``--report-to``, TensorBoard in ``OUT/logs``).
The main process writes the manifest once every process is done.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from dofgen.camera import STUDY_STOPS, CameraSettings
from study import BASELINES, OURS

METHODS = (OURS, *BASELINES)
LENS_OF = {OURS: "layered", "deepdof_taf": "taf", "sdxl_taf": "taf", "sdxl_exif_fixed_drbokeh": "drbokeh"}
FIXED_EXIF = CameraSettings(16.0, 50.0, 3.0)


def read_prompts(path: str | Path) -> list[tuple[str, str]]:
    """(prompt_id, prompt) per non-empty, non-comment line: ``id<TAB>prompt`` or a bare
    prompt (numbered p01, p02, ...)."""
    prompts = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" in line:
            prompt_id, prompt = (part.strip() for part in line.split("\t", 1))
        else:
            prompt_id, prompt = f"p{len(prompts) + 1:02d}", line.strip()
        if not prompt_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"prompt id {prompt_id!r} must be letters, digits, '-' or '_'")
        prompts.append((prompt_id, prompt))
    if len({p for p, _ in prompts}) != len(prompts):
        raise ValueError("prompt ids must be unique")
    return prompts


class Components:
    """Models loaded on first need; a failure is remembered and reported once per method."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._cache: dict[str, object] = {}

    def get(self, name: str, load: Callable[[], object]) -> object:
        if name not in self._cache:
            try:
                self._cache[name] = load()
            except RuntimeError as error:
                self._cache[name] = error
        value = self._cache[name]
        if isinstance(value, Exception):
            raise value
        return value

    def distilled(self):
        from dofgen.generator import Generator, model_id_from_env

        return self.get("distilled", lambda: Generator.from_pretrained(self.args.generator or model_id_from_env(), device=self.args.device))

    def sdxl(self):
        from dofgen.generator import Generator

        return self.get("sdxl", lambda: Generator.from_pretrained(self.args.sdxl, device=self.args.device, steps=self.args.sdxl_steps, guidance_scale=self.args.sdxl_guidance))

    def pipeline(self, generator, trained_focus: bool = False):
        """The pipeline around ``generator``; with ``trained_focus``, the distilled checkpoint's
        focus predictor when it has one."""
        from dofgen.depth import DepthEstimator, model_id_from_env
        from dofgen.focus_predictor import find_focus_predictor
        from dofgen.generator import model_id_from_env as generator_id_from_env
        from dofgen.pipeline import DefocusPipeline
        from dofgen.saliency import load_saliency

        depth = self.get("depth", lambda: DepthEstimator.from_pretrained(self.args.depth_model or model_id_from_env(), device=self.args.device))
        saliency = self.get("saliency", lambda: load_saliency(self.args.saliency))
        focus = None
        if trained_focus:
            focus = self.get("focus_predictor", lambda: find_focus_predictor(self.args.generator or generator_id_from_env(), self.args.device))
        return DefocusPipeline(generator, depth, saliency, device=self.args.device, focus_predictor=focus)


def _held(images: list[Image.Image], frames_per_stop: int) -> list[Image.Image]:
    """One image per stop, each held for ``frames_per_stop`` frames (the last once)."""
    return [image for image in images[:-1] for _ in range(frames_per_stop)] + images[-1:]


def render_method(method: str, prompt: str, args: argparse.Namespace, parts: Components, scenes: dict) -> list[Image.Image]:
    """The frames of one method's sweep for one prompt (scenes are shared between methods)."""
    from dofgen.video import aperture_sweep

    camera = CameraSettings(STUDY_STOPS[0], args.focal_length, 3.0)
    size = dict(width=args.width, height=args.height)
    if method in (OURS, "deepdof_taf"):
        if "deepdof" not in scenes:
            scenes["deepdof"] = parts.pipeline(parts.distilled(), trained_focus=True)(prompt, camera, seed=args.seed, **size)
        return aperture_sweep(scenes["deepdof"], STUDY_STOPS, args.frames_per_stop, method=LENS_OF[method])
    if method in ("sdxl_taf", "sdxl_exif_fixed_drbokeh"):
        pipe = parts.pipeline(None)
        generator = parts.sdxl()
        if method == "sdxl_taf":
            image = generator.generate(prompt, args.seed, **size, deep_dof=False)
        else:
            image = generator.generate(prompt, args.seed, FIXED_EXIF, **size, exif_in_prompt=True)
        result = pipe.from_image(image, camera=camera)
        matte = result.saliency if method == "sdxl_exif_fixed_drbokeh" else None
        return aperture_sweep(result, STUDY_STOPS, args.frames_per_stop, method=LENS_OF[method], matte=matte)
    generator = parts.sdxl() if method == "sdxl" else parts.distilled()
    in_prompt = method == "sdxl" or generator.exif_embedding is None
    images = [generator.generate(prompt, args.seed, camera.replace(f_number=n), **size, exif_in_prompt=in_prompt) for n in STUDY_STOPS]
    return _held(images, args.frames_per_stop)


def write_manifest(out: Path, prompts: list[tuple[str, str]], frames_per_stop: int, seed: int) -> Path:
    """The manifest of every finished video in ``out/videos`` (written atomically)."""
    rows = []
    for prompt_id, prompt in prompts:
        for method in METHODS:
            video = out / "videos" / f"{prompt_id}-{method}.mp4"
            if video.is_file() and video.stat().st_size > 0:
                per_stop = frames_per_stop if method != "camera_tokens" else None
                rows.append({"prompt_id": prompt_id, "prompt": prompt, "method": method, "video": f"videos/{video.name}",
                             "frames_per_stop": per_stop, "seed": seed})
    path = out / "manifest.jsonl"
    temporary = path.with_suffix(".jsonl.tmp")
    temporary.write_text("".join(json.dumps(row) + "\n" for row in rows))
    os.replace(temporary, path)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dofgen-study build", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Render the study's stimuli: one aperture-sweep video per prompt and method, then the manifest.",
    )
    add = parser.add_argument
    add("--prompts", required=True, type=Path, help="A text file with one prompt a line (prompt_id<TAB>prompt, or the prompt alone).")
    add("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="The methods to render.")
    add("--out", required=True, type=Path, help="The folder for the videos and manifest.jsonl.")
    add("--shard", default="0/1", help="i/n: this machine's share of the prompts.")
    add("--seed", type=int, default=0, help="The generators' seed, the same for every method.")
    add("--width", type=int, default=1024, help="The generated image's width in pixels.")
    add("--height", type=int, default=1024, help="The generated image's height in pixels.")
    add("--focal-length", type=float, default=50.0, help="The camera's focal length in millimetres.")
    add("--frames-per-stop", type=int, default=6, help="How many video frames each aperture stop is held for.")
    add("--fps", type=float, default=12.0, help="The videos' frame rate.")
    add("--import-dir", type=Path, help="A folder of camera_tokens videos named <prompt_id>.mp4 (made elsewhere).")
    add("--generator", help="The distilled generator; unset: DOFGEN_GENERATOR.")
    add("--sdxl", default="stabilityai/stable-diffusion-xl-base-1.0", help="The SDXL checkpoint of the SDXL baselines.")
    add("--sdxl-steps", type=int, default=30, help="Denoising steps of the SDXL baselines.")
    add("--sdxl-guidance", type=float, default=5.0, help="Classifier-free guidance of the SDXL baselines.")
    add("--depth-model", help="The depth model; unset: DOFGEN_DEPTH.")
    add("--saliency", help="The saliency model; unset: DOFGEN_SALIENCY.")
    add("--device", help="The device; unset: this process's accelerate device.")
    add("--report-to", default="tensorboard", help="An accelerate tracker, or 'none'.")
    return parser


def main(argv: list[str] | None = None) -> int:
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    from dofgen.video import write_mp4

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        index, count = (int(x) for x in args.shard.split("/"))
        assert 0 <= index < count
        prompts = read_prompts(args.prompts)
    except (ValueError, AssertionError, OSError) as error:
        parser.error(f"{error}" if not isinstance(error, AssertionError) else "--shard must be i/n with 0 <= i < n")
    accelerator = Accelerator(
        cpu=args.device == "cpu", log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=str(args.out), logging_dir=str(args.out / "logs")),
    )
    args.device = args.device or str(accelerator.device)
    (args.out / "videos").mkdir(parents=True, exist_ok=True)
    if args.report_to != "none":
        accelerator.init_trackers("study-build")
    with accelerator.split_between_processes(prompts[index::count]) as mine:  # whole prompts: their methods share scenes
        print(f"process {accelerator.process_index} of {accelerator.num_processes}: prompts {' '.join(p for p, _ in mine) or '(none)'}", file=sys.stderr)
        _build(mine, args, accelerator, write_mp4)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        print(write_manifest(args.out, prompts, args.frames_per_stop, args.seed))
    accelerator.end_training()
    return 0


def _build(mine: list[tuple[str, str]], args: argparse.Namespace, accelerator, write_mp4) -> None:
    """Render this process's prompts' missing videos."""
    parts, skipped, done = Components(args), set(), 0
    shared: dict[str, dict] = {}  # per prompt: the scenes several methods render
    jobs = [(pid, prompt, method) for pid, prompt in mine for method in args.methods]
    for prompt_id, prompt, method in tqdm(jobs, desc=f"stimuli [{accelerator.process_index}]", file=sys.stderr, disable=None):
        target = args.out / "videos" / f"{prompt_id}-{method}.mp4"
        if method in skipped or (target.is_file() and target.stat().st_size > 0):
            continue
        if method == "camera_tokens":
            source = (args.import_dir / f"{prompt_id}.mp4") if args.import_dir else None
            if source is None or not source.is_file():
                tqdm.write(f"skipping camera_tokens for {prompt_id}: no {prompt_id}.mp4 in --import-dir", file=sys.stderr)
                continue
            shutil.copyfile(source, target)
            continue
        start = time.perf_counter()
        try:
            frames = render_method(method, prompt, args, parts, shared.setdefault(prompt_id, {}))
        except RuntimeError as error:
            skipped.add(method)
            tqdm.write(f"skipping {method}: {error}", file=sys.stderr)
            continue
        partial = target.with_name(target.stem + f".partial{accelerator.process_index}.mp4")
        write_mp4(frames, partial, args.fps)
        os.replace(partial, target)
        done += 1
        accelerator.log({f"seconds_per_video/{method}": time.perf_counter() - start, "videos_done": done}, step=done)  # the main process's


if __name__ == "__main__":
    sys.exit(main())
