"""What the Explore tab keeps for a browser session.

A session's scene lives in ``gr.State`` (:class:`ExploreState`, one per session, sent with
each event). What its events share across threads (its latest scene, the controls of its
latest change, the stop flag of its baseline render) lives in :data:`SESSIONS`, keyed by
the session hash, bounded, and forgotten when the session ends, with the files it uploaded.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr

from dofgen.pipeline import DefocusResult, refocus, resized

#: Longer side of the view the sliders render (the PNG and the sweeps use full resolution):
#: display resolution on a laptop, and about 0.7 MP for a 3:2 photo, so a slider costs the same
#: whatever the upload size.
VIEW_SIDE = 1024
#: Longer side of the live preview rendered while a slider moves.
PREVIEW_SIDE = 448

_SCENE_IDS = itertools.count(1)


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


@dataclass(frozen=True)
class Session:
    """What the events of one session share.

    Attributes:
        scene_id: its latest scene's; a view rendered on an older one (a control moved while
            a new scene was being made) lands after it and must not bring the old back.
        viewed: the controls' values of its latest view; a preview of the same values, landing
            after it, would replace the view with a coarser picture and is not shown.
        views: how many views it has started; a preview during which one started is not shown.
        baseline_stop: set to stop its running baseline render (Cancel, or our lens chosen).
        uploads: the files it uploaded (in Gradio's upload folder), deleted when it ends.
    """

    scene_id: int | None = None
    viewed: tuple | None = None
    views: int = 0
    baseline_stop: threading.Event | None = None
    uploads: frozenset[str] = frozenset()


class SessionStore:
    """:class:`Session` records by session hash, shared by the server's threads; past
    ``limit`` the one noted longest ago is forgotten (sessions come and go)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()

    def get(self, key: str) -> Session:
        with self._lock:
            return self._sessions.get(key, Session())

    def note(self, key: str, **values: object) -> None:
        """Set fields of ``key``'s record (it becomes the most recent)."""
        with self._lock:
            self._sessions[key] = replace(self._sessions.pop(key, Session()), **values)
            dropped = self._sessions.pop(next(iter(self._sessions))) if len(self._sessions) > self.limit else None
        if dropped is not None:
            _delete(dropped.uploads)

    def note_upload(self, key: str | None, *paths: str | None) -> None:
        """``paths`` were uploaded by ``key``'s session (calls outside a session keep none)."""
        if key is None:
            return
        with self._lock:
            record = self._sessions.pop(key, Session())
            self._sessions[key] = replace(record, uploads=record.uploads | {str(p) for p in paths if p})

    def start_view(self, key: str, controls: tuple) -> None:
        """``key`` starts a view of ``controls``: one more view, of these values."""
        with self._lock:
            self.note(key, viewed=controls, views=self.get(key).views + 1)

    def forget(self, key: str) -> None:
        """Drop ``key``'s record, stopping its baseline render (nobody is there to see it) and
        deleting its uploads."""
        with self._lock:
            record = self._sessions.pop(key, Session())
        if record.baseline_stop is not None:
            record.baseline_stop.set()
        _delete(record.uploads)

    def start_baseline(self, key: str) -> threading.Event:
        """A new stop flag for ``key``'s baseline render."""
        stop = threading.Event()
        self.note(key, baseline_stop=stop)
        return stop

    def end_baseline(self, key: str, stop: threading.Event) -> None:
        """The render of ``stop`` is over: drop its flag, unless a newer render set its own."""
        with self._lock:
            record = self._sessions.get(key)
            if record is not None and record.baseline_stop is stop:
                self._sessions[key] = replace(record, baseline_stop=None)

    def stop_baseline(self, key: str) -> None:
        stop = self.get(key).baseline_stop
        if stop is not None:
            stop.set()


def _delete(uploads: frozenset[str]) -> None:
    """Delete ``uploads`` that lie in Gradio's upload folder (nothing else is touched)."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    for upload in uploads:
        path = Path(upload).resolve()
        if path.is_relative_to(folder):
            path.unlink(missing_ok=True)


SESSIONS = SessionStore()


def session_key(request: gr.Request | None) -> str | None:
    """The session hash of ``request`` (None for a call made outside a session)."""
    return getattr(request, "session_hash", None)


def control_key(request: gr.Request | None) -> str:
    """The key of a session's controls and baseline: calls outside a session share one."""
    return session_key(request) or "api"


def note_scene(request: gr.Request | None, state: ExploreState) -> None:
    """``state``'s scene is its session's latest."""
    key = session_key(request)
    if key is not None:
        SESSIONS.note(key, scene_id=state.scene_id)


def is_stale(state: ExploreState, request: gr.Request | None) -> bool:
    """Whether the session has made a newer scene than ``state``'s."""
    key = session_key(request)
    return key is not None and SESSIONS.get(key).scene_id not in (None, state.scene_id)


def end_session(request: gr.Request) -> None:
    """The session closed (``demo.unload``): forget it."""
    key = session_key(request)
    if key is not None:
        SESSIONS.forget(key)
