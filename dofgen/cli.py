"""``python -m dofgen render|sweep|analyze``: the pipeline from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from dofgen import scenes
from dofgen.camera import STUDY_STOPS, CameraSettings
from dofgen.lens import METHODS


class _Parser(argparse.ArgumentParser):
    """Bad flags: one line on stderr, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dofgen", description="Fine-grained defocus blur control.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    source = common.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="generate the scene from this prompt (needs the generator)")
    source.add_argument("--image", type=Path, help="a photo; its EXIF sets the camera defaults")
    source.add_argument("--scene", choices=scenes.list(), help="a bundled RGB-D scene")
    common.add_argument("--depth", type=Path, help="depth for --image: .npy in metres or a 16-bit PNG in millimetres")
    common.add_argument("--f-number", type=float, help="aperture (f-number)")
    common.add_argument("--focal-length", type=float, help="focal length in mm")
    common.add_argument("--sensor-width", type=float, help="sensor width in mm (36 is full frame)")
    common.add_argument("--focus", type=float, help="focus distance in metres (default: from saliency)")
    common.add_argument("--method", choices=METHODS, default="layered", help="lens (default: layered, ours)")
    common.add_argument("--blades", type=int, default=0, help="0 for a round aperture, 5 to 9 blades")
    common.add_argument("--highlight-boost", type=float, default=0.0)
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--width", type=int, default=1024)
    common.add_argument("--height", type=int, default=1024)
    common.add_argument("--generator", help="diffusers SDXL id or folder (default: DOFGEN_GENERATOR)")
    common.add_argument("--depth-model", help="depth model id or folder (default: DOFGEN_DEPTH)")
    common.add_argument("--saliency", help="saliency model id or folder, or 'spectral' (default: DOFGEN_SALIENCY)")
    common.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    common.add_argument("--out", type=Path, required=True, help="output file (render, sweep) or folder (analyze)")
    sub.add_parser("render", parents=[common], help="render one image")
    sweep = sub.add_parser("sweep", parents=[common], help="render an aperture or focus sweep as MP4")
    sweep.add_argument("--kind", choices=["aperture", "focus"], default="aperture")
    sweep.add_argument("--stops", type=float, nargs="+", default=list(STUDY_STOPS), help="aperture stops, increasing")
    sweep.add_argument("--frames-per-stop", type=int, default=6)
    sweep.add_argument("--frames", type=int, default=48, help="frames of a focus sweep")
    sweep.add_argument("--fps", type=float, default=12.0)
    sweep.add_argument("--captions", action="store_true", help="burn the f-number (or focus) into each frame")
    sub.add_parser("analyze", parents=[common], help="write depth, saliency and CoC maps and the focus distance")
    return parser


def _read_depth(path: Path) -> torch.Tensor:
    if path.suffix.lower() == ".npy":
        return torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))
    return torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32) / 1000.0)


def _camera(args: argparse.Namespace, base: CameraSettings) -> CameraSettings:
    changes = {
        name: value
        for name, value in (("f_number", args.f_number), ("focal_length_mm", args.focal_length), ("sensor_width_mm", args.sensor_width))
        if value is not None
    }
    return base.replace(**changes)


def _result(args: argparse.Namespace, bar: tqdm):
    from dofgen import depth as depth_models
    from dofgen import generator as generators
    from dofgen.depth import DepthEstimator
    from dofgen.generator import Generator
    from dofgen.pipeline import DefocusPipeline
    from dofgen.saliency import load_saliency

    def progress(stage: str, done: int, total: int) -> None:
        bar.set_description(stage)
        bar.total = total
        bar.n = done
        bar.refresh()

    saliency = load_saliency(args.saliency)
    if args.prompt is not None:
        pipe = DefocusPipeline(
            Generator.from_pretrained(args.generator or generators.model_id_from_env(), device=args.device),
            DepthEstimator.from_pretrained(args.depth_model or depth_models.model_id_from_env(), device=args.device),
            saliency,
            args.device,
        )
        camera = _camera(args, CameraSettings(2.8, 50.0, 2.0))
        return pipe(args.prompt, camera, args.seed, args.focus, args.method, width=args.width, height=args.height, progress=progress)
    if args.scene is not None:
        scene = scenes.load(args.scene)
        image, depth, camera = scene.image, scene.depth, _camera(args, scene.camera)
    else:
        image = Image.open(args.image)
        image.load()
        depth = _read_depth(args.depth) if args.depth else None
        camera = _camera(args, CameraSettings.from_exif(image).camera)
    estimator = None
    if depth is None:
        estimator = DepthEstimator.from_pretrained(args.depth_model or depth_models.model_id_from_env(), device=args.device)
    return DefocusPipeline(None, estimator, saliency, args.device).from_image(image, depth, camera, args.focus, args.method, progress=progress)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    from dofgen.pipeline import refocus
    from dofgen.video import aperture_sweep, focus_sweep, write_mp4
    from dofgen.visualize import coc_view, colorize, depth_view

    try:
        with tqdm(total=1, desc="scene", file=sys.stderr, disable=None) as bar:
            result = _result(args, bar)
        if args.blades or args.highlight_boost:
            result = refocus(result, result.camera, blades=args.blades, highlight_boost=args.highlight_boost)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.command == "render":
            result.image.save(args.out)
        elif args.command == "sweep":
            with tqdm(desc=f"{args.kind} sweep", file=sys.stderr, disable=None) as bar:

                def tick(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                if args.kind == "aperture":
                    frames = aperture_sweep(result, args.stops, args.frames_per_stop, tick, args.captions)
                else:
                    frames = focus_sweep(result, args.frames, tick, args.captions)
            write_mp4(frames, args.out, args.fps)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            result.all_in_focus.save(args.out / "all_in_focus.png")
            result.image.save(args.out / "image.png")
            depth_view(result.depth).save(args.out / "depth.png")
            colorize(result.saliency, "viridis", 0.0, 1.0).save(args.out / "saliency.png")
            coc_view(result.coc).save(args.out / "coc.png")
            np.save(args.out / "depth.npy", result.depth.cpu().numpy())
        summary = {
            "out": str(args.out),
            "focus_distance_m": round(result.focus_distance, 3),
            "focus_source": result.focus_source,
            "f_number": float(result.camera.f_number),
            "focal_length_mm": float(result.camera.focal_length_mm),
            "max_coc_px": round(float(result.coc.abs().max()), 2),
            "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
            "notes": list(result.notes),
        }
        print(json.dumps(summary))
        return 0
    except ValueError as error:  # bad values: a usage error
        sys.stderr.write(f"python -m dofgen: error: {error}\n")
        return 2
    except (RuntimeError, OSError) as error:
        sys.stderr.write(f"python -m dofgen: {error}\n")
        return 1
