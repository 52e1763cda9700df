"""The baseline lenses (TAF, Dr.Bokeh) in the Explore tab.

They gather per pixel, so they render in their own queue, at a size whose estimated time
stays within :data:`BASELINE_BUDGET_S`, in a thread that the session's stop flag ends (Cancel,
or choosing our lens), with a progress bar that counts against the estimate. The lens runs
in :func:`baseline_lens`, on the GPU where there is one (a ZeroGPU call: its process is not
reached by the stop flag).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable

import gradio as gr

from dofgen.camera import CameraSettings
from dofgen.lens import RenderStopped
from dofgen.lens.gather import window_offsets
from dofgen.pipeline import DefocusResult, on_device, resized
from dofgen.ui.controls import Controls, Settings
from dofgen.ui.models import MODELS, ZERO_GPU, gpu
from dofgen.ui.sessions import SESSIONS, ExploreState, control_key, is_stale
from dofgen.ui.toasts import LOG, UserError, skipped
from dofgen.ui.views import largest_coc_px, lens, view_outputs

#: A baseline lens renders at a size whose estimated time stays under this (seconds).
BASELINE_BUDGET_S = 20.0
LABELS = {"taf": "TAF lens", "drbokeh": "Dr.Bokeh lens"}


class BaselineCost:
    """Seconds per pixel and window offset of each baseline lens's gather, learnt from every
    render this process makes."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self._seconds = dict(seconds)
        self._lock = threading.Lock()

    def __getitem__(self, method: str) -> float:
        with self._lock:
            return self._seconds[method]

    def learn(self, method: str, estimate_s: float, elapsed_s: float) -> None:
        """A render of ``method`` estimated at ``estimate_s`` took ``elapsed_s``: move the
        cost halfway (geometrically) towards what it measured."""
        with self._lock:
            self._seconds[method] *= (elapsed_s / max(estimate_s, 1e-3)) ** 0.5


#: Measured on 2 CPU cores at load 3 to 5 (TAF 1.6e-8 at 400 and 700 px; Dr.Bokeh 0.8e-7 to
#: 1.5e-7).
BASELINE_COST = BaselineCost({"taf": 1.6e-8, "drbokeh": 1.2e-7})


def baseline_estimate(scene: DefocusResult, camera: CameraSettings, method: str, cost: BaselineCost = BASELINE_COST) -> float:
    """Estimated seconds for a baseline lens on ``scene``: pixels times window offsets."""
    width, height = scene.all_in_focus.size
    offsets = sum(1 for _ in window_offsets(largest_coc_px(scene, camera) / 2))
    return cost[method] * width * height * offsets


def baseline_scale(scene: DefocusResult, camera: CameraSettings, method: str, budget_s: float = BASELINE_BUDGET_S) -> float:
    """Share of ``scene``'s size at which ``method`` is estimated to take ``budget_s`` or
    less (1 when it already does): time grows with the fourth power of the size."""
    estimate = baseline_estimate(scene, camera, method)
    return 1.0 if estimate <= budget_s else (budget_s / estimate) ** 0.25 * 0.97


def _lens_seconds(scene: DefocusResult, source: str, s: Settings, should_stop: object = None) -> float:
    """GPU seconds a :func:`baseline_lens` call asks for: its estimate on the CPU (an upper
    bound), and 10 s more."""
    return min(120.0, 10.0 + baseline_estimate(scene, s.camera.replace(focus_distance_m=s.focus_m), s.method))


@gpu(duration=_lens_seconds)
def baseline_lens(scene: DefocusResult, source: str, s: Settings, should_stop: Callable[[], bool] | None = None) -> DefocusResult:
    """The baseline lens of ``s`` on ``scene`` (CPU tensors), run on the models' device;
    the result is on the CPU."""
    return on_device(lens(on_device(scene, MODELS.device), source, s, should_stop=should_stop), "cpu")


def stop_baseline(request: gr.Request = None) -> None:
    """Stop the session's baseline render: its gather ends within a few window offsets.
    (Under ZeroGPU the render runs in another process and is not reached; it is fast there.)"""
    SESSIONS.stop_baseline(control_key(request))


def _render_stoppable(scene: DefocusResult, state: ExploreState, s: Settings, key: str, tick: Callable[[float], None]) -> DefocusResult:
    """:func:`render` in a thread of its own that the session's stop flag ends
    (:class:`RenderStopped`); ``tick(elapsed seconds)`` every half second meanwhile."""
    done, stop = threading.Event(), SESSIONS.start_baseline(key)
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            source = state.scene.focus_source if s.auto else "user"
            outcome["result"] = baseline_lens(scene, source, s, should_stop=None if ZERO_GPU else stop.is_set)
        except (UserError, RenderStopped) as error:
            outcome["error"] = error
        finally:
            done.set()

    start = time.perf_counter()
    context = contextvars.copy_context()  # the request's context (spaces.GPU reads it)
    threading.Thread(target=context.run, args=(work,), name=f"baseline-{key}", daemon=True).start()
    try:
        while not done.wait(0.5):
            tick(time.perf_counter() - start)
    finally:
        SESSIONS.end_baseline(key, stop)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def baseline_render(controls: Controls, request: gr.Request | None, progress: gr.Progress) -> tuple:
    """The view through a baseline lens at a size that keeps it within
    :data:`BASELINE_BUDGET_S`: (state, image, focus text, focus); stopped, the view stays."""
    s = controls.settings()
    state = controls.state
    if s.method == "layered":
        return skipped(4)
    camera = s.camera.replace(focus_distance_m=s.focus_m)
    scale = baseline_scale(state.view, camera, s.method)
    scene = resized(state.view, max(64, int(max(state.view.all_in_focus.size) * scale)))
    estimate = baseline_estimate(scene, camera, s.method)
    label = LABELS[s.method]

    def tick(elapsed: float) -> None:
        progress(min(elapsed / max(estimate, 1e-3), 0.99), desc=f"{label}: {elapsed:.0f} s of about {_seconds(estimate)}")

    start = time.perf_counter()
    try:
        result = _render_stoppable(scene, state, s, control_key(request), tick)
    except RenderStopped:
        LOG.info("baseline_view: %s stopped after %.1f s", label, time.perf_counter() - start)
        return skipped(4)
    elapsed = time.perf_counter() - start
    BASELINE_COST.learn(s.method, estimate, elapsed)  # this machine's speed
    if is_stale(state, request):
        return skipped(4)
    new, image, text, focus = view_outputs(state, s, result)
    size = "x".join(map(str, result.all_in_focus.size))
    return new, image, f"{text} · {label} rendered at {size} in {elapsed:.1f} s (estimated {_seconds(estimate)})", focus


def _seconds(seconds: float) -> str:
    """``seconds`` for people: "0.4 s", "18 s"."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
