"""The Explore tab: pick a scene, then refocus it with aperture, focal length and focus."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import torch
from PIL import Image

from dofgen import scenes
from dofgen.camera import STANDARD_STOPS, CameraSettings
from dofgen.focus import focus_at
from dofgen.imageio import to_pil, to_tensor
from dofgen.lens import render

METHOD_LABELS = {"Ours (layered)": "layered", "TAF lens (baseline)": "taf", "Dr.Bokeh lens (baseline)": "drbokeh"}
BLADE_CHOICES = ["Circle", "5", "6", "7", "8", "9"]


@dataclass(frozen=True)
class LoadedScene:
    """What a session keeps so that a slider re-runs only the lens."""

    name: str
    image: torch.Tensor  # (3, H, W) sRGB
    depth: torch.Tensor  # (H, W) metres
    camera: CameraSettings


def load_scene(name: str) -> tuple[LoadedScene, Image.Image, float, float, str]:
    """Load a bundled scene: the cached state, its image, and slider defaults."""
    try:
        scene = scenes.load(name)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    loaded = LoadedScene(scene.name, to_tensor(scene.image), scene.depth, scene.camera)
    focus = float(scene.camera.focus_distance_m)
    return loaded, scene.image, focus, float(scene.camera.focal_length_mm), _describe(scene.meta)


def _describe(meta: dict) -> str:
    return f"**{meta.get('title', '')}** — {meta.get('source', '')}; licence {meta.get('licence', '?')}, {meta.get('attribution', '')}."


def refocus(
    state: LoadedScene | None,
    f_number: float,
    focal_length_mm: float,
    focus_distance_m: float,
    blades: str,
    highlight_boost: float,
    method_label: str,
) -> Image.Image:
    """Re-run only the lens on the session's scene."""
    if state is None:
        raise gr.Error("Pick a scene first.")
    method = METHOD_LABELS.get(method_label)
    if method is None:
        raise gr.Error(f"Unknown lens {method_label!r}; choose one of: {', '.join(METHOD_LABELS)}.")
    try:
        boost = float(highlight_boost)
        camera = state.camera.replace(
            f_number=float(f_number), focal_length_mm=float(focal_length_mm), focus_distance_m=float(focus_distance_m)
        )
        blade_count = 0 if blades == "Circle" else int(blades)
        with torch.inference_mode():
            out = render(state.image, state.depth, camera, method, blades=blade_count, highlight_boost=boost)
    except (ValueError, TypeError) as error:
        raise gr.Error(str(error)) from None
    return to_pil(out)


def focus_from_click(state: LoadedScene | None, event: gr.SelectData) -> float:
    """Focus distance (metres) at the clicked pixel of the shown image."""
    if state is None:
        raise gr.Error("Pick a scene first.")
    x, y = (event.index or (None, None))[:2]
    try:
        return round(focus_at(state.depth, x, y), 2)
    except (TypeError, ValueError) as error:
        raise gr.Error(str(error)) from None


def build_explore_tab(demo: gr.Blocks) -> None:
    """Lay out the Explore tab inside ``demo`` (the current ``gr.Blocks``)."""
    names = scenes.list()
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            image = gr.Image(label="Refocused", type="pil", elem_id="explore-image", interactive=False, format="png")
            gr.Markdown("Click on the picture to focus there.")
            caption = gr.Markdown()
        with gr.Column(scale=2):
            scene = gr.Dropdown(names, value=names[0] if names else None, label="Scene", elem_id="explore-scene")
            f_number = gr.Slider(
                STANDARD_STOPS[0], STANDARD_STOPS[-1], value=2.8, step=0.1, label="Aperture (f-number)",
                info="Smaller numbers open the aperture: more blur. Stops: " + ", ".join(f"f/{s:g}" for s in STANDARD_STOPS),
                elem_id="explore-aperture",
            )
            focal = gr.Slider(14, 200, value=50, step=1, label="Focal length (mm)", elem_id="explore-focal-length")
            focus = gr.Slider(0.3, 30.0, value=2.0, step=0.05, label="Focus distance (m)", elem_id="explore-focus")
            blades = gr.Radio(BLADE_CHOICES, value="Circle", label="Aperture blades", elem_id="explore-blades")
            boost = gr.Slider(0.0, 2.0, value=0.5, step=0.05, label="Highlight boost", elem_id="explore-highlights")
            method = gr.Radio(
                list(METHOD_LABELS), value=next(iter(METHOD_LABELS)), label="Lens",
                info="The baselines gather per pixel and take seconds to minutes on a CPU.",
                elem_id="explore-method",
            )
    controls = [state, f_number, focal, focus, blades, boost, method]
    loaded = scene.change(load_scene, scene, [state, image, focus, focal, caption])
    loaded.then(refocus, controls, image)
    for control in (f_number, focal, focus, boost):
        control.release(refocus, controls, image, show_progress="minimal")
    for control in (blades, method):
        control.change(refocus, controls, image)
    image.select(focus_from_click, state, focus).then(refocus, controls, image)
    demo.load(load_scene, scene, [state, image, focus, focal, caption]).then(refocus, controls, image)
