"""Where the app listens (GRADIO_SERVER_PORT or PORT, else 7860 or the next free port), the
size of request body it reads (:class:`BodyLimit`), and the pruning of Gradio's cache
(:func:`delete_cached_files`)."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from pathlib import Path

from dofgen import config

DEFAULT_PORT = 7860
#: How many ports after the default to try when it is taken.
SEARCH = 100


def port_free(port: int, host: str = "0.0.0.0") -> bool:
    """True when ``port`` can be bound on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as uvicorn binds: a port whose last server crashed (TIME_WAIT) is free at once
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str = "0.0.0.0", environ: Mapping[str, str] | None = None) -> tuple[int, str]:
    """The port to serve on and a line to print about it.

    A port set in GRADIO_SERVER_PORT (or PORT, as Spaces set it) is used as it is; when it
    is taken, ``SystemExit`` says so in one line. Without one, 7860, or the next free port
    with a line saying 7860 is taken.
    """
    asked = config.value(config.SERVER_PORT, environ) or config.value(config.PORT, environ)
    if asked:
        if not asked.isdigit() or not 0 < int(asked) < 65536:
            raise SystemExit(f"GRADIO_SERVER_PORT={asked!r} is not a port number (1 to 65535).")
        if not port_free(int(asked), host):
            raise SystemExit(f"Port {asked} is taken (is dofgen already running?); set GRADIO_SERVER_PORT to a free port.")
        return int(asked), ""
    for port in range(DEFAULT_PORT, DEFAULT_PORT + SEARCH):
        if port_free(port, host):
            note = "" if port == DEFAULT_PORT else f"Port {DEFAULT_PORT} is taken; serving on {port} instead (set GRADIO_SERVER_PORT to choose)."
            return port, note
    raise SystemExit(f"Ports {DEFAULT_PORT} to {DEFAULT_PORT + SEARCH - 1} are all taken; set GRADIO_SERVER_PORT to a free port.")


class BodyTooLarge(Exception):
    """A request body ran past :class:`BodyLimit`'s limit while it was read."""


class BodyLimit:
    """ASGI middleware: a request whose body is over ``limit`` bytes is answered 413 before it
    is read (by its Content-Length), or as soon as its streamed bytes pass the limit."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge
            return message

        async def watched(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        text = f"The request is over {self.limit // 2**20} MB.".encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": text})


def delete_cached_files(blocks, age: float | None) -> None:
    """Delete the files of ``blocks``'s cache older than ``age`` seconds (None: all), as
    Gradio's ``delete_files_created_by_app`` does, over a snapshot of each file set. Gradio
    6.31's own iterates the live sets, so a file that a request adds meanwhile ends its
    scheduled task for good ("Set changed size during iteration") and the cache grows
    without bound; :func:`prune_cache_safely` puts this one in its place."""
    keep: set[str] = set()
    for component in blocks.blocks.values():
        keep.update(getattr(component, "keep_in_cache", set()))
    now = time.time()
    for files in blocks.temp_file_sets:
        gone = set()
        for file in list(files):
            if file in keep:
                continue
            try:
                if age is None or now - Path(file).lstat().st_ctime > age:
                    Path(file).unlink()
                    gone.add(file)
            except FileNotFoundError:
                gone.add(file)
        files -= gone


def prune_cache_safely() -> None:
    """Make Gradio's scheduled cache deletion (``delete_cache``) use :func:`delete_cached_files`."""
    from gradio import route_utils

    route_utils.delete_files_created_by_app = delete_cached_files
