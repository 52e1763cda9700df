"""What every training command shares: flags, the ``accelerate`` run, checkpoints, logs.

Runs under ``accelerate launch`` (one process, several, several nodes; FSDP with
``configs/accelerate_fsdp.yaml``). Checkpoints are ``accelerate``'s ``save_state`` folders,
``OUT/checkpoints/step-<k>``, holding models, optimizers and random states, plus
``step.json`` (the step and the losses so far); ``--resume-from latest`` (or a folder) continues from one. Losses go to the
``accelerate`` trackers (TensorBoard in ``OUT/logs`` by default), and ``OUT/summary.json``
records every step's losses (``[step, value]`` pairs, averaged over processes), per component
a fingerprint of its weights at the start and the end (which moved, which stayed frozen),
and the main process's seconds per step (checkpoints left out) and peak memory
(``benchmarks/bench_train.py`` reads them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from dofgen.config import FSDP_ON_CPU, USE_FSDP, WORLD_SIZE, flag, value

CHECKPOINTS = "checkpoints"


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of every command. The defaults are Section F.1's values where it gives one; a
    command may change a default (``exif``'s learning rate and steps), and its help then
    shows the command's own."""
    parser.add_argument("--model", default="stabilityai/stable-diffusion-xl-base-1.0", help="The SDXL checkpoint (hub id or folder).")
    parser.add_argument("--output-dir", type=Path, required=True, help="Folder for the checkpoints, logs, summary and trained weights.")
    parser.add_argument("--resolution", type=int, default=1024, help="Side of the centre-cropped square training images (F.1 used 1024).")
    parser.add_argument("--batch-size", type=int, default=1, help="Images per process and step (F.1 used 1).")
    parser.add_argument("--learning-rate", type=float, default=5e-7,
                        help="AdamW learning rate (F.1 distils at 5e-7; F.3 gives none, so exif defaults to 1e-4, which suits a new module).")
    parser.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (F.1 used 0.01).")
    parser.add_argument("--adam-beta1", type=float, default=0.9, help="AdamW beta1 (F.1 used 0.9).")
    parser.add_argument("--adam-beta2", type=float, default=0.999, help="AdamW beta2 (F.1 used 0.999).")
    parser.add_argument("--max-steps", type=int, default=10000, help="Optimiser steps of the whole run (F.1 gives a day per stage on 16 A100s, not a step count).")
    parser.add_argument("--checkpointing-steps", type=int, default=500, help="Save a checkpoint every this many steps (and at the last).")
    parser.add_argument("--checkpoints-total-limit", type=int, default=3, help="Checkpoints kept; older ones are deleted.")
    parser.add_argument("--resume-from", help="Continue from 'latest' or from a checkpoint folder (default: start afresh).")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (each process draws its own stream from it).")
    parser.add_argument("--report-to", default="tensorboard", help="An accelerate tracker, or 'none'.")


def check_run_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One clear error for values no run can use."""
    if args.resolution % 8 or not 16 <= args.resolution <= 4096:
        parser.error(f"--resolution {args.resolution} must be a multiple of 8 from 16 to 4096")
    for name in ("batch_size", "max_steps", "checkpointing_steps", "checkpoints_total_limit"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.learning_rate > 0:
        parser.error("--learning-rate must be positive")


def adamw(args: argparse.Namespace, parameters: Iterable[torch.nn.Parameter], learning_rate: float | None = None) -> torch.optim.AdamW:
    """AdamW with the run's hyper-parameters."""
    return torch.optim.AdamW(
        list(parameters), lr=learning_rate or args.learning_rate, weight_decay=args.weight_decay, betas=(args.adam_beta1, args.adam_beta2)
    )


@torch.no_grad()
def init_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Create the state of every parameter as a step that changes nothing would (zero
    gradients, learning rate 0, step count back to 0): the next real step is exactly what it
    would have been. ``optimizer`` may be accelerate's wrapper: its torch optimizer steps."""
    optimizer = getattr(optimizer, "optimizer", optimizer)
    rates = [group["lr"] for group in optimizer.param_groups]
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    for parameter in parameters:
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    for group, rate in zip(optimizer.param_groups, rates):
        group["lr"] = rate
    for parameter in parameters:
        parameter.grad = None
        if torch.is_tensor(step := optimizer.state[parameter].get("step")):
            step.zero_()


Parameters = Callable[[], Iterable[torch.nn.Parameter]]


