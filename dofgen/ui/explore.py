"""The Explore tab: make or pick a scene, then refocus it with aperture, focal length and focus.

A scene (all-in-focus image, depth, saliency) is made once per session and kept in
``gr.State``; every slider re-runs only the lens on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from dofgen import scenes
from dofgen.camera import STANDARD_STOPS, CameraSettings
from dofgen.focus import focus_at
from dofgen.pipeline import DefocusPipeline, DefocusResult, refocus
from dofgen.ui.files import named_path, new_path, save_image
from dofgen.ui.models import MODELS, ModelUnavailable
from dofgen.video import aperture_sweep, focus_sweep, write_mp4
from dofgen.visualize import scene_maps

METHOD_LABELS = {"Ours (layered)": "layered", "TAF lens (baseline)": "taf", "Dr.Bokeh lens (baseline)": "drbokeh"}
BLADE_CHOICES = ["Circle", "5", "6", "7", "8", "9"]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_SIDE = 4096
SOURCE_LABELS = {"saliency": "automatic, from saliency", "user": "set by you", "camera": "from the camera"}


@dataclass(frozen=True)
class ExploreState:
    """What a session keeps: the scene and its latest rendering, and the automatic focus."""

    result: DefocusResult
    auto_focus_m: float


def _error(message: str) -> gr.Error:
    return gr.Error(message, print_exception=False)


def _pipeline(**components) -> DefocusPipeline:
    """A pipeline on the app's device (spectral-residual saliency unless one is given)."""
    return DefocusPipeline(device=MODELS.device, **components)


def _start(result: DefocusResult) -> tuple:
    """Outputs shared by every way of making a scene."""
    state = ExploreState(result, result.focus_distance)
    camera = result.camera
    return (
        state, save_image(result.image), _focus_text(result), _notes(result),
        float(camera.f_number), float(camera.focal_length_mm), round(result.focus_distance, 2), True,
    )


def _focus_text(result: DefocusResult) -> str:
    return f"Focus **{result.focus_distance:.2f} m** ({SOURCE_LABELS.get(result.focus_source, result.focus_source)}) · f/{float(result.camera.f_number):.1f} · {float(result.camera.focal_length_mm):g} mm · largest blur {float(result.coc.abs().max()):.0f} px"


def _notes(result: DefocusResult) -> str:
    return "\n".join(f"- {note}" for note in result.notes)


def load_scene(name: str) -> tuple:
    """A bundled scene, focused automatically from its saliency."""
    try:
        scene = scenes.load(name)
    except ValueError as error:
        raise _error(str(error)) from None
    result = _pipeline().from_image(scene.image, scene.depth, camera=scene.camera)
    meta = scene.meta
    outputs = _start(result)
    return outputs[:3] + (f"**{meta.get('title', name)}** — {meta.get('source', '')}. Licence: {meta.get('licence', '?')}.",) + outputs[4:]


