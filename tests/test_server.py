"""Where the app listens (GRADIO_SERVER_PORT, or 7860 and the next free port) and ZeroGPU."""

import importlib
import socket
import sys
import types

import pytest

from dofgen.ui import server


def _hold(port: int) -> socket.socket:
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    held.bind(("127.0.0.1", port))
    held.listen()
    return held


def test_a_taken_default_port_moves_on_and_says_so(monkeypatch):
    free = server.choose_port("127.0.0.1", environ={})[0]
    monkeypatch.setattr(server, "DEFAULT_PORT", free)
    with _hold(free):
        port, note = server.choose_port("127.0.0.1", environ={})
    assert port != free and port > free and f"Port {free} is taken" in note and "GRADIO_SERVER_PORT" in note


def test_a_chosen_port_that_is_taken_is_one_line(monkeypatch):
    with _hold(0) as held:
        taken = held.getsockname()[1]
        with pytest.raises(SystemExit, match=f"Port {taken} is taken.*GRADIO_SERVER_PORT"):
            server.choose_port("127.0.0.1", environ={"GRADIO_SERVER_PORT": str(taken)})
    assert server.choose_port("127.0.0.1", environ={"GRADIO_SERVER_PORT": str(taken)}) == (taken, "")
    with pytest.raises(SystemExit, match="not a port"):
        server.choose_port("127.0.0.1", environ={"GRADIO_SERVER_PORT": "web"})


def test_a_port_left_in_time_wait_by_a_crashed_server_is_free_at_once():
    """After a crash the old socket lingers in TIME_WAIT; the app must start again at once."""
    with _hold(0) as listener:
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    assert server.port_free(port, "127.0.0.1")


def test_gpu_is_spaces_gpu_when_installed_and_a_no_op_otherwise(monkeypatch):
    """ZeroGPU: work runs inside spaces.GPU when the package is there; without it the
    function is returned unchanged."""
    from dofgen.ui import models

    def plain(x):
        return x + 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # not installed
    assert models.gpu(plain) is plain and models.gpu(duration=30)(plain) is plain
    calls = []
    fake = types.ModuleType("spaces")

    def GPU(function=None, **options):  # the spaces package's signature
        def wrap(f):
            def inner(*a, **k):
                calls.append(options)
                return f(*a, **k)
            return inner
        return wrap(function) if function is not None else wrap

    fake.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert models.gpu(plain)(1) == 2 and models.gpu(duration=30)(plain)(2) == 3
    assert calls == [{}, {"duration": 30}]
    from dofgen.ui import explore

    reloaded = importlib.reload(explore)  # the coarse Explore steps run inside spaces.GPU, the views do not
    try:
        state = reloaded.load_scene("tabletop")[0]
        calls.clear()
        reloaded.refocus_view(reloaded.Controls(state, 2.8, 50, True, 2.0, "Circle", 0.0, "Ours (layered)"))
        assert calls == []
        reloaded.download_png(state)
        assert len(calls) == 1 and callable(calls[0]["duration"])
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        importlib.reload(explore)


def _echo_app(read: list):
    """A Starlette app whose one route reads the whole body and says how long it was."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def echo(request):
        body = await request.body()
        read.append(len(body))
        return PlainTextResponse(str(len(body)))

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])], middleware=[Middleware(server.BodyLimit, limit=1000)])


def test_an_oversize_body_is_refused_before_it_is_read():
    from starlette.testclient import TestClient

    read: list[int] = []
    client = TestClient(_echo_app(read))
    assert client.post("/echo", content=b"x" * 1000).text == "1000"
    declared = client.post("/echo", content=b"x" * 5000)
    assert declared.status_code == 413 and "over" in declared.text
    streamed = client.post("/echo", content=(b"x" * 400 for _ in range(10)))  # chunked: no Content-Length
    assert streamed.status_code == 413
    assert read == [1000], "the route read an oversize body"


class _AddsWhileRead:
    """A cached file whose path, when read, stands for a request adding another file meanwhile."""

    def __init__(self, path, files: set) -> None:
        self.path, self.files = path, files

    def __fspath__(self) -> str:
        self.files.add(str(self.path) + ".new")
        return str(self.path)


def test_cache_pruning_survives_files_added_while_it_runs(tmp_path, monkeypatch):
    """Gradio's own pruning stops for good on this (the soak's cache grew without bound)."""
    import os
    import time
    from types import SimpleNamespace

    from gradio import route_utils

    def cache(*names: str) -> tuple[set, SimpleNamespace]:
        for name in names:
            (tmp_path / name).write_bytes(b"jpeg")
        files: set = set()
        files |= {_AddsWhileRead(tmp_path / names[0], files), *(str(tmp_path / n) for n in names[1:])}
        return files, SimpleNamespace(blocks={1: SimpleNamespace(keep_in_cache={str(tmp_path / "kept.jpg")})}, temp_file_sets=[files])

    if route_utils.delete_files_created_by_app.__module__ == route_utils.__name__:  # not yet replaced by a launch in this process
        _, blocks = cache("a.jpg", "b.jpg")
        with pytest.raises(RuntimeError, match="changed size"):
            route_utils.delete_files_created_by_app(blocks, None)  # Gradio's: the set grows under it
    files, blocks = cache("old.jpg", "fresh.jpg", "kept.jpg")
    time.sleep(0.2)
    os.utime(tmp_path / "fresh.jpg")  # handed out again: new by its ctime
    fresh = (tmp_path / "fresh.jpg").lstat().st_ctime
    monkeypatch.setattr(server.time, "time", lambda: fresh + 0.05)  # "now": however long the steps took
    server.delete_cached_files(blocks, 0.1)
    assert not (tmp_path / "old.jpg").exists() and (tmp_path / "fresh.jpg").exists() and (tmp_path / "kept.jpg").exists()
    assert files == {str(tmp_path / n) for n in ("fresh.jpg", "kept.jpg", "old.jpg.new")}  # the one added meanwhile waits for the next round
