"""Models for the app, shared by all sessions; ZeroGPU.

Configured by environment variables: DOFGEN_GENERATOR, DOFGEN_DEPTH, DOFGEN_SALIENCY,
DOFGEN_FOCUS_PREDICTOR (see README) and DOFGEN_DEVICE (default: cuda when available, else cpu).
Each model loads on first use, except on a ZeroGPU Space (``SPACES_ZERO_GPU``), where all are
made and moved to CUDA when this module is imported, as ZeroGPU asks (it defers the move).

On ZeroGPU a GPU is attached only inside functions decorated with ``spaces.GPU``, each call
run in another process with its arguments and result pickled; :func:`gpu` is that decorator
when the ``spaces`` package is installed (it is on Spaces) and a no-op otherwise. The app
puts it on coarse calls only (generation, depth and saliency, sweeps, PNG exports,
baselines), whose arguments and results hold no CUDA tensor; slider views run the lens on
the CPU.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from dofgen import config
from dofgen import depth as depth_models
from dofgen import focus_predictor as focus_predictors
from dofgen import generator as generators
from dofgen.depth import DepthEstimator
from dofgen.focus_predictor import FocusPredictor
from dofgen.generator import Generator
from dofgen.errors import ModelUnavailable
from dofgen.loading import resolve_device
from dofgen.saliency import load_saliency

LOG = logging.getLogger("dofgen.ui")
F = TypeVar("F", bound=Callable)
#: On a ZeroGPU Space.
ZERO_GPU = config.flag(config.ZERO_GPU)

#: What each model needs, in the one sentence a user sees when it cannot load.
HINTS = {
    "generator": "set DOFGEN_GENERATOR to a local diffusers SDXL folder (or go online for the default)",
    "depth": "set DOFGEN_DEPTH to a local transformers depth model folder (or go online for the default)",
}


def gpu_runs_apart() -> bool:
    """Whether :func:`gpu` calls run in another process (``spaces`` is installed): what they
    take must pickle, so no callback (progress, cancel) can cross to them."""
    try:
        import spaces  # noqa: F401
    except ImportError:
        return False
    return True


def gpu(function: F | None = None, **options) -> F | Callable[[F], F]:
    """``spaces.GPU`` when the ``spaces`` package is installed, else a decorator that
    returns the function unchanged; use as ``@gpu`` or ``@gpu(duration=120)``, where
    ``duration`` may be a function of the call's arguments giving seconds."""
    try:
        import spaces
    except ImportError:
        return function if function is not None else (lambda f: f)
    return spaces.GPU(function, **options) if function is not None else spaces.GPU(**options)


def gpu_seconds(base: float, per_megapixel: float, frames: Callable[..., int] | None = None, most: float = 300.0) -> Callable[..., float]:
    """A ``duration`` for :func:`gpu`, from the call's arguments: ``base`` seconds plus
    ``per_megapixel`` per megapixel of the first scene or image among them, times
    ``frames(*args)`` (1 when None), at most ``most``."""

    def seconds(*args: object, **kwargs: object) -> float:
        pixels = next((n for n in map(_pixels, (*args, *kwargs.values())) if n), 0)
        count = frames(*args, **kwargs) if frames is not None else 1
        return min(most, base + per_megapixel * count * pixels / 1e6)

    return seconds


def _pixels(value: object) -> int:
    """Pixels of a scene's (``all_in_focus``) or an image's ``size``; 0 for anything else."""
    size = getattr(getattr(value, "all_in_focus", value), "size", None)
    return size[0] * size[1] if isinstance(size, tuple) and len(size) == 2 else 0


class LazyModels:
    """Each model is loaded once, on first use; a failure is logged once and remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, object] = {}
        self._failed: dict[str, str] = {}

    @property
    def device(self):
        """Where the models run: DOFGEN_DEVICE, CUDA on ZeroGPU, else CUDA when available."""
        return resolve_device(config.value(config.DEVICE) or ("cuda" if ZERO_GPU else None))

    def preload(self) -> None:
        """Load every model now (one that cannot load is logged, as on first use)."""
        for load in (self.generator, self.depth):
            try:
                load()
            except ModelUnavailable:
                pass
        self.saliency()
        self.focus_predictor()

    def _get(self, name: str, load: Callable[[], object]) -> object:
        with self._lock:
            if name not in self._loaded and name not in self._failed:
                try:
                    self._loaded[name] = load()
                except (RuntimeError, OSError, ValueError, MemoryError) as error:
                    LOG.warning("the %s model is not available: %s", name, error)
                    self._failed[name] = f"The {name} model is not available: {HINTS[name]}."
            if name in self._failed:
                raise ModelUnavailable(self._failed[name])
            return self._loaded[name]

    def generator(self) -> Generator:
        return self._get("generator", lambda: generators.load_from_env(device=self.device))

    def depth(self) -> DepthEstimator:
        return self._get("depth", lambda: DepthEstimator.from_pretrained(depth_models.model_id_from_env(), device=self.device))

    def saliency(self) -> object:
        """The configured saliency model, or spectral residual (with the subject prior) when
        it cannot load; never fails."""
        with self._lock:
            if "saliency" not in self._loaded:
                self._loaded["saliency"] = load_saliency()
                if reason := getattr(self._loaded["saliency"], "reason", ""):
                    LOG.warning("saliency model not available, using spectral residual: %s", reason)
            return self._loaded["saliency"]

    def focus_predictor(self) -> FocusPredictor | None:
        """The trained focus predictor when one is configured or sits in the generator's
        folder, else None (saliency-weighted focus); never fails: a predictor that cannot
        load is one log line, and saliency focus is used."""
        with self._lock:
            if "focus_predictor" not in self._loaded:
                try:
                    self._loaded["focus_predictor"] = focus_predictors.load_from_env(device=self.device)
                except Exception as error:  # noqa: BLE001 (optional: any failure falls back to saliency)
                    LOG.warning("focus predictor not available, using saliency focus: %s", " ".join(str(error).split()))
                    self._loaded["focus_predictor"] = None
            return self._loaded["focus_predictor"]


MODELS = LazyModels()
if ZERO_GPU:  # made and moved to CUDA at import, as ZeroGPU requires
    MODELS.preload()
