"""The Explore tab's sweep videos: the view's scene, camera and lens from f/1.8 to f/22 or
from near to far focus, at full resolution up to what H.264 level 5.2 plays
(:func:`dofgen.video.h264_size`). A sweep shows its progress on the video's box, locks the
sweep buttons while it runs, and the Cancel button stops it between frames (the video box
keeps what it showed before). The frames render in one GPU call (:func:`sweep_frames`, CPU
data in and out); where that call runs in another process (ZeroGPU), no callback crosses to
it, so the sweep shows no per-frame progress and Cancel takes effect only once it is done."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import gradio as gr

from PIL import Image

from dofgen.pipeline import DefocusResult, on_device, resized
from dofgen.ui.controls import scene_state
from dofgen.ui.files import new_path
from dofgen.ui.models import MODELS, gpu, gpu_runs_apart, gpu_seconds
from dofgen.ui.sessions import ExploreState, control_key
from dofgen.ui.toasts import friendly
from dofgen.video import aperture_sweep, aperture_values, focus_sweep, h264_size, write_mp4

#: Frames a second of the sweep videos.
SWEEP_FPS = 12
#: Frames of a focus sweep.
FOCUS_FRAMES = 36
#: Frames of each sweep.
SWEEP_FRAMES = {"aperture": len(aperture_values()), "focus": FOCUS_FRAMES}


class SweepStopped(Exception):
    """The session's Cancel button stopped its sweep."""


class _StopFlags:
    """One stop flag per session's running sweep, shared by the server's threads."""

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, key: str) -> threading.Event:
        with self._lock:
            self._flags[key] = flag = threading.Event()
        return flag

    def end(self, key: str, flag: threading.Event) -> None:
        with self._lock:
            if self._flags.get(key) is flag:
                del self._flags[key]

    def stop(self, key: str) -> None:
        with self._lock:
            flag = self._flags.get(key)
        if flag is not None:
            flag.set()


STOPS = _StopFlags()


def view_scene(state: ExploreState | None) -> tuple[DefocusResult, dict]:
    """The scene at full resolution with the view's camera, focus and lens, and its lens
    options (blades, highlight boost, lens)."""
    state = scene_state(state)
    view = state.view
    scene = replace(state.scene, camera=view.camera, focus_distance=view.focus_distance, focus_source=view.focus_source, method=view.method)
    return scene, dict(blades=state.blades, highlight_boost=state.highlight_boost, method=view.method)


def sweep_scene(state: ExploreState | None) -> tuple[DefocusResult, dict]:
    """:func:`view_scene` scaled down to what H.264 level 5.2 plays."""
    scene, lens = view_scene(state)
    width, height = scene.all_in_focus.size
    return resized(scene, max(h264_size(width, height, SWEEP_FPS))), lens


@gpu(duration=gpu_seconds(base=10, per_megapixel=2, frames=lambda kind, *_, **__: SWEEP_FRAMES[kind]))
def sweep_frames(kind: str, scene: DefocusResult, lens: dict, progress: Any = None) -> list[Image.Image]:
    """The captioned frames of the ``kind`` ("aperture": f/1.8 to f/22, or "focus": near to
    far) sweep of ``scene``, rendered on the models' device; ``progress(done, total)`` after
    each frame (it may raise to stop)."""
    scene = on_device(scene, MODELS.device)
    if kind == "aperture":
        return aperture_sweep(scene, captions=True, progress=progress, **lens)
    return focus_sweep(scene, frames=FOCUS_FRAMES, captions=True, progress=progress, **lens)


def _render(kind: str, state: ExploreState | None, request: gr.Request | None, progress: Any) -> dict:
    """The ``kind`` ("aperture" or "focus") sweep as a visible video; unchanged when cancelled."""
    scene, lens = sweep_scene(state)
    key = control_key(request)
    flag = STOPS.start(key)
    desc = f"Rendering the {kind} sweep"

    def report(done: int, total: int) -> None:
        if flag.is_set():
            raise SweepStopped
        if progress:
            progress(done / total, desc=desc)

    try:
        if progress:
            progress(0.0, desc=desc)
        frames = sweep_frames(kind, scene, lens, None if gpu_runs_apart() else report)
        if flag.is_set():  # cancelled while the frames rendered apart
            raise SweepStopped
    except SweepStopped:
        return gr.skip()
    finally:
        STOPS.end(key, flag)
    return gr.update(value=str(write_mp4(frames, new_path(".mp4"), fps=SWEEP_FPS)), visible=True)


@friendly(1)
def render_aperture_sweep(state: ExploreState | None, request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> dict:
    """An MP4 of the scene from f/1.8 to f/22 at the current focus, with the view's lens,
    blades and highlight boost."""
    return _render("aperture", state, request, progress)


@friendly(1)
def render_focus_sweep(state: ExploreState | None, request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> dict:
    """An MP4 of the scene with focus travelling from near to far at the current aperture."""
    return _render("focus", state, request, progress)


def sweep_started() -> tuple[dict, dict, dict, dict]:
    """While a sweep renders: both sweep buttons locked, Cancel shown, the video box shown
    (its progress bar), keeping the video it had."""
    return gr.update(interactive=False), gr.update(interactive=False), gr.update(visible=True), gr.update(visible=True)


def sweep_ended(video: Any = None) -> tuple[dict, dict, dict, dict]:
    """After a sweep (done, failed or cancelled): the buttons unlocked, Cancel hidden, the
    video box hidden unless it holds a video."""
    return gr.update(interactive=True), gr.update(interactive=True), gr.update(visible=False), gr.update(visible=bool(video))


def stop_sweep(video: Any = None, request: gr.Request = None) -> tuple[dict, dict, dict, dict]:
    """Cancel: stop the session's sweep at its next frame and unlock the buttons."""
    STOPS.stop(control_key(request))
    return sweep_ended(video)


def wire_sweeps(aperture: gr.Button, focus: gr.Button, cancel: gr.Button, state: gr.State, video: gr.Video) -> None:
    """The sweep buttons, each a sweep between :func:`sweep_started` and :func:`sweep_ended`,
    and Cancel, which ends either."""
    controls = [aperture, focus, cancel, video]
    quick = dict(queue=False, show_progress="hidden", api_visibility="private")
    events = []
    for button, render in ((aperture, render_aperture_sweep), (focus, render_focus_sweep)):
        started = button.click(sweep_started, None, controls, **quick)
        swept = started.then(render, state, video, concurrency_id="sweep", concurrency_limit=1, show_progress="full", show_progress_on=[video])
        swept.then(sweep_ended, video, controls, **quick)
        events.append(swept)
    cancel.click(stop_sweep, video, controls, cancels=events, **quick)
