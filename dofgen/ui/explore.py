"""The Explore tab: make or pick a scene, then refocus it with aperture, focal length and focus.

A scene (all-in-focus image, depth, saliency) is made once per session and kept in
``gr.State`` at full resolution, with a copy at display resolution (:data:`VIEW_SIDE`)
that the sliders re-render and a smaller one (:data:`PREVIEW_SIDE`) for live previews
while a slider moves. The PNG download and the sweeps render at full resolution.

A failed action never leaves a control in an error state: handlers raise :class:`UserError`,
which :func:`friendly` turns into a toast (one log line) and unchanged outputs. The baseline
lenses render in their own queue, at a size that bounds their time, with a progress bar and
a cancel button that stops the render's work (not only the request), so the default lens's
sliders never wait behind them.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import torch
from PIL import Image

from dofgen import scenes
from dofgen.camera import STANDARD_STOPS, CameraSettings
from dofgen.focus import focus_at
from dofgen.imageio import MAX_SIDE, InputError, open_photo, read_depth
from dofgen.lens import DEFAULT_HIGHLIGHT_BOOST, RenderStopped, coc_diameter_px
from dofgen.lens.gather import window_offsets
from dofgen.pipeline import DefocusPipeline, DefocusResult, refocus, resized
from dofgen.ui.files import named_path, new_path, save_image
from dofgen.ui.models import MODELS, ModelUnavailable, gpu
from dofgen.video import aperture_sweep, focus_sweep, write_mp4
from dofgen.visualize import scene_maps

LOG = logging.getLogger("dofgen.ui")

METHOD_LABELS = {"Ours (layered)": "layered", "TAF lens (baseline)": "taf", "Dr.Bokeh lens (baseline)": "drbokeh"}
BLADE_CHOICES = ["Circle", "5", "6", "7", "8", "9"]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_SIDE = MAX_SIDE
#: Longer side of the view the sliders render (the PNG and the sweeps use full resolution):
#: display resolution on a laptop, and about 0.7 MP for a 3:2 photo, so a slider costs the same
#: whatever the upload size.
VIEW_SIDE = 1024
#: Longer side of the live preview rendered while a slider moves.
PREVIEW_SIDE = 448
#: JPEG quality of a live preview (it is replaced by the view within a second).
PREVIEW_JPEG_QUALITY = 80
#: A full view follows the last preview once the control has rested this long (seconds).
REST_S = 0.25
#: A baseline lens renders at a size whose estimated time stays under this (seconds).
BASELINE_BUDGET_S = 20.0
#: Seconds per pixel and window offset of the baseline gathers, measured on 2 CPU cores at
#: load 3 to 5 (TAF 1.6e-8 at 400 and 700 px; Dr.Bokeh 0.8e-7 to 1.5e-7); refined by every
#: render this process makes.
BASELINE_COST = {"taf": 1.6e-8, "drbokeh": 1.2e-7}
#: Focus distance slider bounds never go inside these (metres).
FOCUS_LIMITS_M = (0.1, 30.0)
SOURCE_LABELS = {
    "saliency": "automatic, on the subject", "user": "set by you", "camera": "from the camera",
    "scene": "the scene's focus point", "predictor": "automatic, by the trained focus predictor",
}
PHOTO_LIMITS = f"JPEG or PNG, up to {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_SIDE} px a side"
DEPTH_LIMITS = f".npy or .npz in metres, or 16-bit PNG in mm; the photo's aspect ratio; up to {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_SIDE} px a side"
#: CSS: the picture and the sweep sized to their content (no letterbox bars in a fixed box),
#: at most 70 % of the window's height (48 % on a phone, so the sliders show under it).
CSS = """
#explore-image, #explore-video { height: auto !important; }
#explore-image .image-container, #explore-image img, #explore-video video { max-height: min(70vh, 620px); height: auto; }
@media (max-width: 640px) {
  #explore-image .image-container, #explore-image img, #explore-video video { max-height: 48vh; }
}
"""


class UserError(Exception):
    """Something the user can fix; the message is one sentence shown in a toast."""


@dataclass(frozen=True)
class ExploreState:
    """What a session keeps: the full-resolution scene, its view and preview copies (the
    latest rendering in ``view``), the automatic focus and the lens options in use."""

    scene: DefocusResult
    view: DefocusResult
    preview: DefocusResult
    auto_focus_m: float
    blades: int = 0
    highlight_boost: float = 0.0
    scene_id: int = 0

    @classmethod
    def start(cls, scene: DefocusResult) -> "ExploreState":
        """The state for a new scene (with an id of its own); the view is rendered (at
        display resolution) here."""
        view = resized(scene, VIEW_SIDE)
        view = refocus(view, view.camera, focus_source=scene.focus_source)
        return cls(scene, view, resized(scene, PREVIEW_SIDE), scene.focus_distance, scene_id=next(_SCENE_IDS))


class _PerSession:
    """The latest value noted for each session, shared by the server's threads; the
    sessions noted longest ago are forgotten past 10 000 (sessions come and go)."""

    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        self._lock = threading.Lock()

    def note(self, session: str, value: object) -> None:
        with self._lock:
            self._values.pop(session, None)
            self._values[session] = value
            if len(self._values) > 10_000:
                self._values.pop(next(iter(self._values)))

    def get(self, session: str, default: object) -> object:
        with self._lock:
            return self._values.get(session, default)


_SCENE_IDS = itertools.count(1)
#: Per session: the id of its latest scene. A view rendered on an older one (a control
#: moved while a new scene was being made) lands after it and must not bring the old back.
_CURRENT_SCENE = _PerSession()


def _note_scene(request: gr.Request | None, state: ExploreState) -> None:
    key = getattr(request, "session_hash", None)
    if key is not None:
        _CURRENT_SCENE.note(key, state.scene_id)


def _stale(state: ExploreState, request: gr.Request | None) -> bool:
    """Whether the session has made a newer scene than ``state``'s."""
    key = getattr(request, "session_hash", None)
    return key is not None and _CURRENT_SCENE.get(key, state.scene_id) != state.scene_id