def generate_scene(prompt: str, seed: float, f_number: float, focal_length_mm: float, progress: gr.Progress = gr.Progress()) -> tuple:
    """Generate a scene from a prompt (needs the generator and depth models)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise _error("Type a prompt first, for example: a corgi on a sunny lawn.")
    if not isinstance(seed, (int, float)) or not math.isfinite(seed) or not 0 <= seed < 2**32:
        raise _error("The seed must be a whole number from 0 to 4294967295.")
    camera = _camera(CameraSettings(2.8, 50.0, 2.0), f_number, focal_length_mm, None)
    try:
        progress(0.0, desc="Loading models (first use only)")
        pipe = _pipeline(generator=MODELS.generator(), depth=MODELS.depth(), saliency=MODELS.saliency())
    except ModelUnavailable as error:
        raise _error(f"Generation is not available here: {error} Bundled scenes and your own photos still work.") from None

    def report(stage: str, done: int, total: int) -> None:
        progress(done / max(total, 1), desc={"generate": "Generating", "depth": "Estimating depth", "saliency": "Finding the subject", "lens": "Rendering"}[stage])

    try:
        result = pipe(prompt, camera, seed=int(seed), progress=report)
    except ValueError as error:
        raise _error(str(error)) from None
    return _start(result)


def _read_depth_file(path: str, size: tuple[int, int]) -> torch.Tensor:
    """A depth upload: .npy in metres or a 16-bit PNG in millimetres, resized to the photo."""
    try:
        if Path(path).suffix.lower() == ".npy":
            depth = torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))
        else:
            with Image.open(path) as image:
                depth = torch.from_numpy(np.asarray(image, dtype=np.float32) / 1000.0)
    except (OSError, ValueError, UnidentifiedImageError):
        raise _error("The depth map must be a .npy array in metres or a 16-bit PNG in millimetres.") from None
    if depth.dim() != 2:
        raise _error(f"The depth map must be one channel (H, W); it has shape {tuple(depth.shape)}.")
    if tuple(depth.shape) != (size[1], size[0]):
        depth = torch.nn.functional.interpolate(depth[None, None], size=(size[1], size[0]), mode="nearest")[0, 0]
    return depth


def use_photo(path: str | None, depth_path: str | None) -> tuple:
    """A user's photo: camera from its EXIF, depth from the model or an uploaded map."""
    if not path:
        raise _error("Upload a photo first.")
    if Path(path).stat().st_size > MAX_UPLOAD_BYTES:
        raise _error(f"The photo is over {MAX_UPLOAD_BYTES // 2**20} MB; please upload a smaller one.")
    try:
        with Image.open(path) as opened:
            if max(opened.size) > MAX_UPLOAD_SIDE:
                raise _error(f"The photo is {opened.width}x{opened.height}; the limit is {MAX_UPLOAD_SIDE} px a side.")
            opened.load()
            photo = opened.copy()
    except (UnidentifiedImageError, OSError):
        raise _error("That file is not an image dofgen can read (try JPEG or PNG).") from None
    depth = _read_depth_file(depth_path, photo.size) if depth_path else None
    try:
        estimator = None if depth is not None else MODELS.depth()
    except ModelUnavailable as error:
        raise _error(f"Photos need a depth map: the depth model is not available ({error}) Upload a depth map with the photo instead.") from None
    try:
        result = _pipeline(depth=estimator).from_image(photo, depth)
    except ValueError as error:
        raise _error(str(error)) from None
    return _start(result)


def _camera(base: CameraSettings, f_number: float, focal_length_mm: float, focus_m: float | None) -> CameraSettings:
    changes = {"f_number": f_number, "focal_length_mm": focal_length_mm}
    if focus_m is not None:
        changes["focus_distance_m"] = focus_m
    for name, value in changes.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _error(f"{name} must be a number, got {value!r}.")
    try:
        return base.replace(**{k: float(v) for k, v in changes.items()})
    except ValueError as error:
        raise _error(str(error)) from None


def refocus_view(
    state: ExploreState | None,
    f_number: float,
    focal_length_mm: float,
    auto_focus: bool,
    focus_distance_m: float,
    blades: str,
    highlight_boost: float,
    method_label: str,
) -> tuple:
    """Re-run only the lens on the session's scene; returns (state, image, focus text, focus)."""
    if state is None:
        raise _error("Pick, generate or upload a scene first.")
    method = METHOD_LABELS.get(method_label)
    if method is None:
        raise _error(f"Unknown lens {method_label!r}; choose one of: {', '.join(METHOD_LABELS)}.")
    if blades not in BLADE_CHOICES:
        raise _error(f"Aperture blades must be one of {', '.join(BLADE_CHOICES)}.")
    if not isinstance(highlight_boost, (int, float)) or not math.isfinite(highlight_boost) or highlight_boost < 0:
        raise _error("The highlight boost must be a number of 0 or more.")
    focus = state.auto_focus_m if auto_focus else focus_distance_m
    camera = _camera(state.result.camera, f_number, focal_length_mm, focus)
    try:
        result = refocus(
            state.result, camera, focus_distance=float(focus), method=method,
            blades=0 if blades == "Circle" else int(blades), highlight_boost=float(highlight_boost),
            focus_source="saliency" if auto_focus else "user",
        )
    except ValueError as error:
        raise _error(str(error)) from None
    return ExploreState(result, state.auto_focus_m), save_image(result.image), _focus_text(result), round(float(focus), 2)


