"""The Explore tab: make or pick a scene, then refocus it with aperture, focal length and focus.

A scene (all-in-focus image, depth, saliency) is made once per session and kept in
``gr.State`` at full resolution, with a copy at display resolution that the sliders re-render
and a smaller one for live previews while a slider moves (:mod:`dofgen.ui.sessions`). The
PNG download renders at full resolution, the sweeps (:mod:`dofgen.ui.sweeps`) too, up to what H.264 level 5.2 plays.

Here are the handlers (each one endpoint, with its toasts) and the wiring; the coarse steps
(generation, depth and saliency, sweeps, the PNG, baselines) ask for a GPU (:func:`gpu`) for
a time computed from their inputs, with arguments and results that hold no CUDA tensor, while
the slider previews and views run the lens on the CPU;
the layout is :mod:`dofgen.ui.layout`, the lens view :mod:`dofgen.ui.views`, the baselines
:mod:`dofgen.ui.baseline`. A failed action never leaves a control in an error state
(:mod:`dofgen.ui.toasts`). The baseline lenses render in their own queue with a progress bar
and a cancel button that stops the render's work, so the default lens's sliders never wait
behind them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import gradio as gr
from PIL import Image

from dofgen import scenes
from dofgen.camera import CameraSettings
from dofgen.focus import focus_at
from dofgen.pipeline import DefocusPipeline, DefocusResult, on_device, refocus, resized
from dofgen.ui import views
from dofgen.ui.baseline import BASELINE_BUDGET_S, baseline_estimate, baseline_render, baseline_scale, stop_baseline
from dofgen.ui.compare import wire_compare
from dofgen.ui.controls import METHOD_LABELS, Controls, checked_camera, reading_controls, scene_state
from dofgen.ui import client
from dofgen.ui.files import named_path, save_image
from dofgen.ui.layout import CSS as LAYOUT_CSS
from dofgen.ui.layout import ExploreLayout, build_layout
from dofgen.ui.models import MODELS, ModelUnavailable, gpu, gpu_seconds
from dofgen.ui.sessions import SESSIONS, ExploreState, end_session, session_key
from dofgen.ui.sweeps import render_aperture_sweep, render_focus_sweep, view_scene, wire_sweeps
from dofgen.ui.toasts import UserError, friendly
from dofgen.ui.uploads import MAX_UPLOAD_BYTES, checked_depth_upload, open_upload, read_depth_upload
from dofgen.visualize import scene_maps

__all__ = [
    "BASELINE_BUDGET_S", "CSS", "HEAD", "MAX_UPLOAD_BYTES", "SESSIONS", "Controls", "DefocusPipeline",
    "ExploreState", "baseline_estimate", "baseline_scale", "baseline_view", "build_explore_tab", "download_png",
    "focus_from_click", "generate_scene", "lens_controls", "load_scene", "preview_photo", "preview_view",
    "refocus_view", "render_aperture_sweep", "render_focus_sweep", "resized", "show_maps",
    "stop_baseline", "use_photo",
]

#: The tab's style and script for the page (:mod:`dofgen.ui.client`).
CSS, HEAD = LAYOUT_CSS + client.CSS, client.HEAD
STAGES = {"generate": "Generating", "depth": "Estimating depth", "saliency": "Finding the subject", "lens": "Rendering"}
#: Chained steps: one public endpoint each.
HIDDEN = dict(api_visibility="undocumented")


#: Seconds of GPU a generation asks for (one scene at the generator's native size).
GENERATE_S = 60


def _pipeline(**components: Any) -> DefocusPipeline:
    """A pipeline on the models' device (spectral residual with the subject prior unless
    given); automatic focus comes from the trained focus predictor when one loads."""
    return DefocusPipeline(device=MODELS.device, focus_predictor=MODELS.focus_predictor(), **components)


def _models(*names: str, hint: str) -> dict[str, Any]:
    """The named models (generator, depth, saliency), or a :class:`UserError` ending in ``hint``."""
    try:
        return {name: getattr(MODELS, name)() for name in names}
    except ModelUnavailable as error:
        raise UserError(f"{error} {hint}") from None


@friendly(10)
def load_scene(name: str, request: gr.Request = None) -> tuple:
    """A bundled scene, focused on its focus point (or found automatically)."""
    try:
        scene = scenes.load(name)
    except ValueError as error:
        raise UserError(str(error)) from None
    point = scene.focus_point
    focus = focus_at(scene.depth, *point) if point else None
    pipe = DefocusPipeline(device="cpu", focus_predictor=MODELS.focus_predictor() if MODELS.device.type == "cpu" else None)
    result = pipe.from_image(scene.image, scene.depth, camera=scene.camera, focus_distance=focus, focus_source="scene", render=False)
    meta = scene.meta
    return views.scene_outputs(result, f"**{meta.get('title', name)}** — {meta.get('source', '')}. Licence: {meta.get('licence', '?')}.", request)


@gpu(duration=GENERATE_S)
def generated(prompt: str, camera: CameraSettings, seed: int, progress: Any = None) -> DefocusResult:
    """A scene from ``prompt`` (generator, depth, saliency; no lens), on the CPU when returned."""
    if progress is not None:
        progress(0.0, desc="Loading models (first use only)")
    pipe = _pipeline(**_models("generator", "depth", "saliency", hint="Bundled scenes and your own photos with a depth map still work."))

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(done / max(total, 1), desc=STAGES[stage])

    try:
        return on_device(pipe(prompt, camera, seed=seed, progress=report), "cpu")
    except ValueError as error:
        raise UserError(str(error)) from None


@friendly(10)
def generate_scene(prompt: str, seed: float, f_number: float, focal_length_mm: float, request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> tuple:
    """Generate a scene from a prompt (needs the generator and depth models)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError("Type a prompt first, for example: a corgi on a sunny lawn.")
    if not isinstance(seed, (int, float)) or not math.isfinite(seed) or not 0 <= seed < 2**32:
        raise UserError("The seed must be a whole number from 0 to 4294967295.")
    camera = checked_camera(CameraSettings(2.8, 50.0, 2.0), f_number, focal_length_mm, None)
    return views.scene_outputs(generated(prompt, camera, int(seed), progress), request=request)


