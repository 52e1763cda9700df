"""``python -m dofgen render|sweep|analyze``: the pipeline from the command line.

Every flag and input file is checked before any model loads or any frame renders; a bad
one prints one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dofgen import scenes
from dofgen.argparse_help import TerseParser
from dofgen.camera import F_NUMBER_RANGE, FOCAL_LENGTH_RANGE_MM, SENSOR_WIDTH_RANGE_MM, STUDY_STOPS, CameraSettings
from dofgen.imageio import InputError, open_photo, read_depth
from dofgen.lens import METHODS


def _parser() -> argparse.ArgumentParser:
    parser = TerseParser(prog="python -m dofgen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=TerseParser)
    common = TerseParser(add_help=False)
    source = common.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="Generate the scene from this prompt (needs the generator).")
    source.add_argument("--image", type=Path, help="A photo; its EXIF sets the camera defaults.")
    source.add_argument("--scene", choices=scenes.list(), help="A bundled RGB-D scene.")
    common.add_argument("--depth", type=Path, help="Depth for --image: .npy or .npz in metres, or a 16-bit PNG in millimetres (default: from the depth model).")
    common.add_argument("--f-number", type=float, help="Aperture as an f-number (default: the scene's, the photo's EXIF, or f/2.8).")
    common.add_argument("--focal-length", type=float, help="Focal length in mm (default: the scene's, the photo's EXIF, or 50 mm).")
    common.add_argument("--sensor-width", type=float, help="Sensor width in mm, 36 being full frame (default: the scene's, the photo's EXIF, or 36 mm).")
    common.add_argument("--focus", type=float, help="Focus distance in metres (default: from saliency).")
    common.add_argument("--method", choices=METHODS, default="layered", help="Lens method; 'layered' is ours, the others are baselines.")
    common.add_argument("--blades", type=int, default=0, help="Aperture blades of the layered lens: 0 for a round aperture, or 5 to 9.")
    common.add_argument("--highlight-boost", type=float, help="Bloom of small clipped lights into bokeh discs, 0 (off) upwards "
                        "(default: the lens's own, 0.5 for layered and 0 for the baselines).")
    common.add_argument("--seed", type=int, default=0, help="Random seed of the generator.")
    common.add_argument("--width", type=int, help="Generation width in pixels (default: the generator's native size).")
    common.add_argument("--height", type=int, help="Generation height in pixels (default: the generator's native size).")
    common.add_argument("--generator", help="Diffusers SDXL id or folder (default: DOFGEN_GENERATOR).")
    common.add_argument("--depth-model", help="Depth model id or folder (default: DOFGEN_DEPTH).")
    common.add_argument("--saliency", help="Saliency model id or folder, or 'spectral' (default: DOFGEN_SALIENCY).")
    common.add_argument("--device", help="Device: cpu, cuda, ... (default: cuda when available).")
    common.add_argument("--out", type=Path, required=True, help="Output file (render, sweep) or folder (analyze).")
    sub.add_parser("render", parents=[common], help="Render one image.", description="Render one image.")
    sweep = sub.add_parser("sweep", parents=[common], help="Render an aperture or focus sweep as MP4.", description="Render an aperture or focus sweep as MP4.")
    sweep.add_argument("--kind", choices=["aperture", "focus"], default="aperture", help="Sweep the aperture over --stops, or the focus from near to far.")
    sweep.add_argument("--stops", type=float, nargs="+", default=list(STUDY_STOPS), help="Aperture stops of an aperture sweep, increasing.")
    sweep.add_argument("--frames-per-stop", type=int, default=6, help="Frames from each stop to the next in an aperture sweep.")
    sweep.add_argument("--frames", type=int, default=48, help="Frames of a focus sweep.")
    sweep.add_argument("--fps", type=float, default=12.0, help="Frames per second of the MP4.")
    sweep.add_argument("--captions", action="store_true", help="Burn the f-number (or focus distance) into each frame.")
    analyze = "Write the depth, saliency and CoC maps and the focus distance."
    sub.add_parser("analyze", parents=[common], help=analyze, description=analyze)
    return parser


def _in_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} {value:g} is out of range; allowed {low:g} to {high:g}")


def _check(args: argparse.Namespace) -> tuple:
    """Every value and input file, before any work; returns (photo, depth, notes) for --image.

    Raises:
        ValueError: the first bad value, in one line.
    """
    from dofgen.generator import check_size
    from dofgen.lens import aperture_kernel

    _in_range("--f-number", args.f_number, *F_NUMBER_RANGE)
    _in_range("--focal-length", args.focal_length, *FOCAL_LENGTH_RANGE_MM)
    _in_range("--sensor-width", args.sensor_width, *SENSOR_WIDTH_RANGE_MM)
    _in_range("--focus", args.focus, 0.01, 1e6)
    _in_range("--highlight-boost", args.highlight_boost, 0.0, 100.0)
    if args.blades and args.method != "layered":
        raise ValueError(f"--blades shapes the layered lens only, not --method {args.method}")
    aperture_kernel(1.0, args.blades)  # 0 or 5 to 9
    if args.prompt is not None and (args.width or args.height):
        check_size(args.width or args.height, args.height or args.width)
    if args.depth is not None and args.image is None:
        raise ValueError("--depth goes with --image")
    if args.command == "sweep":
        stops = args.stops
        if len(stops) < 2 or any(b <= a for a, b in zip(stops, stops[1:])):
            raise ValueError(f"--stops must be two or more increasing f-numbers, got {' '.join(f'{s:g}' for s in stops)}")
        for stop in stops:
            _in_range("--stops", stop, *F_NUMBER_RANGE)
        _in_range("--fps", args.fps, 0.1, 120)
        if args.frames_per_stop < 1 or args.frames < 2:
            raise ValueError("--frames-per-stop must be 1 or more and --frames 2 or more")
    if args.out.suffix.lower() not in {"render": (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"), "sweep": (".mp4",)}.get(args.command, ("",)):
        raise ValueError(f"--out {args.out} has the wrong extension for {args.command} (PNG or JPEG image; MP4 sweep; a folder for analyze)")
    if args.image is None:
        return None, None, []
    try:
        photo = open_photo(args.image)
        depth, notes = read_depth(args.depth, photo.size) if args.depth else (None, [])
    except (InputError, OSError) as error:
        raise ValueError(str(error)) from None
    return photo, depth, notes


def _camera(args: argparse.Namespace, base: CameraSettings) -> CameraSettings:
    changes = {
        name: value
        for name, value in (("f_number", args.f_number), ("focal_length_mm", args.focal_length), ("sensor_width_mm", args.sensor_width))
        if value is not None
    }
    return base.replace(**changes)


def _result(args: argparse.Namespace, bar: tqdm, photo, depth):
    from dofgen import depth as depth_models
    from dofgen import generator as generators
    from dofgen.depth import DepthEstimator
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
            generators.load_from_env(args.generator, device=args.device),
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
        image, camera = photo, _camera(args, CameraSettings.from_exif(photo).camera)
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
        photo, depth, notes = _check(args)
        with tqdm(total=1, desc="scene", file=sys.stderr, disable=None) as bar:
            result = _result(args, bar, photo, depth)
        result = replace(result, notes=result.notes + tuple(notes))
        lens = dict(blades=args.blades, highlight_boost=args.highlight_boost)
        if args.blades or args.highlight_boost is not None:
            result = refocus(result, result.camera, **lens)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.command == "render":
            result.image.save(args.out)
        elif args.command == "sweep":
            with tqdm(desc=f"{args.kind} sweep", file=sys.stderr, disable=None) as bar:

                def tick(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                if args.kind == "aperture":
                    frames = aperture_sweep(result, args.stops, args.frames_per_stop, tick, args.captions, **lens)
                else:
                    frames = focus_sweep(result, args.frames, tick, args.captions, **lens)
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
