"""ZeroGPU, rehearsed: a stand-in for ``spaces.GPU`` runs each decorated call in another
process (spawned), its arguments and result pickled as ZeroGPU does, and refuses what
ZeroGPU cannot carry: a tensor off the CPU (CUDA there; the 'meta' device here) and anything
unpicklable. The Explore tab asks it only for coarse steps, never per slider tick."""

from __future__ import annotations

import importlib
import io
import multiprocessing
import pickle
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image


class OffCpuTensor(pickle.PicklingError):
    """A tensor that is not on the CPU was about to cross the process boundary."""


class _CheckingPickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, torch.Tensor) and obj.device.type != "cpu":
            raise OffCpuTensor(f"a {obj.device.type} tensor of shape {tuple(obj.shape)} cannot cross to or from a ZeroGPU call")
        return NotImplemented


def checked_dumps(value: object) -> bytes:
    """``pickle.dumps`` that refuses any tensor off the CPU, wherever it sits in ``value``."""
    buffer = io.BytesIO()
    _CheckingPickler(buffer).dump(value)
    return buffer.getvalue()


def _run_in_worker(module: str, name: str, payload: bytes) -> bytes:
    """In the GPU process: the plain function (``spaces`` is not installed there), its result checked."""
    function = getattr(importlib.import_module(module), name)
    args, kwargs = pickle.loads(payload)
    return checked_dumps(function(*args, **kwargs))


class FakeSpaces(types.ModuleType):
    """The ``spaces`` package, as far as ZeroGPU's calling convention goes; ``calls`` logs
    (function name, seconds asked for)."""

    def __init__(self) -> None:
        super().__init__("spaces")
        self.calls: list[tuple[str, float]] = []
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def GPU(self, function=None, duration=60):  # noqa: N802 (the package's name)
        def decorate(f):
            def call(*args, **kwargs):
                seconds = duration(*args, **kwargs) if callable(duration) else duration
                self.calls.append((f.__name__, float(seconds)))
                payload = checked_dumps((args, kwargs))
                return pickle.loads(self.pool.submit(_run_in_worker, f.__module__, f.__qualname__, payload).result(timeout=600))

            call.__wrapped__ = f
            return call

        return decorate(function) if function is not None else decorate


def returns_meta() -> torch.Tensor:
    return torch.zeros(3, device="meta")


def returns_lambda():
    return lambda: None


def doubles(x: torch.Tensor) -> torch.Tensor:
    return x * 2


def test_the_detector_refuses_tensors_off_the_cpu_wherever_they_sit():
    from dofgen import scenes
    from dofgen.pipeline import DefocusPipeline, on_device

    scene = scenes.load("tabletop")
    result = DefocusPipeline(device="cpu").from_image(scene.image, scene.depth, camera=scene.camera, render=False)
    assert pickle.loads(checked_dumps({"scene": [result]}))["scene"][0].depth.equal(result.depth)
    with pytest.raises(OffCpuTensor, match="meta tensor of shape"):
        checked_dumps({"scene": [replace(result, depth=result.depth.to("meta"))]})
    with pytest.raises(OffCpuTensor):
        checked_dumps(on_device(result, "meta"))


@pytest.fixture()
def fake_spaces(monkeypatch):
    """The stand-in installed, and the Explore modules reimported under it."""
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    from dofgen.ui import baseline, explore, sweeps

    for module in (baseline, sweeps, explore):
        importlib.reload(module)
    monkeypatch.setattr(baseline, "ZERO_GPU", True)  # as on ZeroGPU: no stop flag crosses
    try:
        yield fake, explore
    finally:
        fake.pool.shutdown(cancel_futures=True)
        monkeypatch.delitem(sys.modules, "spaces")
        for module in (baseline, sweeps, explore):
            importlib.reload(module)


@pytest.mark.slow
def test_the_stand_in_refuses_a_cuda_result_and_an_unpicklable_one(fake_spaces):
    fake, _ = fake_spaces
    assert fake.GPU(doubles)(torch.ones(2)).tolist() == [2.0, 2.0]  # a round trip through the other process
    with pytest.raises(OffCpuTensor):
        fake.GPU(returns_meta)()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        fake.GPU(returns_lambda)()
    with pytest.raises(OffCpuTensor):
        fake.GPU(doubles)(torch.ones(2, device="meta"))  # nor does an argument cross
    assert [name for name, _ in fake.calls] == ["doubles", "returns_meta", "returns_lambda", "doubles"]


def _ticks(explore, state, count: int) -> None:
    """``count`` slider ticks as the browser sends them: previews while it moves, the full view on release."""
    for k in range(count):
        controls = explore.Controls(state, 2.0 + 0.1 * k, 50, True, 2.0, "Circle", 0.0, "Ours (layered)")
        explore.preview_view(controls)
        explore.preview_view(controls)
        state = explore.refocus_view(controls)[0]