def friendly(outputs: int) -> callable:
    """Turn a handler's :class:`UserError` (and a bad input Gradio lets through) into a
    warning toast and ``outputs`` unchanged outputs, logged in one line: no control is
    left in an error state."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapped(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except (UserError, gr.Error) as error:  # gr.Error: what spaces.GPU makes of ours
                message = getattr(error, "message", None) or str(error)
                LOG.info("%s: %s", handler.__name__, message)
                gr.Warning(message)
                return gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))

        return wrapped

    return decorate


def _pipeline(**components) -> DefocusPipeline:
    """A pipeline on the app's device (spectral residual with the subject prior unless given);
    automatic focus comes from the trained focus predictor when one loads."""
    return DefocusPipeline(device=MODELS.device, focus_predictor=MODELS.focus_predictor(), **components)


def focus_range(depth: torch.Tensor) -> tuple[float, float]:
    """Bounds for the focus slider that cover the scene's depth, near to far (metres)."""
    finite = depth[torch.isfinite(depth) & (depth > 0)].float()
    near, far = (float(finite.min()), float(finite.max())) if finite.numel() else FOCUS_LIMITS_M
    low = max(FOCUS_LIMITS_M[0], math.floor(min(near * 0.8, 0.3) * 10) / 10)
    high = max(FOCUS_LIMITS_M[1], math.ceil(far * 1.1))
    return low, float(high)


def _start(result: DefocusResult, caption: str = "", request: gr.Request | None = None) -> tuple:
    """Outputs shared by every way of making a scene: state, image, focus text, notes,
    aperture, focal length, focus (its range following the depth), automatic focus, and the
    previous scene's sweep video and PNG hidden."""
    state = ExploreState.start(result)
    _note_scene(request, state)
    camera = result.camera
    low, high = focus_range(result.depth)
    return (
        state, save_image(state.view.image), _focus_text(state.view), caption or _notes(result),
        float(camera.f_number), float(camera.focal_length_mm),
        gr.update(minimum=low, maximum=high, value=round(result.focus_distance, 2)), result.focus_source != "user",
        gr.update(value=None, visible=False), gr.update(value=None, visible=False),
    )


