"""A failed action is a toast: handlers raise :class:`UserError`, which :func:`friendly` turns
into a warning (one log line) and unchanged outputs, so no control is left in an error state."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

LOG = logging.getLogger("dofgen.ui")
H = TypeVar("H", bound=Callable[..., Any])


class UserError(Exception):
    """Something the user can fix; the message is one sentence shown in a toast."""


def skipped(outputs: int) -> Any:
    """``outputs`` unchanged outputs (one ``gr.skip()``, or a tuple of them)."""
    return gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))


def friendly(outputs: int) -> Callable[[H], H]:
    """Turn a handler's :class:`UserError` (and a bad input Gradio lets through) into a
    warning toast and ``outputs`` unchanged outputs, logged in one line: no control is
    left in an error state."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except (UserError, gr.Error) as error:  # gr.Error: what spaces.GPU makes of ours
                message = getattr(error, "message", None) or str(error)
                LOG.info("%s: %s", handler.__name__, message)
                gr.Warning(message)
                return skipped(outputs)

        return wrapped  # type: ignore[return-value]

    return decorate
