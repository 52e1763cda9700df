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
from dofgen.ui.sessions import SESSIONS, ExploreState, control_key, is_stale, note_scene
from dofgen.ui.toasts import UserError, skipped

#: JPEG quality of a live preview (it is replaced by the view within a second).
PREVIEW_JPEG_QUALITY = 80
#: Focus distance slider bounds never go inside these (metres).
FOCUS_LIMITS_M = (0.1, 30.0)
SOURCE_LABELS = {
    "saliency": "automatic, on the subject", "user": "set by you", "camera": "from the camera",
    "scene": "the scene's focus point", "predictor": "automatic, by the trained focus predictor",
}


def focus_range(depth: torch.Tensor) -> tuple[float, float]:
    """Bounds for the focus slider that cover the (H, W) depth in metres, near to far."""
    finite = depth[torch.isfinite(depth) & (depth > 0)].float()
    near, far = (float(finite.min()), float(finite.max())) if finite.numel() else FOCUS_LIMITS_M
    low = max(FOCUS_LIMITS_M[0], math.floor(min(near * 0.8, 0.3) * 10) / 10)
    high = max(FOCUS_LIMITS_M[1], math.ceil(far * 1.1))
    return low, float(high)


def largest_coc_px(scene: DefocusResult, camera: CameraSettings) -> float:
    """The largest circle of confusion on ``scene`` in pixels: at its nearest or farthest
    depth (it grows monotonically away from the focus), so two values instead of every pixel."""
    depth = scene.depth
    ends = torch.stack([depth.min(), depth.max()])
    return float(coc_diameter_px(ends, camera, scene.all_in_focus.width).abs().max())


def focus_text(result: DefocusResult) -> str:
    """The line under the picture: focus distance and its source, aperture, focal length, largest blur."""
    scale = result.all_in_focus.width
    return (
        f"Focus **{result.focus_distance:.2f} m** ({SOURCE_LABELS.get(result.focus_source, result.focus_source)}) · "
        f"f/{float(result.camera.f_number):.1f} · {float(result.camera.focal_length_mm):g} mm · "
        f"largest blur {largest_coc_px(result, result.camera):.0f} px at {scale} px wide"
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


def preview(controls: Controls, request: gr.Request | None) -> object:
    """A reduced rendering while a control moves (the layered lens only; baselines wait
    for the full view); notes the controls as the session's latest."""
    SESSIONS.note(control_key(request), controls=controls.values)
    s = controls.settings()
    state = controls.state
    if s.method != "layered":
        return gr.skip()
    # sent at its own size (the browser scales it to the view's box; a click on it is scaled
    # back to the view's pixels by focus_from_click)
    image = render(state.preview, state, s, quality="fast").image
    return gr.skip() if is_stale(state, request) else save_image(image, PREVIEW_JPEG_QUALITY)


def view(controls: Controls, request: gr.Request | None) -> tuple:
    """Re-run only the lens on the session's scene at display resolution: (state, image,
    focus text, focus). The baseline lenses render in :mod:`dofgen.ui.baseline`."""
    s = controls.settings()
    state = controls.state
    if s.method != "layered":
        return skipped(3) + (round(s.focus_m, 2),)
    result = render(state.view, state, s)
    return skipped(4) if is_stale(state, request) else view_outputs(state, s, result)


def superseded(controls: Controls, request: gr.Request | None) -> bool:
    """Whether a change to other values came in since ``controls`` were sent."""
    latest = SESSIONS.get(control_key(request)).controls
    return latest is not None and latest != controls.values