def largest_coc_px(scene: DefocusResult, camera: CameraSettings) -> float:
    """The largest CoC diameter on ``scene`` in pixels: at its nearest or farthest depth (the
    CoC grows monotonically away from the focus), so two values instead of every pixel."""
    depth = scene.depth
    ends = torch.stack([depth.min(), depth.max()])
    return float(coc_diameter_px(ends, camera, scene.all_in_focus.width).abs().max())


def _focus_text(result: DefocusResult) -> str:
    scale = result.all_in_focus.width
    return (
        f"Focus **{result.focus_distance:.2f} m** ({SOURCE_LABELS.get(result.focus_source, result.focus_source)}) · "
        f"f/{float(result.camera.f_number):.1f} · {float(result.camera.focal_length_mm):g} mm · "
        f"largest blur {largest_coc_px(result, result.camera):.0f} px at {scale} px wide"
    )


def _notes(result: DefocusResult) -> str:
    return "\n".join(f"- {note}" for note in result.notes)


@friendly(10)
def load_scene(name: str, request: gr.Request = None) -> tuple:
    """A bundled scene, focused on its focus point (or found automatically)."""
    try:
        scene = scenes.load(name)
    except ValueError as error:
        raise UserError(str(error)) from None
    point = scene.focus_point
    focus = focus_at(scene.depth, *point) if point else None
    result = _pipeline().from_image(scene.image, scene.depth, camera=scene.camera, focus_distance=focus, focus_source="scene", render=False)
    meta = scene.meta
    return _start(result, f"**{meta.get('title', name)}** — {meta.get('source', '')}. Licence: {meta.get('licence', '?')}.", request)


