"""Votes have capacity nothing else can take: API clients, which always queue, land in the
``study`` concurrency group, whose waiting events count against their own ``max_size``, not
the shared one (the browser sends study events past the queue, ``queue=False``)."""

from __future__ import annotations

import contextvars

import gradio as gr
from gradio import queueing, route_utils

#: The study's concurrency group: its own workers and its own queue capacity.
GROUP = "study"
_PUSHING = contextvars.ContextVar("dofgen_study_pushing", default=None)


class ReservedQueue(queueing.Queue):
    """Gradio's queue, where the study's group and all other groups each have ``max_size``."""

    def __len__(self) -> int:
        group = _PUSHING.get()
        return sum(
            len(events.queue) for name, events in self.event_queue_per_concurrency_id.items() if group is None or (name == GROUP) == (group == GROUP)
        )

    async def push(self, body, request, username):
        fn = route_utils.get_fn(self.blocks, None, body) if body.fn_index is not None else None
        token = _PUSHING.set(getattr(fn, "concurrency_id", "") or "")
        try:
            return await super().push(body, request, username)
        finally:
            _PUSHING.reset(token)


def reserve_queue(demo: gr.Blocks) -> gr.Blocks:
    """Give the study's events a queue capacity of their own (call after ``demo.queue``)."""
    demo._queue.__class__ = ReservedQueue
    return demo