@pytest.mark.slow
def test_explore_asks_for_the_gpu_only_on_coarse_steps_with_cpu_data(fake_spaces):
    from dofgen.pipeline import resized
    from dofgen.ui.sessions import ExploreState

    from dofgen.ui import sweeps

    fake, explore = fake_spaces
    state = ExploreState.start(resized(explore.load_scene("tabletop")[0].scene, 160))  # small: quick renders
    _ticks(explore, state, 4)
    assert fake.calls == [], f"GPU asked for per slider tick: {fake.calls}"
    png = explore.download_png(state)["value"]
    on_cpu = explore.full_view.__wrapped__(*explore.view_scene(state))
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(on_cpu))  # the same picture from the other process
    video = explore.render_aperture_sweep(state, progress=None)["value"]
    assert open(video, "rb").read(12)[4:8] == b"ftyp"
    baseline = explore.Controls(state, 2.8, 50, True, 2.0, "Circle", 0.0, "TAF lens (baseline)")
    new_state, image, text, _ = explore.baseline_view(baseline, progress=lambda *a, **k: None)
    assert new_state.view.method == "taf" and new_state.view.depth.device.type == "cpu" and "TAF lens rendered" in text
    names = [name for name, _ in fake.calls]
    assert names == ["full_view", "sweep_frames", "baseline_lens"], names
    pixels = state.scene.all_in_focus.width * state.scene.all_in_focus.height / 1e6
    seconds = dict(fake.calls)
    assert seconds["full_view"] == pytest.approx(5 + 2 * pixels)
    assert seconds["sweep_frames"] == pytest.approx(min(300, 10 + 2 * sweeps.SWEEP_FRAMES["aperture"] * pixels))
    assert 10 < seconds["baseline_lens"] <= 120
    _ticks(explore, new_state, 2)
    assert len(fake.calls) == 3, "GPU asked for per slider tick"


@pytest.mark.slow
def test_generation_and_photos_cross_as_cpu_scenes(tmp_path, monkeypatch, tiny_sdxl_path, tiny_depth_path):
    monkeypatch.setenv("DOFGEN_GENERATOR", str(tiny_sdxl_path))  # the GPU process reads the same variables
    monkeypatch.setenv("DOFGEN_DEPTH", str(tiny_depth_path))
    monkeypatch.setenv("DOFGEN_SALIENCY", "spectral")
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    from dofgen.ui import baseline, explore, sweeps

    try:
        importlib.reload(baseline)
        importlib.reload(explore)
        state, image, *_ = explore.generate_scene("a lamp", 3, 2.8, 50)
        assert state.scene.depth.device.type == "cpu" and state.scene.all_in_focus.size == Image.open(image).size
        Image.new("RGB", (96, 64), (120, 80, 40)).save(tmp_path / "photo.jpg")
        np.save(tmp_path / "depth.npy", np.full((64, 96), 2.5, np.float32))
        photo_state = explore.use_photo(str(tmp_path / "photo.jpg"), str(tmp_path / "depth.npy"))[0]
        assert photo_state.scene.depth.device.type == "cpu" and float(photo_state.scene.depth.mean()) == pytest.approx(2.5)
        assert [name for name, _ in fake.calls] == ["generated", "photo_scene"]
        assert dict(fake.calls)["generated"] == explore.GENERATE_S
        assert dict(fake.calls)["photo_scene"] == pytest.approx(10 + 5 * 96 * 64 / 1e6)
    finally:
        fake.pool.shutdown(cancel_futures=True)
        monkeypatch.delitem(sys.modules, "spaces")
        for module in (baseline, sweeps, explore):
            importlib.reload(module)


def test_on_zerogpu_the_models_are_made_at_import(monkeypatch, tiny_sdxl_path, tiny_depth_path):
    from dofgen.ui import models

    monkeypatch.setenv("DOFGEN_GENERATOR", str(tiny_sdxl_path))
    monkeypatch.setenv("DOFGEN_DEPTH", str(tiny_depth_path))
    monkeypatch.setenv("DOFGEN_DEVICE", "cpu")  # ZeroGPU's deferred CUDA move is not here
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    try:
        importlib.reload(models)
        assert models.ZERO_GPU and {"generator", "depth", "saliency", "focus_predictor"} <= set(models.MODELS._loaded)
        monkeypatch.delenv("DOFGEN_DEVICE")
        assert models.MODELS.device.type == "cuda"  # where ZeroGPU moves them
    finally:
        monkeypatch.delenv("SPACES_ZERO_GPU")
        importlib.reload(models)
    assert not models.ZERO_GPU and models.MODELS._loaded == {}  # elsewhere: on first use
