"""The Explore view: the lens on a session's scene with the controls' settings, and the
outputs around it (picture, focus line, focus slider).

Plain functions; the handlers in :mod:`dofgen.ui.explore` add the toasts and the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import gradio as gr
import torch

from dofgen.camera import CameraSettings
from dofgen.lens import coc_diameter_px
from dofgen.pipeline import DefocusResult, on_device, refocus
from dofgen.ui.controls import Controls, Settings
from dofgen.ui.files import save_image
from dofgen.ui.readout import camera_readout
from dofgen.ui.scales import FOCUS_FAR_M
from dofgen.ui.sessions import SESSIONS, ExploreState, control_key, is_stale, note_scene
from dofgen.ui.toasts import UserError, skipped

#: JPEG quality of a live preview (it is replaced by the view when the control is let go).
PREVIEW_JPEG_QUALITY = 80
#: Focus distance slider bounds never go inside these (metres): the far end is as good as
#: infinity (the track is even in 1/distance, :mod:`dofgen.ui.scales`).
FOCUS_LIMITS_M = (0.1, FOCUS_FAR_M)
#: A live preview's file name ends so: the page (and a test) tells it from the view.
PREVIEW_SUFFIX = "-preview.jpg"
SOURCE_LABELS = {
    "saliency": "automatic, on the subject", "user": "set by you", "camera": "from the camera",
    "scene": "the scene's focus point", "predictor": "automatic, by the trained focus predictor",
}


def focus_range(depth: torch.Tensor) -> tuple[float, float]:
    """Bounds for the focus slider that cover the (H, W) depth in metres: from a little nearer
    than its nearest surface (so its depths fill most of a track even in 1/distance) to
    :data:`FOCUS_LIMITS_M`'s far end."""
    finite = depth[torch.isfinite(depth) & (depth > 0)].float()
    near, far = (float(finite.min()), float(finite.max())) if finite.numel() else FOCUS_LIMITS_M
    low = max(FOCUS_LIMITS_M[0], math.floor(near * 0.8 * 10) / 10)
    high = max(FOCUS_LIMITS_M[1], math.ceil(far * 1.1))
    return low, float(high)


def largest_coc_px(scene: DefocusResult, camera: CameraSettings) -> float:
    """The largest circle of confusion on ``scene`` in pixels: at its nearest or farthest
    depth (it grows monotonically away from the focus), so two values instead of every pixel."""
    depth = scene.depth
    ends = torch.stack([depth.min(), depth.max()])
    return float(coc_diameter_px(ends, camera, scene.all_in_focus.width).abs().max())


def focus_text(result: DefocusResult) -> str:
    """The lines under the picture: focus distance and its source, aperture, focal length,
    largest blur; depth of field and the full-frame equivalent (:func:`camera_readout`)."""
    scale = result.all_in_focus.width
    return (
        f"Focus **{result.focus_distance:.2f} m** ({SOURCE_LABELS.get(result.focus_source, result.focus_source)}) · "
        f"f/{float(result.camera.f_number):.1f} · {float(result.camera.focal_length_mm):g} mm · "
        f"largest blur {largest_coc_px(result, result.camera):.0f} px at {scale} px wide  \n"
        + camera_readout(result.camera, result.all_in_focus.size)
    )


def scene_outputs(result: DefocusResult, caption: str = "", request: gr.Request | None = None) -> tuple:
    """Outputs shared by every way of making a scene: state, image, focus text, notes,
    aperture, focal length, focus (its range following the depth), automatic focus, and the
    previous scene's sweep video and PNG hidden. The session keeps ``result`` on the CPU
    (its views render there; ``gr.State`` holds no CUDA tensor)."""
    state = ExploreState.start(on_device(result, "cpu"))
    note_scene(request, state)
    camera = result.camera
    low, high = focus_range(result.depth)
    return (
        state, save_image(state.view.image), focus_text(state.view), caption or "\n".join(f"- {note}" for note in result.notes),
        float(camera.f_number), float(camera.focal_length_mm),
        gr.update(minimum=low, maximum=high, value=round(result.focus_distance, 2)), result.focus_source != "user",
        gr.update(value=None, visible=False), gr.update(value=None, visible=False),
    )


