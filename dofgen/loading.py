"""Loading components with ``from_pretrained``: the device, and one clear error on failure."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dofgen import config
from dofgen.errors import ModelUnavailable

if TYPE_CHECKING:
    import torch

HUB_HOST = "huggingface.co"

T = TypeVar("T")


class _TorchvisionNotice(logging.Filter):
    """Drops transformers' notice that an image processor falls back to PIL without
    torchvision: dofgen installs no torchvision on purpose, and the PIL path is the one meant."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


logging.getLogger("transformers.utils.import_utils").addFilter(_TorchvisionNotice())


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The given device, else CUDA when available, else the CPU."""
    import torch  # here, so that checking a hub id needs no torch (study.aggregate)

    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


@lru_cache(maxsize=1)
def _hub_resolves() -> bool:
    try:
        socket.getaddrinfo(HUB_HOST, 443)
    except OSError:
        return False
    return True


def local_files_only(model_id_or_path: str) -> bool:
    """True when a hub id cannot be downloaded now (HF_HUB_OFFLINE set, or the hub's name
    does not resolve): load from the local cache only, without minutes of retries."""
    if Path(model_id_or_path).is_dir():
        return False
    return config.flag(config.HUB_OFFLINE) or not _hub_resolves()


def load_or_explain(kind: str, model_id_or_path: str, env_var: str, needs: str, load: Callable[[bool], T]) -> T:
    """Run ``load(local_files_only)``; on any failure raise one :class:`ModelUnavailable`
    that says what to set.

    Args:
        kind: what is loaded, e.g. "depth model".
        env_var: the variable that configures it.
        needs: what a local folder must hold (or another choice the variable accepts).
    """
    try:
        return load(local_files_only(model_id_or_path))
    except Exception as error:  # network, missing files, bad config: one clear message
        raise ModelUnavailable(
            f"could not load the {kind} {model_id_or_path!r} ({type(error).__name__}: {error}). "
            f"Set {env_var} to {needs}, or go online so the hub id can download."
        ) from error


def load_processor_and_model(kind: str, model_id_or_path: str, env_var: str, needs: str, processor_class, model_class) -> tuple:
    """A transformers processor and model from one id or folder, via :func:`load_or_explain`."""
    return load_or_explain(
        kind, model_id_or_path, env_var, needs,
        lambda offline: (
            processor_class.from_pretrained(model_id_or_path, local_files_only=offline),
            model_class.from_pretrained(model_id_or_path, local_files_only=offline),
        ),
    )


class TransformersComponent:
    """A transformers model with its processor, in eval mode on a device."""

    def __init__(self, model: torch.nn.Module, processor, device: torch.device) -> None:
        self.model = model.eval().to(device)
        self.processor = processor
        self.device = device