@friendly(1)
def preview_photo(path: str | None, request: gr.Request = None) -> str | None:
    """The uploaded photo as it will be used (upright), or a toast saying why it cannot be."""
    SESSIONS.note_upload(session_key(request), path)
    return save_image(open_upload(path)) if path else None


@gpu(duration=gpu_seconds(base=10, per_megapixel=5))
def photo_scene(photo: Image.Image, depth: Any = None) -> DefocusResult:
    """A photo's scene: depth from the model unless ``depth`` ((H, W) metres, CPU) is given,
    saliency from the model; no lens; on the CPU when returned."""
    estimator = None if depth is not None else _models("depth", hint="Or upload a depth map with the photo.")["depth"]
    try:
        return on_device(_pipeline(depth=estimator, saliency=MODELS.saliency()).from_image(photo, depth, render=False), "cpu")
    except ValueError as error:
        raise UserError(str(error)) from None


@friendly(10)
def use_photo(path: str | None, depth_path: str | None, request: gr.Request = None) -> tuple:
    """A user's photo: camera from its EXIF, depth from the model or an uploaded map."""
    if not path:
        raise UserError("Upload a photo first.")
    SESSIONS.note_upload(session_key(request), path, depth_path)
    photo = open_upload(path)
    depth, notes = read_depth_upload(depth_path, photo.size) if depth_path else (None, [])
    result = photo_scene(photo, depth)
    return views.scene_outputs(replace(result, notes=result.notes + tuple(notes)), request=request)


@friendly(2)
def preview_view(controls: Controls, request: gr.Request = None) -> Any:
    """A reduced rendering while a control moves, and the focus line it stands for:
    (picture, focus line). The layered lens only, on the CPU; baselines wait for the full view."""
    return views.preview(controls, request)


@friendly(4)
def refocus_view(controls: Controls, request: gr.Request = None) -> tuple:
    """Re-run only the lens (on the CPU) on the session's scene at display resolution;
    returns (state, image, focus text, focus). The baseline lenses render in :func:`baseline_view`."""
    return views.view(controls, request)


