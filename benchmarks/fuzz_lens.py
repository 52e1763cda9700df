"""Fuzz the layered lens: random renders over its parameter space, each checked to raise
nothing and return a finite sRGB image in [0, 1] of the input's shape.

Run by hand from the repository root: ``nice -n 10 python -m benchmarks.fuzz_lens
[--renders 10000] [--out benchmarks/RESULTS.md]``. Cases come from
``tests.support.lens_fuzz`` (the space of tests/test_lens_fuzz.py): sides 9-1024 px skewed
small by ``--skew``, every depth layout, f/1-32, 14-200 mm, phone to full-frame sensors,
focus from half the nearest depth to 1.5x the farthest, both qualities, every blade count,
boosts 0-1, all drawn from one seeded generator, so a failure is reproduced by its index.
"""

from __future__ import annotations

import datetime
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.bench_lens import machine
from benchmarks.report import report
from dofgen.argparse_help import ArgumentParser
from tests.support.lens_fuzz import LensCase, failure, random_case


def fuzz(renders: int, skew: float, seed: int) -> tuple[list[tuple[int, LensCase, str]], list[LensCase], list[float]]:
    """The failures (index, case, what went wrong), every case, and each render's seconds."""
    rng = random.Random(seed)
    failures, cases, seconds = [], [], []
    with torch.inference_mode():
        for index in range(renders):
            case = random_case(rng, skew)
            start = time.perf_counter()
            problem = failure(case)
            seconds.append(time.perf_counter() - start)
            cases.append(case)
            if problem is not None:
                failures.append((index, case, problem))
                print(f"FAIL {index}: {case}: {problem}", flush=True)
            if (index + 1) % 500 == 0:
                print(f"{index + 1} renders, {len(failures)} failures, {sum(seconds):.0f} s", flush=True)
    return failures, cases, seconds


def _share(cases: list[LensCase], test: Callable[[LensCase], object]) -> str:
    """The percentage of ``cases`` that pass ``test``."""
    return f"{100 * sum(map(test, cases)) / len(cases):.1f} %"


def summary(failures: list[tuple[int, LensCase, str]], cases: list[LensCase], seconds: list[float], skew: float, seed: int, load: tuple[float, float]) -> str:
    """The Markdown section: counts, the size distribution, times and any failures."""
    sides = sorted(side for case in cases for side in (case.height, case.width))
    quartiles = statistics.quantiles(sides, n=4)
    lines = [
        f"### Layered lens fuzz — {datetime.date.today().isoformat()}",
        "",
        f"Machine: {machine('cpu')}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end (other jobs shared the cores).",
        f"`python -m benchmarks.fuzz_lens --renders {len(cases)} --skew {skew:g} --seed {seed} --threads {torch.get_num_threads()}` (under `nice -n 10`).",
        "",
        "| renders | failures | rendering, summed (s) | median render (s) | slowest render (s) |",
        "|---|---|---|---|---|",
        f"| {len(cases)} | {len(failures)} | {sum(seconds):.0f} | {statistics.median(seconds):.3f} | {max(seconds):.2f} |",
        "",
        f"Sides (each case's height and width, 9 + 1015 u^{skew:g}): quartiles {quartiles[0]:.0f} / {quartiles[1]:.0f} / "
        f"{quartiles[2]:.0f} px, largest {sides[-1]}; {_share(cases, lambda c: max(c.height, c.width) >= 256)} of the cases "
        f"have a side of 256 px or more, {_share(cases, lambda c: max(c.height, c.width) >= 512)} of 512 or more, "
        f"{_share(cases, lambda c: max(c.height, c.width) >= 1000)} of 1000 or more; "
        f"{_share(cases, lambda c: c.height % 2 or c.width % 2)} have an odd side.",
    ]
    lines += [f"- failure {index}: `{case}`: {problem}" for index, case, problem in failures]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.fuzz_lens", description=__doc__)
    parser.add_argument("--renders", type=int, default=10_000, help="Random renders to check.")
    parser.add_argument("--skew", type=float, default=5.0, help="Exponent that skews the image sides small (9 + 1015 u^skew).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the case generator.")
    parser.add_argument("--threads", type=int, help="Torch threads (default: torch's own); 1 wastes no time waiting on a descheduled thread on a shared machine.")
    parser.add_argument("--out", type=Path, help="Markdown file to append the result to (default: print only).")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start_load = os.getloadavg()[0]
    failures, cases, seconds = fuzz(args.renders, args.skew, args.seed)
    report(summary(failures, cases, seconds, args.skew, args.seed, (start_load, os.getloadavg()[0])), args.out)


if __name__ == "__main__":
    main()