def render(
    scene: DefocusResult, state: ExploreState, s: Settings, quality: str = "accurate", should_stop: Callable[[], bool] | None = None
) -> DefocusResult:
    """The lens on ``scene`` with the controls' settings; ``quality="fast"`` for live
    previews; ``should_stop`` ends a baseline's gather early (:class:`RenderStopped`)."""
    return lens(scene, state.scene.focus_source if s.auto else "user", s, quality, should_stop)


def lens(scene: DefocusResult, source: str, s: Settings, quality: str = "accurate", should_stop: Callable[[], bool] | None = None) -> DefocusResult:
    """:func:`render` with the focus source given (``source``) instead of a session's state."""
    try:
        return refocus(
            scene, s.camera, focus_distance=s.focus_m, method=s.method, blades=s.blades,
            highlight_boost=s.highlight_boost, focus_source=source, quality=quality, should_stop=should_stop,
        )
    except ValueError as error:
        raise UserError(str(error)) from None


def view_outputs(state: ExploreState, s: Settings, result: DefocusResult) -> tuple:
    """State, picture, focus line and focus slider for ``result``, the session's new view."""
    new = replace(state, view=result, blades=s.blades, highlight_boost=s.highlight_boost)
    return new, save_image(result.image), focus_text(result), round(s.focus_m, 2)


def preview(controls: Controls, request: gr.Request | None) -> tuple:
    """A reduced rendering while a control moves, with the focus line the view will have:
    (picture, focus line). The layered lens only (baselines wait for the full view). A
    preview of values already sent to the view, or one during which a view started, is
    skipped: it would land on the view with a coarser picture."""
    key = control_key(request)
    record = SESSIONS.get(key)
    if record.viewed == controls.values:
        return skipped(2)
    SESSIONS.note(key, viewed=None)
    s = controls.settings()
    state = controls.state
    if s.method != "layered":
        return skipped(2)
    # rendered small (the page scales it to the view's box; a click on it is scaled back to
    # the view's pixels by focus_from_click); its focus line is the view's
    result = render(state.preview, state, s, quality="fast")
    if is_stale(state, request) or SESSIONS.get(key).views != record.views:
        return skipped(2)
    as_view = replace(state.view, camera=result.camera, focus_distance=result.focus_distance, focus_source=result.focus_source)
    return save_image(result.image, PREVIEW_JPEG_QUALITY, PREVIEW_SUFFIX), focus_text(as_view)


def shows(state: ExploreState, s: Settings) -> bool:
    """Whether the session's view is already the rendering of ``s`` (a Tab through the boxes
    releases a slider without changing it; a drag may end where it began)."""
    view, source = state.view, state.scene.focus_source if s.auto else "user"
    cameras = [(float(c.f_number), float(c.focal_length_mm), float(c.focus_distance_m), float(c.sensor_width_mm)) for c in (view.camera, s.camera)]
    return cameras[0] == cameras[1] and (view.method, view.focus_source, state.blades, state.highlight_boost) == (s.method, source, s.blades, s.highlight_boost)


def view(controls: Controls, request: gr.Request | None) -> tuple:
    """Re-run only the lens on the session's scene at display resolution: (state, image,
    focus text, focus). The baseline lenses render in :mod:`dofgen.ui.baseline`. Not shown
    when the session has made a newer scene meanwhile. A view is never dropped for a
    preview that came in meanwhile: that preview may have been sent before the view (the
    views land in order; the next preview replaces one the pointer has left)."""
    key = control_key(request)
    SESSIONS.start_view(key, controls.values)
    s = controls.settings()
    state = controls.state
    if s.method != "layered":
        return skipped(3) + (round(s.focus_m, 2),)
    result = state.view if shows(state, s) else render(state.view, state, s)
    return skipped(4) if is_stale(state, request) else view_outputs(state, s, result)