@friendly(4)
def baseline_view(controls: Controls, request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> tuple:
    """A baseline lens (TAF or Dr.Bokeh): the view at a size that keeps it within
    :data:`BASELINE_BUDGET_S`, with a progress bar that counts against the estimate;
    :func:`stop_baseline` ends it early and leaves the view as it was."""
    return baseline_render(controls, request, progress)


def lens_controls(method_label: str, request: gr.Request = None) -> tuple[dict, dict]:
    """The blade control is for the layered lens only: disabled, with a hint, for baselines;
    the cancel button shows for baselines only. Choosing our lens stops a baseline render,
    whose late picture would replace our lens's."""
    layered = METHOD_LABELS.get(method_label) == "layered"
    if layered:
        stop_baseline(request)
    hint = None if layered else "Blades shape our layered lens only; the baselines gather round discs."
    return gr.update(interactive=layered, info=hint), gr.update(visible=not layered)


def _shown_width(path: str | None) -> int | None:
    """Pixel width of the picture the browser shows (a preview is smaller than the view)."""
    try:
        with Image.open(path) as shown:  # reads the header only
            return shown.width
    except (OSError, TypeError, ValueError, AttributeError):
        return None


@friendly(2)
def focus_from_click(state: ExploreState | None, event: gr.SelectData, shown: str | None = None) -> tuple[bool, float]:
    """Clicking the picture focuses there: automatic focus off, the slider at that depth.
    ``shown`` is the picture clicked on; a click on a (smaller) preview is scaled to the view."""
    view = scene_state(state).view
    x, y = (event.index or (None, None))[:2]
    width = _shown_width(shown)
    if width and width != view.all_in_focus.width and isinstance(x, (int, float)) and isinstance(y, (int, float)):
        scale = view.all_in_focus.width / width
        x, y = min(round(x * scale), view.all_in_focus.width - 1), min(round(y * scale), view.all_in_focus.height - 1)
    try:
        return False, round(focus_at(view.depth.cpu(), x, y), 2)
    except (TypeError, ValueError) as error:
        raise UserError(str(error)) from None


@gpu(duration=gpu_seconds(base=5, per_megapixel=2))
def full_view(scene: DefocusResult, lens: dict) -> Image.Image:
    """``scene`` (its camera, focus and lens set) through the lens with ``lens``'s options, on the models' device."""
    return refocus(on_device(scene, MODELS.device), scene.camera, focus_distance=scene.focus_distance, focus_source=scene.focus_source, **lens).image


@friendly(1)
def download_png(state: ExploreState | None) -> dict:
    """The current view at full resolution as a lossless PNG file."""
    path = named_path("dofgen.png")
    full_view(*view_scene(state)).save(path, format="PNG")
    return gr.update(value=str(path), visible=True)


@friendly(1)
def show_maps(state: ExploreState | None) -> list:
    """All-in-focus, depth, saliency and circle-of-confusion maps with legends."""
    return scene_maps(scene_state(state).view)


def build_explore_tab(demo: gr.Blocks) -> None:
    """Lay out the Explore tab inside ``demo`` (the current ``gr.Blocks``) and wire its events."""
    wiring = _Wiring(build_layout())
    wiring.scenes(demo)
    wiring.lens()
    wiring.outputs()
    demo.unload(end_session)


class _Wiring:
    """The tab's events. The default lens's views render up to 2 at once (the machine's
    cores) and never behind a baseline, which renders after every change, in its own queue;
    live previews are not queued (one in flight per session)."""

    def __init__(self, ui: ExploreLayout) -> None:
        self.ui = ui
        controls, outputs = ui.controls(), ui.view_outputs()
        self.view = dict(inputs=controls, outputs=outputs, concurrency_id="lens", concurrency_limit=2, show_progress="hidden", trigger_mode="always_last")
        # unqueued: a preview is one request and its answer (no queue messages), a third more
        # previews a second; one in flight per session (always_last)
        self.preview = dict(inputs=controls, outputs=[ui.image, ui.focus_info], queue=False, show_progress="hidden", trigger_mode="always_last")
        self.baseline = dict(
            fn=reading_controls(baseline_view), inputs=controls, outputs=outputs, concurrency_id="baseline",
            concurrency_limit=1, show_progress="full", show_progress_on=[ui.focus_info],
        )
        self.baseline_events: list = []

    def then_baseline(self, event: Any) -> None:
        """After ``event``: the baseline lens, when one is chosen, in its own queue."""
        self.baseline_events.append(event.then(**self.baseline, **(HIDDEN if self.baseline_events else {})))

    def scenes(self, demo: gr.Blocks) -> None:
        """A bundled scene (also on page load), a generated one, a photo."""
        ui = self.ui
        loaded, started = ui.scene_outputs(ui.caption), ui.scene_outputs(ui.notes)
        # .change, not .input: Gradio's dropdown sends .input twice for one pick with the mouse,
        # and the second load, landing after the user's next change, would undo it; .select
        # misses picks made with the keys. Nothing else sets the dropdown.
        self.then_baseline(ui.scene.change(load_scene, ui.scene, loaded, concurrency_id="lens"))
        demo.load(load_scene, ui.scene, loaded, concurrency_id="lens", **HIDDEN)
        making = dict(concurrency_id="generate", concurrency_limit=1, show_progress_on=[ui.image])
        self.then_baseline(ui.generate.click(generate_scene, [ui.prompt, ui.seed, ui.f_number, ui.focal_length_mm], started, **making))
        ui.photo.change(preview_photo, ui.photo, ui.photo_preview, concurrency_id="lens", show_progress="minimal")
        ui.depth_file.upload(checked_depth_upload, ui.depth_file, ui.depth_file, show_progress="hidden", api_visibility="private")  # queued: toasts need the queue
        self.then_baseline(ui.use.click(use_photo, [ui.photo, ui.depth_file], started, **making))

    def lens(self) -> None:
        """Sliders preview while they move and render the full view when they are let go
        (drag, typed value on Enter or Tab, keys alike: :mod:`dofgen.ui.client`); the
        choices, and a click on the picture, render at once."""
        ui, preview, refocus = self.ui, reading_controls(preview_view), reading_controls(refocus_view)
        for index, slider in enumerate((ui.f_number, ui.focal_length_mm, ui.highlight_boost)):
            slider.input(preview, **self.preview, **(HIDDEN if index else {}))
            self.then_baseline(slider.release(refocus, **self.view, **(HIDDEN if index else {})))  # /refocus_view: the aperture's
        focus = ui.focus_distance_m
        focus.input(lambda: False, None, ui.auto_focus, queue=False, show_progress="hidden", api_visibility="private")
        focus.input(reading_controls(preview_view, manual=True), **self.preview, **HIDDEN)
        self.then_baseline(focus.release(reading_controls(refocus_view, manual=True), **self.view, **HIDDEN))
        for index, choice in enumerate((ui.auto_focus, ui.blades, ui.method_label)):
            self.then_baseline(choice.input(refocus, **self.view, **(HIDDEN if index else {})))
        ui.method_label.input(lens_controls, ui.method_label, [ui.blades, ui.cancel], queue=False, show_progress="hidden", api_visibility="private")
        clicked = ui.image.select(focus_from_click, [ui.state, ui.image], [ui.auto_focus, focus], concurrency_id="lens", show_progress="hidden", **HIDDEN)
        self.then_baseline(clicked.then(refocus, **self.view, **HIDDEN))
        ui.cancel.click(stop_baseline, None, None, cancels=self.baseline_events, queue=False, show_progress="hidden", api_visibility="private")

    def outputs(self) -> None:
        """Sweeps, the aperture compare, maps and the full-resolution PNG."""
        ui = self.ui
        wire_sweeps(ui.sweep_aperture, ui.sweep_focus, ui.cancel_sweep, ui.state, ui.video)
        wire_compare(ui.compare_button, ui.compare, ui.state, ui.image)
        ui.maps_button.click(show_maps, ui.state, ui.maps, concurrency_id="lens")
        ui.png_button.click(download_png, ui.state, ui.png_file, concurrency_id="sweep")
