"""Loading components with ``from_pretrained``: the device, and one clear error on failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The given device, else CUDA when available, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def load_or_explain(kind: str, model_id_or_path: str, env_var: str, needs: str, load: Callable[[], T]) -> T:
    """Run ``load``; on any failure raise one ``RuntimeError`` that says what to set.

    Args:
        kind: what is loaded, e.g. "depth model".
        env_var: the variable that configures it.
        needs: what a local folder must hold (or another choice the variable accepts).
    """
    try:
        return load()
    except Exception as error:  # network, missing files, bad config: one clear message
        raise RuntimeError(
            f"could not load the {kind} {model_id_or_path!r} ({type(error).__name__}: {error}). "
            f"Set {env_var} to {needs}, or go online so the hub id can download."
        ) from error
