"""A/B compare of two apertures on one picture: the view as it is beside the same view at
f/16 (or at f/1.4 when the view is already at f/16 or smaller), in a split slider. It is a
snapshot of the view: it closes when the view changes."""

from __future__ import annotations

import gradio as gr

from dofgen.pipeline import refocus
from dofgen.ui.controls import scene_state
from dofgen.ui.files import save_image
from dofgen.ui.models import gpu
from dofgen.ui.sessions import ExploreState
from dofgen.ui.toasts import friendly

#: The aperture the view is compared with, and the one used when the view is at it already.
COMPARE_F_NUMBER, COMPARE_WIDE_F_NUMBER = 16.0, 1.4


def other_f_number(f_number: float) -> float:
    """The aperture to compare ``f_number`` with: f/16, or f/1.4 from f/16 on."""
    return COMPARE_F_NUMBER if f_number < COMPARE_F_NUMBER else COMPARE_WIDE_F_NUMBER


@friendly(1)
@gpu(duration=20)
def compare_apertures(state: ExploreState | None) -> dict:
    """The session's view (left) and the same scene, focus and lens at :func:`other_f_number`
    (right), in the compare slider."""
    state = scene_state(state)
    view = state.view
    f_number = float(view.camera.f_number)
    other = other_f_number(f_number)
    rendered = refocus(
        view, view.camera.replace(f_number=other), focus_distance=view.focus_distance, method=view.method,
        blades=state.blades, highlight_boost=state.highlight_boost, focus_source=view.focus_source,
    )
    label = f"Left f/{f_number:g}, right f/{other:g}: drag the handle"
    return gr.update(value=(save_image(view.image), save_image(rendered.image)), label=label, visible=True)


def close_compare() -> dict:
    """The view changed: the compare slider shows an older one, so it goes."""
    return gr.update(value=None, visible=False)


def wire_compare(button: gr.Button, slider: gr.ImageSlider, state: gr.State, image: gr.Image) -> None:
    """The compare button, and the slider closing when the view ``image`` changes."""
    button.click(compare_apertures, state, slider, concurrency_id="lens", show_progress_on=[button])
    image.change(close_compare, None, slider, queue=False, show_progress="hidden", api_visibility="private")