def peak_memory(device: torch.device) -> dict[str, int]:
    """This process's peak memory in bytes: the accelerator's allocations on CUDA, and the
    resident set size of the process (Linux reports KiB)."""
    peaks = {"process_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if device.type == "cuda":
        peaks["cuda_allocated"] = torch.cuda.max_memory_allocated(device)
        peaks["cuda_reserved"] = torch.cuda.max_memory_reserved(device)
    return peaks


def fingerprint(parameters: Iterable[torch.nn.Parameter]) -> list[float]:
    """(sum, sum of squares) of the weights, in float64: equal only if nothing moved."""
    total, squares = 0.0, 0.0
    for parameter in parameters:
        tensor = parameter.full_tensor() if hasattr(parameter, "full_tensor") else parameter  # FSDP2 shards
        tensor = tensor.detach().double()
        total += float(tensor.sum())
        squares += float(tensor.square().sum())
    return [total, squares]


def check_processes(accelerator) -> None:
    """Stop a launch that would not run as configured, and turn on FSDP on CPU processes
    when DOFGEN_FSDP_ON_CPU=1.

    Two ways a launch silently does something else (accelerate 1.15): processes started on a
    machine without GPUs and without ``ACCELERATE_USE_CPU=1`` each run alone (same output
    folder, no gradient exchange); and with it, an FSDP config is ignored
    (``AcceleratorState`` sets FSDP up for accelerator devices only) and the run is DDP over
    gloo. torch's FSDP2 runs on CPU processes over gloo, and so do accelerate's FSDP2 wrapping
    and sharded checkpoints; ``DOFGEN_FSDP_ON_CPU=1`` makes the state FSDP there, which is how
    CI runs the training commands with ``configs/accelerate_fsdp.yaml`` (see docs/training.md).
    """
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    launched = int(value(WORLD_SIZE))
    if launched != accelerator.num_processes:
        raise SystemExit(f"{launched} processes were launched but accelerate runs {accelerator.num_processes}; "
                         "on a machine without GPUs set ACCELERATE_USE_CPU=1")
    fsdp_config = flag(USE_FSDP)
    if not fsdp_config or accelerator.distributed_type != DistributedType.MULTI_CPU:
        return
    if not flag(FSDP_ON_CPU):
        accelerator.print("the FSDP config is ignored on CPU processes (accelerate): running DDP; DOFGEN_FSDP_ON_CPU=1 runs FSDP")
        return
    plugin = FullyShardedDataParallelPlugin()  # from the launcher's FSDP_* variables, as accelerate makes it
    if accelerator.mixed_precision != "no":
        plugin.set_mixed_precision(accelerator.mixed_precision)
    # every AcceleratorState() copies PartialState's distributed type over its own: set both
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    AcceleratorState._shared_state.update(distributed_type=DistributedType.FSDP, fsdp_plugin=plugin)


class Run:
    """One training run: the ``Accelerator``, its checkpoints and its records."""

    def __init__(self, args: argparse.Namespace, command: str) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration, set_seed

        self.args, self.command = args, command
        self.out = Path(args.output_dir)
        self.accelerator = Accelerator(
            log_with=None if args.report_to == "none" else args.report_to,
            project_config=ProjectConfiguration(project_dir=str(self.out), logging_dir=str(self.out / "logs")),
            # a score model's GAN features use part of the UNet, and DMD's score passes run without gradients
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        check_processes(self.accelerator)
        set_seed(args.seed, device_specific=True)
        self.device = self.accelerator.device
        self.rank = self.accelerator.process_index
        self.losses: dict[str, list[list[float]]] = {}  # name: [[step, value], ...]
        self.components: dict[str, tuple[Parameters, bool]] = {}
        self.start_prints: dict[str, list[float]] = {}
        self.step = 0
        self.step_seconds: list[float] = []  # this process's steps, checkpoints left out
        self._step_start = 0.0

    def watch(self, name: str, parameters: Parameters | torch.nn.Module, trainable: bool) -> None:
        """A component whose weights' fingerprints go into the summary (a module, or a
        function giving some of its parameters)."""
        self.components[name] = (parameters.parameters if isinstance(parameters, torch.nn.Module) else parameters, trainable)

    def prepare(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        """One model with its optimizer (FSDP2 prepares them together), every parameter given
        its optimizer state: a sharded (FSDP) checkpoint saves state per parameter and its
        loader expects all of them, but a parameter with no gradient yet (the GAN head of the
        kind not trained so far) would have none."""
        from accelerate.utils import DistributedType

        model, optimizer = self.accelerator.prepare(model, optimizer)
        if self.accelerator.distributed_type == DistributedType.FSDP:  # other checkpoints hold what there is
            init_optimizer_state(optimizer)
        return model, optimizer

    def begin(self) -> int:
        """Resume if asked, fingerprint the components, start the trackers; the first step."""
        if self.args.resume_from:
            folder = self._checkpoint_to_resume()
            self.accelerator.load_state(str(folder))
            record = json.loads((folder / "step.json").read_text())
            self.step, self.losses = record["step"], record["losses"]
            self.accelerator.print(f"resumed from {folder} at step {self.step}")
        self.start_prints = {name: fingerprint(parameters()) for name, (parameters, _) in self.components.items()}
        if self.args.report_to != "none":
            config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()}
            self.accelerator.init_trackers(f"dofgen-{self.command}", config={k: v for k, v in config.items() if isinstance(v, (int, float, str, bool))})
        self._step_start = time.perf_counter()
        return self.step

    def _checkpoint_to_resume(self) -> Path:
        if self.args.resume_from != "latest":
            folder = Path(self.args.resume_from)
        else:
            found = sorted(self.out.glob(f"{CHECKPOINTS}/step-*"), key=lambda p: int(p.name.split("-")[1]))
            if not found:
                raise SystemExit(f"--resume-from latest: no checkpoint in {self.out / CHECKPOINTS}")
            folder = found[-1]
        if not (folder / "step.json").is_file():
            raise SystemExit(f"--resume-from {folder}: not a checkpoint folder (no step.json)")
        return folder

    def log(self, step: int, losses: dict[str, torch.Tensor]) -> None:
        """Average each loss over processes, stop on a non-finite one, send them to the trackers."""
        values = {}
        for name, loss in losses.items():
            value = float(self.accelerator.reduce(loss.detach().float().reshape(1).to(self.device), reduction="mean"))
            if not math.isfinite(value):
                raise FloatingPointError(f"{name} is {value} at step {step}; lower --learning-rate or check the data")
            values[name] = value
            self.losses.setdefault(name, []).append([step, value])
        self.accelerator.log(values, step=step)

    def after_step(self, step: int) -> None:
        """Count the step; checkpoint on schedule and at the last step."""
        self.step_seconds.append(time.perf_counter() - self._step_start)
        self.step = step
        if step % self.args.checkpointing_steps == 0 or step == self.args.max_steps:
            self.checkpoint()
        self._step_start = time.perf_counter()

    def checkpoint(self) -> Path:
        """Save the state at the current step; keep the newest ``--checkpoints-total-limit``."""
        folder = self.out / CHECKPOINTS / f"step-{self.step}"
        self.accelerator.save_state(str(folder))
        if self.accelerator.is_main_process:
            (folder / "step.json").write_text(json.dumps({"step": self.step, "losses": self.losses}))
            found = sorted(self.out.glob(f"{CHECKPOINTS}/step-*"), key=lambda p: int(p.name.split("-")[1]))
            for old in found[: -self.args.checkpoints_total_limit]:
                shutil.rmtree(old)
        self.accelerator.wait_for_everyone()
        return folder

    def save_model(self, model: torch.nn.Module, folder: Path) -> None:
        """A prepared diffusers model (DDP or FSDP) as a ``from_pretrained`` folder."""
        from safetensors.torch import save_file

        state = self.accelerator.get_state_dict(model)
        if self.accelerator.is_main_process:
            unwrapped = self.accelerator.unwrap_model(model)
            folder.mkdir(parents=True, exist_ok=True)
            unwrapped.save_config(folder)
            save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(folder / "diffusion_pytorch_model.safetensors"))
        self.accelerator.wait_for_everyone()

    def finish(self, save: Callable[[], None]) -> None:
        """Save the outputs, write ``summary.json``, close the trackers."""
        save()
        end_prints = {name: fingerprint(parameters()) for name, (parameters, _) in self.components.items()}
        if self.accelerator.is_main_process:
            components = {
                name: {"trainable": trainable, "start": self.start_prints[name], "end": end_prints[name],
                       "moved": self.start_prints[name] != end_prints[name]}
                for name, (_, trainable) in self.components.items()
            }
            summary = {"command": self.command, "steps": self.step, "processes": self.accelerator.num_processes,
                       "distributed_type": str(self.accelerator.distributed_type).rsplit(".", 1)[-1],
                       "step_seconds": self.step_seconds, "peak_memory_bytes": peak_memory(self.device),
                       "losses": self.losses, "components": components}
            temporary = self.out / "summary.json.tmp"
            temporary.write_text(json.dumps(summary, indent=1))
            os.replace(temporary, self.out / "summary.json")
        self.accelerator.end_training()
