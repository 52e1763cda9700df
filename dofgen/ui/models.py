"""Models for the app, loaded lazily on first use and shared by all sessions.

Configured by environment variables: DOFGEN_GENERATOR, DOFGEN_DEPTH, DOFGEN_SALIENCY (see
README) and DOFGEN_DEVICE (default: cuda when available, else cpu).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from dofgen import depth as depth_models
from dofgen import generator as generators
from dofgen.depth import DepthEstimator
from dofgen.generator import Generator
from dofgen.loading import resolve_device
from dofgen.saliency import load_saliency


class ModelUnavailable(RuntimeError):
    """A model could not be loaded; the message says how to configure it."""


class LazyModels:
    """Each model is loaded once, on first use; a failure is remembered and re-raised."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, object] = {}
        self._failed: dict[str, str] = {}

    @property
    def device(self):
        return resolve_device(os.environ.get("DOFGEN_DEVICE") or None)

    def _get(self, name: str, load: Callable[[], object]) -> object:
        with self._lock:
            if name in self._failed:
                raise ModelUnavailable(self._failed[name])
            if name not in self._loaded:
                try:
                    self._loaded[name] = load()
                except (RuntimeError, OSError, ValueError, MemoryError) as error:
                    self._failed[name] = str(error)
                    raise ModelUnavailable(str(error)) from None
            return self._loaded[name]

    def generator(self) -> Generator:
        return self._get("generator", lambda: Generator.from_pretrained(generators.model_id_from_env(), device=self.device))

    def depth(self) -> DepthEstimator:
        return self._get("depth", lambda: DepthEstimator.from_pretrained(depth_models.model_id_from_env(), device=self.device))

    def saliency(self) -> object:
        """The configured saliency model, or spectral residual when it cannot load."""
        return self._get("saliency", load_saliency)


MODELS = LazyModels()
