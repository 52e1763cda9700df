"""Explore tab latency: slider to new view at the largest upload, and live previews at 1024².

Run by hand: ``python benchmarks/bench_explore.py``. Times the Explore handlers as the
server runs them (lens, sRGB encode, JPEG written), not the browser's transfer:

- ``view``: :func:`refocus_view` on a 4096x2731 photo (the largest allowed side), the
  view rendered at ``VIEW_SIDE`` on the long side; and on 1024x1024.
- ``preview``: :func:`preview_view` while a slider moves on a 1024x1024 photo: previews
  a second, back to back (the goal is 5 or more on 2 cores).
- ``full``: the full-resolution render the PNG download makes at 4096x2731.

The scene is the bundled tabletop scaled up, 50 mm, focus on its subject; the aperture
steps through f/1.4 to f/8 so the blur changes each time.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dofgen import scenes  # noqa: E402
from dofgen.pipeline import DefocusPipeline  # noqa: E402
from dofgen.ui import explore  # noqa: E402

STOPS = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0)
LENS = ("Circle", 0.5, "Ours (layered)")


def _state(width: int, height: int) -> explore.ExploreState:
    scene = scenes.load("tabletop")
    image = scene.image.resize((width, height))
    depth = torch.nn.functional.interpolate(scene.depth[None, None], size=(height, width), mode="nearest-exact")[0, 0]
    return explore.ExploreState.start(DefocusPipeline(device="cpu").from_image(image, depth, camera=scene.camera, focus_distance=1.2))


def _times(call, repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (all threads) per call: on a shared machine the CPU time
    says what the call costs, the wall time what it waited as well."""
    wall, cpu = [], []
    for index in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call(STOPS[index % len(STOPS)])
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def _line(label: str, times: tuple[list[float], list[float]]) -> str:
    wall, cpu = times
    return f"{label}: wall median {statistics.median(wall):.3f} s (max {max(wall):.3f}), CPU median {statistics.median(cpu):.3f} s"


def main() -> None:
    print(f"{datetime.date.today()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · torch {torch.__version__} · load {os.getloadavg()[0]:.1f}")
    for width, height in ((4096, 2731), (1024, 1024)):
        state = _state(width, height)
        views = _times(lambda n: explore.refocus_view(state, n, 50, False, 1.2, *LENS), 12)
        print(_line(f"view {width}x{height} -> {'x'.join(map(str, state.view.all_in_focus.size))}", views))
        if width == 1024:
            previews = _times(lambda n: explore.preview_view(state, n, 50, False, 1.2, *LENS), 30)
            size = "x".join(map(str, state.preview.all_in_focus.size))
            print(_line(f"preview {width}x{height} at {size}", previews) + f"; {1 / statistics.median(previews[0]):.1f} previews/s (wall)")
        else:
            print(_line(f"full {width}x{height} (PNG download)", _times(lambda n: explore._full(state), 1)))


if __name__ == "__main__":
    main()
