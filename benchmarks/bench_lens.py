"""Time each lens at 512x512 and 1024x1024 on a scene whose largest CoC is about 60 px.

Run by hand from the repository root: ``python -m benchmarks.bench_lens [--out
benchmarks/RESULTS.md]``;
``--ratio`` instead times the layered lens (each quality) against a uniform FFT disc blur
of the same image (3 channels, the largest CoC, reflect-padded to a fast FFT size) as
interleaved pairs in one process, and reports the median ratio. Each
(method, size) runs in its own process so its peak memory (max RSS) is its own. The scene
is the bundled tabletop image resized to a square, over a depth ramp from 8 m (top) to
0.5 m (bottom) with a subject plane at 2 m; 50 mm, f/1.8, focus 2 m gives CoCs from about
-61 px to +15 px at every size (the sensor width scales with the size: 36 mm at 1024 px).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.report import report
from dofgen import scenes
from dofgen.argparse_help import ArgumentParser
from dofgen.camera import CameraSettings
from dofgen.imageio import to_tensor
from dofgen.color import srgb_to_linear
from dofgen.lens import METHODS, QUALITY, aperture_kernel, coc_diameter_px, render, render_linear

ROOT = Path(__file__).resolve().parent.parent


def bench_camera(size: int) -> CameraSettings:
    """50 mm f/1.8 focused at 2 m, sensor sized so the largest CoC is ~61 px at any size."""
    return CameraSettings(1.8, 50.0, 2.0, sensor_width_mm=36.0 * size / 1024)


def bench_scene(size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, size, size) image and (size, size) depth in metres."""
    image = to_tensor(scenes.load("tabletop").image.resize((size, size)))
    rows = torch.linspace(0.0, 1.0, size)[:, None].expand(size, size)
    depth = (0.5 * (8.0 / 0.5) ** (1.0 - rows)).clone()
    depth[size * 3 // 10 : size * 7 // 10, size * 35 // 100 : size * 65 // 100] = 2.0
    return image.to(device), depth.to(device)


def run_one(method: str, size: int, repeats: int, device: str) -> dict:
    """Median seconds per frame after one warm-up, and this process's peak memory."""
    image, depth = bench_scene(size, device)
    camera = bench_camera(size)
    times = []
    with torch.inference_mode():
        for index in range(repeats + 1):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            render(image, depth, camera, method)
            if device == "cuda":
                torch.cuda.synchronize()
            if index:
                times.append(time.perf_counter() - start)
    result = {
        "method": method,
        "size": size,
        "median_s": statistics.median(times),
        "repeats": repeats,
        "max_coc_px": float(coc_diameter_px(depth, camera, size).abs().max()),
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    if device == "cuda":
        result["peak_cuda_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return result


def fft_disc_blur(image: torch.Tensor, diameter: float) -> torch.Tensor:
    """Uniform disc blur of (B, 3, H, W) by FFT: the unit that lens costs are counted in."""
    from scipy.fft import next_fast_len

    kernel = aperture_kernel(diameter).to(image)
    half = kernel.shape[-1] // 2
    padded = F.pad(image, (half,) * 4, mode="reflect")
    size = (next_fast_len(padded.shape[-2], real=True), next_fast_len(padded.shape[-1], real=True))
    spectrum = torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(kernel, s=size)
    out = torch.fft.irfft2(spectrum, s=size)
    return out[..., 2 * half : 2 * half + image.shape[-2], 2 * half : 2 * half + image.shape[-1]]


def ratio_to_fft(size: int, pairs: int, device: str) -> dict:
    """Median over interleaved pairs of (layered render time) / (FFT disc blur time)."""
    image, depth = bench_scene(size, device)
    camera = bench_camera(size)
    linear = srgb_to_linear(image)[None]
    largest = float(coc_diameter_px(depth, camera, size).abs().max())
    result = {"size": size, "max_coc_px": largest, "pairs": pairs}
    with torch.inference_mode():
        # the FFT blur on its own too: right after a lens render it can run slower (the
        # allocator's state), which flatters the interleaved ratio
        alone = []
        for index in range(pairs + 1):
            start = time.perf_counter()
            fft_disc_blur(linear, largest)
            alone.append(time.perf_counter() - start)
        result["fft_alone_s"] = statistics.median(alone[1:])
        for quality in QUALITY:
            ratios, lens_times, fft_times = [], [], []
            for index in range(pairs + 1):
                start = time.perf_counter()
                fft_disc_blur(linear, largest)
                middle = time.perf_counter()
                render_linear(linear, depth, camera, quality=quality)
                end = time.perf_counter()
                if index:  # the first pair warms up
                    ratios.append((end - middle) / (middle - start))
                    lens_times.append(end - middle)
                    fft_times.append(middle - start)
            result[quality] = {
                "ratio": statistics.median(ratios),
                "lens_s": statistics.median(lens_times),
                "fft_s": statistics.median(fft_times),
            }
    return result


def machine(device: str) -> str:
    if device == "cuda":
        return f"{torch.cuda.get_device_name()} (CUDA), host {platform.machine()} with {os.cpu_count()} cores"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores"


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_lens", description=__doc__)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="Device to render on.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="Square image sides to time.")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="Lenses to time.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed runs of layered (the baselines run once at 1024 and twice at 512).")
    parser.add_argument("--out", type=Path, help="Markdown file to append the table to (default: print only).")
    parser.add_argument("--ratio", action="store_true", help="Time layered (each quality) against FFT disc blurs, interleaved.")
    parser.add_argument("--pairs", type=int, default=9, help="Interleaved pairs for --ratio.")
    args = parser.parse_args()
    if args.ratio:
        rows = [ratio_to_fft(size, args.pairs, args.device) for size in args.sizes]
        lines = [
            f"### Layered lens against FFT disc blurs — {datetime.date.today().isoformat()}",
            "",
            f"Machine: {machine(args.device)}; torch {torch.__version__}, {torch.get_num_threads()} threads. "
            "One FFT disc blur: the (3, H, W) image, reflect-padded by the kernel radius to a fast FFT size, "
            "times the spectrum of the largest CoC's disc. Median over interleaved pairs in one process; also against the FFT blur timed on its own (before the pairs) in the same process.",
            "",
            "| size | max CoC (px) | quality | layered (s) | FFT blur (s) | ratio (FFT blurs) | FFT blur alone (s) | ratio to it |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            for quality in QUALITY:
                q, alone = row[quality], row["fft_alone_s"]
                lines.append(f"| {row['size']}² | {row['max_coc_px']:.1f} | {quality} | {q['lens_s']:.3f} | {q['fft_s']:.3f} | {q['ratio']:.2f} | {alone:.3f} | {q['lens_s'] / alone:.2f} |")
        report("\n".join(lines) + "\n", args.out)
        return
    if args.one:
        method, size = args.one[0], int(args.one[1])
        repeats = args.repeats if method == "layered" else (1 if size >= 1024 else 2)
        print(json.dumps(run_one(method, size, repeats, args.device)))
        return
    rows = []
    for size in args.sizes:
        for method in args.methods:
            command = [sys.executable, "-m", "benchmarks.bench_lens", "--one", method, str(size), "--device", args.device, "--repeats", str(args.repeats)]
            output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = [
        f"### Lens timings — {datetime.date.today().isoformat()}",
        "",
        f"Machine: {machine(args.device)}; torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "Median seconds per frame after one warm-up; peak memory of the process (max RSS"
        + (", and CUDA peak allocated" if args.device == "cuda" else "") + ").",
        "",
        "| method | size | max CoC (px) | s / frame | runs | peak RSS (GiB) |" + (" peak CUDA (GiB) |" if args.device == "cuda" else ""),
        "|---|---|---|---|---|---|" + ("---|" if args.device == "cuda" else ""),
    ]
    for row in rows:
        line = f"| {row['method']} | {row['size']}² | {row['max_coc_px']:.1f} | {row['median_s']:.3f} | {row['repeats']} | {row['peak_rss_gib']:.2f} |"
        if args.device == "cuda":
            line += f" {row['peak_cuda_gib']:.2f} |"
        lines.append(line)
    for size in args.sizes:
        by = {row["method"]: row["median_s"] for row in rows if row["size"] == size}
        if "layered" in by and "taf" in by:
            lines.append(f"\nAt {size}²: layered is {by['taf'] / by['layered']:.0f}x faster than taf.")
    report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