def focus_from_click(state: ExploreState | None, event: gr.SelectData) -> tuple[bool, float]:
    """Clicking the picture focuses there: automatic focus off, the slider at that depth."""
    if state is None:
        raise _error("Pick, generate or upload a scene first.")
    x, y = (event.index or (None, None))[:2]
    try:
        return False, round(focus_at(state.result.depth.cpu(), x, y), 2)
    except (TypeError, ValueError) as error:
        raise _error(str(error)) from None


def _video(frames: list[Image.Image]) -> str:
    return str(write_mp4(frames, new_path(".mp4"), fps=12))


def download_png(state: ExploreState | None) -> str:
    """The current view as a lossless PNG file."""
    if state is None:
        raise _error("Pick, generate or upload a scene first.")
    path = named_path("dofgen.png")
    state.result.image.save(path, format="PNG")
    return str(path)


def render_aperture_sweep(state: ExploreState | None, progress: gr.Progress = gr.Progress()) -> str:
    """An MP4 of the scene from f/1.8 to f/22 at the current focus."""
    if state is None:
        raise _error("Pick, generate or upload a scene first.")
    frames = aperture_sweep(state.result, captions=True, progress=lambda i, n: progress(i / n, desc="Rendering the aperture sweep"))
    return _video(frames)


def render_focus_sweep(state: ExploreState | None, progress: gr.Progress = gr.Progress()) -> str:
    """An MP4 of the scene with focus travelling from near to far at the current aperture."""
    if state is None:
        raise _error("Pick, generate or upload a scene first.")
    frames = focus_sweep(state.result, frames=36, captions=True, progress=lambda i, n: progress(i / n, desc="Rendering the focus sweep"))
    return _video(frames)


def show_maps(state: ExploreState | None) -> list[tuple[Image.Image, str]]:
    """All-in-focus, depth, saliency and circle-of-confusion maps with legends."""
    if state is None:
        raise _error("Pick, generate or upload a scene first.")
    return scene_maps(state.result)


