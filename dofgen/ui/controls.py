"""The lens controls of the Explore tab: their values as an event sends them
(:class:`Controls`), checked into what a render needs (:class:`Settings`)."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from dofgen.camera import CameraSettings
from dofgen.ui.sessions import ExploreState
from dofgen.ui.toasts import UserError

METHOD_LABELS = {"Ours (layered)": "layered", "TAF lens (baseline)": "taf", "Dr.Bokeh lens (baseline)": "drbokeh"}
BLADE_CHOICES = ["Circle", "5", "6", "7", "8", "9"]
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The controls, checked: what a render needs."""

    camera: CameraSettings
    focus_m: float
    auto: bool
    method: str
    blades: int
    highlight_boost: float


def checked_camera(base: CameraSettings, f_number: float, focal_length_mm: float, focus_m: float | None) -> CameraSettings:
    """``base`` with this aperture (f-number), focal length and, unless None, focus distance;
    a value that is not a finite number, or that the camera refuses, is a :class:`UserError`."""
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


def scene_state(state: ExploreState | None) -> ExploreState:
    """``state``, or a :class:`UserError` when the session has no scene yet."""
    if state is None:
        raise UserError("Pick, generate or upload a scene first.")
    return state


@dataclass(frozen=True)
class Controls:
    """The session's state and the lens controls' values, as one event sends them, unchecked.
    The field names are the parameter names the API documents."""

    state: ExploreState | None
    f_number: float
    focal_length_mm: float
    auto_focus: bool
    focus_distance_m: float
    blades: str
    highlight_boost: float
    method_label: str

    @property
    def values(self) -> tuple:
        """The controls' values (the state left out): what tells one change from another."""
        return tuple(getattr(self, field.name) for field in fields(self)[1:])

    def manual(self) -> Controls:
        """These controls with automatic focus off (the focus slider was moved)."""
        return replace(self, auto_focus=False)

    def settings(self) -> Settings:
        """The controls checked; a bad value is a :class:`UserError`."""
        state = scene_state(self.state)
        method = METHOD_LABELS.get(self.method_label)
        if method is None:
            raise UserError(f"Unknown lens {self.method_label!r}; choose one of: {', '.join(METHOD_LABELS)}.")
        if self.blades not in BLADE_CHOICES:
            raise UserError(f"Aperture blades must be one of {', '.join(BLADE_CHOICES)}.")
        boost = self.highlight_boost
        if not isinstance(boost, (int, float)) or not math.isfinite(boost) or boost < 0:
            raise UserError("The highlight boost must be a number of 0 or more.")
        focus = state.auto_focus_m if self.auto_focus else self.focus_distance_m
        camera = checked_camera(state.scene.camera, self.f_number, self.focal_length_mm, focus)
        # blades shape the layered lens's kernel only; the baselines gather round discs
        blades = 0 if self.blades == "Circle" or method != "layered" else int(self.blades)
        return Settings(camera, float(focus), bool(self.auto_focus), method, blades, float(boost))


def reading_controls(handler: Callable[..., T], manual: bool = False) -> Callable[..., T]:
    """``handler(controls, ...)`` as an event calls it: one value per field of
    :class:`Controls` (so the API keeps one named parameter per control), then what Gradio
    fills in (request, progress). ``manual``: with automatic focus off."""
    count = len(fields(Controls))

    @functools.wraps(handler)
    def wired(*values: Any, **special: Any) -> T:
        controls = Controls(*values[:count])
        return handler(controls.manual() if manual else controls, *values[count:], **special)

    filled_in = list(inspect.signature(handler).parameters.values())[1:]
    wired.__signature__ = inspect.Signature([*inspect.signature(Controls).parameters.values(), *filled_in])
    return wired