@friendly(10)
@gpu(duration=120)
def generate_scene(prompt: str, seed: float, f_number: float, focal_length_mm: float, request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> tuple:
    """Generate a scene from a prompt (needs the generator and depth models)."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError("Type a prompt first, for example: a corgi on a sunny lawn.")
    if not isinstance(seed, (int, float)) or not math.isfinite(seed) or not 0 <= seed < 2**32:
        raise UserError("The seed must be a whole number from 0 to 4294967295.")
    camera = _camera(CameraSettings(2.8, 50.0, 2.0), f_number, focal_length_mm, None)
    try:
        progress(0.0, desc="Loading models (first use only)")
        pipe = _pipeline(generator=MODELS.generator(), depth=MODELS.depth(), saliency=MODELS.saliency())
    except ModelUnavailable as error:
        raise UserError(f"{error} Bundled scenes and your own photos with a depth map still work.") from None

    def report(stage: str, done: int, total: int) -> None:
        progress(done / max(total, 1), desc={"generate": "Generating", "depth": "Estimating depth", "saliency": "Finding the subject", "lens": "Rendering"}[stage])

    try:
        result = pipe(prompt, camera, seed=int(seed), progress=report)
    except ValueError as error:
        raise UserError(str(error)) from None
    return _start(result, request=request)


@friendly(1)
def preview_photo(path: str | None) -> str | None:
    """The uploaded photo as it will be used (upright), or a toast saying why it cannot be."""
    if not path:
        return None
    return save_image(_open_upload(path))


def _open_upload(path: str):
    try:
        if _size(path) > MAX_UPLOAD_BYTES:
            raise UserError(f"The photo is over {MAX_UPLOAD_BYTES // 2**20} MB; please upload a smaller one.")
        return open_photo(path, MAX_UPLOAD_SIDE)
    except InputError as error:
        raise UserError(str(error)) from None


def _size(path: str) -> int:
    return Path(path).stat().st_size


@friendly(10)
@gpu(duration=60)
def use_photo(path: str | None, depth_path: str | None, request: gr.Request = None) -> tuple:
    """A user's photo: camera from its EXIF, depth from the model or an uploaded map."""
    if not path:
        raise UserError("Upload a photo first.")
    photo = _open_upload(path)
    depth, notes = None, []
    if depth_path:
        if _size(depth_path) > MAX_UPLOAD_BYTES:
            raise UserError(f"The depth map is over {MAX_UPLOAD_BYTES // 2**20} MB; save it as a compressed .npz.")
        try:
            depth, notes = read_depth(depth_path, photo.size)
        except InputError as error:
            raise UserError(str(error)) from None
    try:
        estimator = None if depth is not None else MODELS.depth()
    except ModelUnavailable as error:
        raise UserError(f"{error} Or upload a depth map with the photo.") from None
    try:
        result = _pipeline(depth=estimator, saliency=MODELS.saliency()).from_image(photo, depth, render=False)
    except ValueError as error:
        raise UserError(str(error)) from None
    return _start(replace(result, notes=result.notes + tuple(notes)), request=request)


def _camera(base: CameraSettings, f_number: float, focal_length_mm: float, focus_m: float | None) -> CameraSettings:
    changes = {"f_number": f_number, "focal_length_mm": focal_length_mm}
    if focus_m is not None:
        changes["focus_distance_m"] = focus_m
    for name, value in changes.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError(f"{name} must be a number, got {value!r}.")
    try:
        return base.replace(**{k: float(v) for k, v in changes.items()})
    except ValueError as error:
        raise UserError(str(error)) from None


@dataclass(frozen=True)
class Settings:
    """The controls, checked: what a render needs."""

    camera: CameraSettings
    focus_m: float
    auto: bool
    method: str
    blades: int
    highlight_boost: float


def _settings(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label) -> Settings:
    if state is None:
        raise UserError("Pick, generate or upload a scene first.")
    method = METHOD_LABELS.get(method_label)
    if method is None:
        raise UserError(f"Unknown lens {method_label!r}; choose one of: {', '.join(METHOD_LABELS)}.")
    if blades not in BLADE_CHOICES:
        raise UserError(f"Aperture blades must be one of {', '.join(BLADE_CHOICES)}.")
    if not isinstance(highlight_boost, (int, float)) or not math.isfinite(highlight_boost) or highlight_boost < 0:
        raise UserError("The highlight boost must be a number of 0 or more.")
    focus = state.auto_focus_m if auto_focus else focus_distance_m
    camera = _camera(state.scene.camera, f_number, focal_length_mm, focus)
    # blades shape the layered lens's kernel only; the baselines gather round discs
    return Settings(camera, float(focus), bool(auto_focus), method, 0 if blades == "Circle" or method != "layered" else int(blades), float(highlight_boost))


def _render(scene: DefocusResult, state: ExploreState, s: Settings, quality: str = "accurate", should_stop=None) -> DefocusResult:
    """The lens on ``scene`` with the controls' settings; ``quality="fast"`` for live
    previews; ``should_stop`` ends a baseline's gather early (:class:`RenderStopped`)."""
    source = state.scene.focus_source if s.auto else "user"
    try:
        return refocus(
            scene, s.camera, focus_distance=s.focus_m, method=s.method, blades=s.blades,
            highlight_boost=s.highlight_boost, focus_source=source, quality=quality, should_stop=should_stop,
        )
    except ValueError as error:
        raise UserError(str(error)) from None


def _view_outputs(state: ExploreState, s: Settings, result: DefocusResult) -> tuple:
    new = replace(state, view=result, blades=s.blades, highlight_boost=s.highlight_boost)
    return new, save_image(result.image), _focus_text(result), round(s.focus_m, 2)


#: Per session: the controls' values of its latest change (the full view that follows a
#: change renders only when no change to other values came in the meantime; a repeated
#: change to the same values, as a blur after Enter sends, does not cancel it).
_LATEST = _PerSession()


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


@friendly(1)
@gpu(duration=10)
def preview_view(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label, request: gr.Request = None):
    """A reduced rendering while a control moves (the layered lens only; baselines wait
    for the full view)."""
    _LATEST.note(_session(request), (f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label))
    s = _settings(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label)
    if s.method != "layered":
        return gr.skip()
    # sent at its own size (the browser scales it to the view's box; a click on it is scaled
    # back to the view's pixels by focus_from_click)
    image = _render(state.preview, state, s, quality="fast").image
    return gr.skip() if _stale(state, request) else save_image(image, PREVIEW_JPEG_QUALITY)


@friendly(4)
@gpu(duration=20)
def refocus_view(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label, request: gr.Request = None):
    """Re-run only the lens on the session's scene at display resolution; returns (state,
    image, focus text, focus). The baseline lenses render in :func:`baseline_view`."""
    s = _settings(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label)
    if s.method != "layered":
        return (gr.skip(),) * 3 + (round(s.focus_m, 2),)
    result = _render(state.view, state, s)
    return (gr.skip(),) * 4 if _stale(state, request) else _view_outputs(state, s, result)


@friendly(4)
def settled_view(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label, request: gr.Request = None):
    """:func:`refocus_view` once the control has rested :data:`REST_S` with no change to
    other values."""
    time.sleep(REST_S)
    values = (f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label)
    if _LATEST.get(_session(request), values) != values:
        return (gr.skip(),) * 4
    return refocus_view.__wrapped__(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label, request)


def baseline_estimate(scene: DefocusResult, camera: CameraSettings, method: str) -> float:
    """Estimated seconds for a baseline lens on ``scene``: pixels times window offsets."""
    width, height = scene.all_in_focus.size
    radius = largest_coc_px(scene, camera) / 2
    offsets = sum(1 for _ in window_offsets(radius))
    return BASELINE_COST[method] * width * height * offsets


def baseline_scale(scene: DefocusResult, camera: CameraSettings, method: str, budget_s: float = BASELINE_BUDGET_S) -> float:
    """Share of ``scene``'s size at which ``method`` is estimated to take ``budget_s`` or
    less (1 when it already does): time grows with the fourth power of the size."""
    estimate = baseline_estimate(scene, camera, method)
    return 1.0 if estimate <= budget_s else (budget_s / estimate) ** 0.25 * 0.97


#: Per session: the stop flag of its running baseline render (set by Cancel, or by choosing
#: our lens). Gradio's ``cancels`` ends the request only; the flag ends the work.
_BASELINE_STOPS: dict[str, threading.Event] = {}


def stop_baseline(request: gr.Request = None) -> None:
    """Stop the session's baseline render: its gather ends within a few window offsets.
    (Under ZeroGPU the render runs in another process and is not reached; it is fast there.)"""
    stop = _BASELINE_STOPS.get(_session(request))
    if stop is not None:
        stop.set()


@friendly(4)
@gpu(duration=60)
def baseline_view(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label, request: gr.Request = None, progress: gr.Progress = gr.Progress()):
    """A baseline lens (TAF or Dr.Bokeh): the view at a size that keeps it within
    :data:`BASELINE_BUDGET_S`, with a progress bar that counts against the estimate;
    :func:`stop_baseline` ends it early and leaves the view as it was."""
    s = _settings(state, f_number, focal_length_mm, auto_focus, focus_distance_m, blades, highlight_boost, method_label)
    if s.method == "layered":
        return (gr.skip(),) * 4
    camera = s.camera.replace(focus_distance_m=s.focus_m)
    scale = baseline_scale(state.view, camera, s.method)
    scene = resized(state.view, max(64, int(max(state.view.all_in_focus.size) * scale)))
    estimate = baseline_estimate(scene, camera, s.method)
    label = {"taf": "TAF lens", "drbokeh": "Dr.Bokeh lens"}[s.method]
    done, stop = threading.Event(), threading.Event()
    session = _session(request)
    _BASELINE_STOPS[session] = stop
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = _render(scene, state, s, should_stop=stop.is_set)
        except (UserError, RenderStopped) as error:
            outcome["error"] = error
        finally:
            done.set()

    start = time.perf_counter()
    threading.Thread(target=work, name=f"baseline-{session}", daemon=True).start()
    try:
        while not done.wait(0.5):
            elapsed = time.perf_counter() - start
            progress(min(elapsed / max(estimate, 1e-3), 0.99), desc=f"{label}: {elapsed:.0f} s of about {_seconds(estimate)}")
    finally:
        if _BASELINE_STOPS.get(session) is stop:
            del _BASELINE_STOPS[session]
    if isinstance(outcome.get("error"), RenderStopped):
        LOG.info("baseline_view: %s stopped after %.1f s", label, time.perf_counter() - start)
        return (gr.skip(),) * 4
    if "error" in outcome:
        raise outcome["error"]
    elapsed = time.perf_counter() - start
    BASELINE_COST[s.method] *= (elapsed / max(estimate, 1e-3)) ** 0.5  # learn this machine's speed
    result = outcome["result"]
    if _stale(state, request):
        return (gr.skip(),) * 4
    new, image, text, focus = _view_outputs(state, s, result)
    size = "x".join(map(str, result.all_in_focus.size))
    return new, image, f"{text} · {label} rendered at {size} in {elapsed:.1f} s (estimated {_seconds(estimate)})", focus


def _seconds(seconds: float) -> str:
    """``seconds`` for people: "0.4 s", "18 s"."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


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
    if state is None:
        raise UserError("Pick, generate or upload a scene first.")
    x, y = (event.index or (None, None))[:2]
    width = _shown_width(shown)
    if width and width != state.view.all_in_focus.width and isinstance(x, (int, float)) and isinstance(y, (int, float)):
        scale = state.view.all_in_focus.width / width
        x, y = min(round(x * scale), state.view.all_in_focus.width - 1), min(round(y * scale), state.view.all_in_focus.height - 1)
    depth = state.view.depth.cpu()
    try:
        return False, round(focus_at(depth, x, y), 2)
    except (TypeError, ValueError) as error:
        raise UserError(str(error)) from None


def _full(state: ExploreState) -> DefocusResult:
    """The session's current view rendered at full resolution."""
    view = state.view
    return refocus(state.scene, view.camera, focus_distance=view.focus_distance, method=view.method, blades=state.blades, highlight_boost=state.highlight_boost, focus_source=view.focus_source)


@friendly(1)
@gpu(duration=60)
def download_png(state: ExploreState | None) -> dict:
    """The current view at full resolution as a lossless PNG file."""
    if state is None:
        raise UserError("Pick, generate or upload a scene first.")
    path = named_path("dofgen.png")
    _full(state).image.save(path, format="PNG")
    return gr.update(value=str(path), visible=True)


def _video(frames: list) -> dict:
    return gr.update(value=str(write_mp4(frames, new_path(".mp4"), fps=12)), visible=True)


def _sweep_scene(state: ExploreState | None) -> tuple[DefocusResult, dict]:
    if state is None:
        raise UserError("Pick, generate or upload a scene first.")
    view = state.view
    scene = replace(state.scene, camera=view.camera, focus_distance=view.focus_distance, method=view.method)
    return scene, dict(blades=state.blades, highlight_boost=state.highlight_boost)


@friendly(1)
@gpu(duration=300)
def render_aperture_sweep(state: ExploreState | None, progress: gr.Progress = gr.Progress()) -> dict:
    """An MP4 of the scene from f/1.8 to f/22 at the current focus, with the view's lens,
    blades and highlight boost, at full resolution."""
    scene, lens = _sweep_scene(state)
    return _video(aperture_sweep(scene, captions=True, progress=lambda i, n: progress(i / n, desc="Rendering the aperture sweep"), **lens))


@friendly(1)
@gpu(duration=300)
def render_focus_sweep(state: ExploreState | None, progress: gr.Progress = gr.Progress()) -> dict:
    """An MP4 of the scene with focus travelling from near to far at the current aperture."""
    scene, lens = _sweep_scene(state)
    return _video(focus_sweep(scene, frames=36, captions=True, progress=lambda i, n: progress(i / n, desc="Rendering the focus sweep"), **lens))


@friendly(1)
def show_maps(state: ExploreState | None) -> list:
    """All-in-focus, depth, saliency and circle-of-confusion maps with legends."""
    if state is None:
        raise UserError("Pick, generate or upload a scene first.")
    return scene_maps(state.view)


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
            f_number = gr.Slider(
                STANDARD_STOPS[0], STANDARD_STOPS[-1], value=2.8, step=0.1, label="Aperture (f-number)",
                info="Smaller opens the aperture: more blur. Stops: " + ", ".join(f"f/{s:g}" for s in STANDARD_STOPS),
                elem_id="explore-aperture",
            )
            focal = gr.Slider(14, 200, value=50, step=1, label="Focal length (mm)", elem_id="explore-focal-length")
            with gr.Row():
                auto = gr.Checkbox(value=True, label="Automatic focus (on the subject)", elem_id="explore-auto-focus", min_width=160)
            focus = gr.Slider(*FOCUS_LIMITS_M, value=2.0, step=0.01, label="Focus distance (m)", info="Moving it turns automatic focus off; its range follows the scene's depth.", elem_id="explore-focus")
            with gr.Row():
                png_button = gr.Button("Full-resolution PNG", size="sm", elem_id="explore-png-button")
                png_file = gr.File(label="PNG", elem_id="explore-png", height=60, visible=False)
        with gr.Column(scale=2, min_width=280):
            with gr.Tabs():
                with gr.Tab("Bundled scene"):
                    scene = gr.Dropdown(names, value=names[0] if names else None, label="Scene", elem_id="explore-scene")
                    caption = gr.Markdown()
                with gr.Tab("Generate"):
                    prompt = gr.Textbox(label="Prompt", placeholder="a corgi on a sunny lawn", lines=2, elem_id="explore-prompt")
                    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", elem_id="explore-seed")
                    generate = gr.Button("Generate", variant="primary", elem_id="explore-generate")
                    gr.Markdown("Makes an all-in-focus image with a few-step SDXL at its native size, then its depth; the lens adds the blur. The models load on first use.")
                with gr.Tab("Your photo"):
                    photo = gr.File(label=f"Photo ({PHOTO_LIMITS}); its EXIF sets the camera", file_types=["image"], elem_id="explore-upload", height=90)
                    photo_preview = gr.Image(label="As it will be used", interactive=False, elem_id="explore-upload-preview", height=200)
                    depth_file = gr.File(label=f"Depth map, optional ({DEPTH_LIMITS})", file_types=[".npy", ".npz", ".png"], elem_id="explore-depth-upload", height=90)
                    use = gr.Button("Use this photo", variant="primary", elem_id="explore-use-photo")
            notes = gr.Markdown(elem_id="explore-notes")
            blades = gr.Radio(BLADE_CHOICES, value="Circle", label="Aperture blades", elem_id="explore-blades")
            boost = gr.Slider(0.0, 2.0, value=DEFAULT_HIGHLIGHT_BOOST, step=0.05, label="Highlight boost", info="Bright lights bloom into bokeh discs.", elem_id="explore-highlights")
            method = gr.Radio(
                list(METHOD_LABELS), value=next(iter(METHOD_LABELS)), label="Lens",
                info=f"The baselines gather per pixel: they render in their own queue, at a size that keeps them under about {BASELINE_BUDGET_S:.0f} s.",
                elem_id="explore-method",
            )
            cancel = gr.Button("Cancel the baseline render", size="sm", elem_id="explore-cancel", variant="stop", visible=False)
    with gr.Row():
        sweep_aperture = gr.Button("Aperture sweep (f/1.8 → f/22)", elem_id="explore-sweep-aperture", variant="primary")
        sweep_focus = gr.Button("Focus sweep (near → far)", elem_id="explore-sweep-focus")
    video = gr.Video(label="Sweep", elem_id="explore-video", autoplay=True, loop=True, interactive=False, height="min(70vh, 620px)", visible=False)
    with gr.Accordion("Scene maps: all in focus, depth, saliency, circle of confusion", open=False):
        maps_button = gr.Button("Show the maps for the current view", elem_id="explore-maps-button")
        maps = gr.Gallery(columns=2, height="auto", elem_id="explore-maps", show_label=False)

    controls = [state, f_number, focal, auto, focus, blades, boost, method]
    view_outputs = [state, image, focus_info, focus]
    hidden = dict(api_visibility="undocumented")  # chained steps: one public endpoint each
    # the default lens: up to 2 renders at once (the machine's cores), never behind a baseline
    view = dict(inputs=controls, outputs=view_outputs, concurrency_id="lens", concurrency_limit=2, show_progress="hidden", trigger_mode="always_last")
    preview = dict(fn=preview_view, inputs=controls, outputs=image, concurrency_id="lens", show_progress="hidden", trigger_mode="always_last")
    baseline = dict(fn=baseline_view, inputs=controls, outputs=view_outputs, concurrency_id="baseline", concurrency_limit=1, show_progress="full", show_progress_on=[focus_info])
    baseline_events = []

    def with_baseline(event) -> None:
        """After ``event``: the baseline lens, when one is chosen, in its own queue."""
        baseline_events.append(event.then(**baseline, **(hidden if baseline_events else {})))

    scene_outputs = [state, image, focus_info, caption, f_number, focal, focus, auto, video, png_file]
    started = [state, image, focus_info, notes, f_number, focal, focus, auto, video, png_file]
    # .change, not .input: Gradio's dropdown sends .input twice for one pick with the mouse,
    # and the second load, landing after the user's next change, would undo it; .select
    # misses picks made with the keys. Nothing else sets the dropdown.
    with_baseline(scene.change(load_scene, scene, scene_outputs, concurrency_id="lens"))
    demo.load(load_scene, scene, scene_outputs, concurrency_id="lens", **hidden)
    making = dict(concurrency_id="generate", concurrency_limit=1, show_progress_on=[image])
    with_baseline(generate.click(generate_scene, [prompt, seed, f_number, focal], started, **making))
    photo.change(preview_photo, photo, photo_preview, concurrency_id="lens", show_progress="minimal")
    with_baseline(use.click(use_photo, [photo, depth_file], started, **making))
    # a slider: previews while it moves, the full view once it rests (drag, typing, keys alike)
    for index, slider in enumerate((f_number, focal, boost)):
        with_baseline(slider.input(**preview, **(hidden if index else {})).then(settled_view, **view, **hidden))
    focus.input(lambda: False, None, auto, queue=False, show_progress="hidden", api_visibility="private")
    manual_preview, manual_view = functools.partial(_manual, preview_view), functools.partial(_manual, settled_view)
    with_baseline(focus.input(**(preview | {"fn": manual_preview}), **hidden).then(manual_view, **view, **hidden))
    for index, choice in enumerate((auto, blades, method)):
        with_baseline(choice.input(refocus_view, **view, **(hidden if index else {})))
    method.input(lens_controls, method, [blades, cancel], queue=False, show_progress="hidden", api_visibility="private")
    clicked = image.select(focus_from_click, [state, image], [auto, focus], concurrency_id="lens", show_progress="hidden", **hidden)
    with_baseline(clicked.then(refocus_view, **view, **hidden))
    cancel.click(stop_baseline, None, None, cancels=baseline_events, queue=False, show_progress="hidden", api_visibility="private")
    sweep_aperture.click(render_aperture_sweep, state, video, concurrency_id="sweep", concurrency_limit=1)
    sweep_focus.click(render_focus_sweep, state, video, concurrency_id="sweep", concurrency_limit=1)
    maps_button.click(show_maps, state, maps, concurrency_id="lens")
    png_button.click(download_png, state, png_file, concurrency_id="sweep")


def _manual(handler, state, f_number, focal_length_mm, auto_focus, focus_distance_m, *rest, request: gr.Request = None):
    """``handler`` with automatic focus off: the focus slider was moved."""
    return handler(state, f_number, focal_length_mm, False, focus_distance_m, *rest, request=request)