def build_explore_tab(demo: gr.Blocks) -> None:
    """Lay out the Explore tab inside ``demo`` (the current ``gr.Blocks``)."""
    names = scenes.list()
    state = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            image = gr.Image(
                label="Refocused — click to focus there", type="filepath", elem_id="explore-image",
                interactive=False, height="min(70vh, 620px)",
            )
            focus_info = gr.Markdown(elem_id="explore-focus-info")
            with gr.Row():
                png_button = gr.Button("Full-quality PNG", size="sm", elem_id="explore-png-button")
                png_file = gr.File(label="PNG", elem_id="explore-png", height=60)
        with gr.Column(scale=2, min_width=280):
            with gr.Tabs():
                with gr.Tab("Bundled scene"):
                    scene = gr.Dropdown(names, value=names[0] if names else None, label="Scene", elem_id="explore-scene")
                    caption = gr.Markdown()
                with gr.Tab("Generate"):
                    prompt = gr.Textbox(label="Prompt", placeholder="a corgi on a sunny lawn", lines=2, elem_id="explore-prompt")
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="explore-seed")
                    generate = gr.Button("Generate", variant="primary", elem_id="explore-generate")
                    gr.Markdown("Makes an all-in-focus image with a few-step SDXL, then its depth; the lens adds the blur. The models load on first use.")
                with gr.Tab("Your photo"):
                    photo = gr.Image(label="Photo (its EXIF sets the camera)", type="filepath", sources=["upload"], elem_id="explore-upload")
                    depth_file = gr.File(label="Depth map (optional: .npy in metres or 16-bit PNG in mm)", file_types=[".npy", ".png"])
                    use = gr.Button("Use this photo", variant="primary", elem_id="explore-use-photo")
            notes = gr.Markdown(elem_id="explore-notes")
            f_number = gr.Slider(
                STANDARD_STOPS[0], STANDARD_STOPS[-1], value=2.8, step=0.1, label="Aperture (f-number)",
                info="Smaller opens the aperture: more blur. Stops: " + ", ".join(f"f/{s:g}" for s in STANDARD_STOPS),
                elem_id="explore-aperture",
            )
            focal = gr.Slider(14, 200, value=50, step=1, label="Focal length (mm)", elem_id="explore-focal-length")
            auto = gr.Checkbox(value=True, label="Automatic focus (on the salient subject)", elem_id="explore-auto-focus")
            focus = gr.Slider(0.3, 30.0, value=2.0, step=0.01, label="Focus distance (m)", info="Moving it turns automatic focus off.", elem_id="explore-focus")
            blades = gr.Radio(BLADE_CHOICES, value="Circle", label="Aperture blades", elem_id="explore-blades")
            boost = gr.Slider(0.0, 2.0, value=0.5, step=0.05, label="Highlight boost", info="Bright lights bloom into bokeh discs.", elem_id="explore-highlights")
            method = gr.Radio(
                list(METHOD_LABELS), value=next(iter(METHOD_LABELS)), label="Lens",
                info="The baselines gather per pixel: seconds to a minute on a CPU.", elem_id="explore-method",
            )
    with gr.Row():
        sweep_aperture = gr.Button("Aperture sweep (f/1.8 → f/22)", elem_id="explore-sweep-aperture", variant="primary")
        sweep_focus = gr.Button("Focus sweep (near → far)", elem_id="explore-sweep-focus")
    video = gr.Video(label="Sweep", elem_id="explore-video", autoplay=True, loop=True, interactive=False, height="min(70vh, 620px)")
    with gr.Accordion("Scene maps: all in focus, depth, saliency, circle of confusion", open=False):
        maps_button = gr.Button("Show the maps for the current view", elem_id="explore-maps-button")
        maps = gr.Gallery(columns=2, height="auto", elem_id="explore-maps", show_label=False)

    started = [state, image, focus_info, notes, f_number, focal, focus, auto]
    controls = [state, f_number, focal, auto, focus, blades, boost, method]
    lens = dict(fn=refocus_view, inputs=controls, outputs=[state, image, focus_info, focus], concurrency_id="lens", concurrency_limit=4, show_progress="minimal")
    scene_outputs = [state, image, focus_info, caption, f_number, focal, focus, auto]
    scene.change(load_scene, scene, scene_outputs, concurrency_id="lens")
    demo.load(load_scene, scene, scene_outputs, concurrency_id="lens")
    generate.click(generate_scene, [prompt, seed, f_number, focal], started, concurrency_id="generate", concurrency_limit=1)
    use.click(use_photo, [photo, depth_file], started, concurrency_id="generate", concurrency_limit=1)
    for slider in (f_number, focal, boost):
        slider.release(**lens)
    focus.release(lambda: False, None, auto, queue=False).then(**lens)
    for choice in (auto, blades, method):
        choice.input(**lens)
    image.select(focus_from_click, state, [auto, focus], concurrency_id="lens").then(**lens)
    sweep_aperture.click(render_aperture_sweep, state, video, concurrency_id="sweep", concurrency_limit=1)
    sweep_focus.click(render_focus_sweep, state, video, concurrency_id="sweep", concurrency_limit=1)
    maps_button.click(show_maps, state, maps, concurrency_id="lens")
    png_button.click(download_png, state, png_file, concurrency_id="lens")
