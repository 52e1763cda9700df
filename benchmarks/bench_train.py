"""Step time and peak memory of ``python -m dofgen.train exif`` and ``dmd`` (issue 14, item 6).

Run by hand from the repository root::

    python -m benchmarks.bench_train [--shape tiny|sdxl] [--steps 10] [--processes 1] [--fsdp]
                                     [--resolution R] [--out benchmarks/RESULTS.md]

Each command runs under ``accelerate launch`` on models saved to a temporary folder, with a
dataset made from the bundled scenes (``tests/support/train_helpers.py``), for ``--warmup`` +
``--steps`` steps; the table gives the median seconds per step after the warm-up
(checkpoints left out, from ``OUT/summary.json``), the main process's peak memory (CUDA
allocations on a GPU, resident set size always) and the wall time of the launch.

``--shape tiny`` (default) is the tests' tiny SDXL: it proves the script and the commands on
any machine, and its figures say nothing about the paper's model. ``--shape sdxl`` saves
random weights with SDXL base's architecture (UNet 2.6 B parameters, both text encoders, the
VAE; configs written here, so nothing is downloaded) at ``--resolution 1024``: the step time
and memory of F.1's setup per GPU, for a machine with a GPU (``--mixed-precision bf16`` by
default there). The depth model stays tiny (frozen, a small share of a step).
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.bench_lens import machine
from benchmarks.report import report_section
from dofgen.argparse_help import ArgumentParser
from tests.support.tiny_models import save_tiny_depth_anything, save_tiny_sdxl, write_clip_vocab
from tests.support.train_helpers import save_disk_dataset, save_imagefolder

ROOT = Path(__file__).resolve().parent.parent

GIB = 2**30


def save_sdxl_shaped(folder: Path) -> Path:
    """Random weights in SDXL base 1.0's architecture, saved as a diffusers folder (fp32)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    vocab = write_clip_vocab(folder / "vocab")
    tokenizer = CLIPTokenizer(str(folder / "vocab" / "vocab.json"), str(folder / "vocab" / "merges.txt"), model_max_length=77)
    common = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1, vocab_size=max(len(vocab), 49408), max_position_embeddings=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12, projection_dim=768, hidden_act="quick_gelu", **common))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32, projection_dim=1280, hidden_act="gelu", **common))
    unet = UNet2DConditionModel(**sdxl_unet_config())
    vae = AutoencoderKL(
        block_out_channels=[128, 256, 512, 512], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, layers_per_block=2, sample_size=1024, scaling_factor=0.13025,
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading")
    StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet, scheduler=scheduler,
    ).save_pretrained(folder)
    return folder


def sdxl_unet_config() -> dict:
    """SDXL base 1.0's UNet (``unet/config.json`` of stabilityai/stable-diffusion-xl-base-1.0)."""
    return dict(
        sample_size=128, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816, norm_num_groups=32,
    )


def command_args(command: str, model: Path, depth: Path, deep: Path, shallow: Path, args: argparse.Namespace, out: Path) -> list[str]:
    common = ["--model", str(model), "--resolution", str(args.resolution), "--max-steps", str(args.warmup + args.steps),
              "--checkpointing-steps", str(10**6), "--report-to", "none", "--output-dir", str(out)]
    if command == "exif":
        return ["exif", *common, "--data", str(deep), str(shallow), "--lora-rank", "4"]
    return ["dmd", *common, "--deep", str(deep), "--shallow", str(shallow), "--depth-model", str(depth), "--learning-rate", "1e-6"]


def launch(arguments: list[str], args: argparse.Namespace) -> float:
    """Run ``-m dofgen.train <arguments>`` under ``accelerate launch``; its wall seconds."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(args.processes), "--num_machines", "1",
                "--mixed_precision", args.mixed_precision, "--dynamo_backend", "no", "--main_process_port", "0"]
    if args.fsdp:
        launcher[3:3] = ["--config_file", str(ROOT / "configs" / "accelerate_fsdp.yaml")]
        env["DOFGEN_FSDP_ON_CPU"] = "1"  # only matters on CPU processes
    elif args.processes > 1:
        launcher.append("--multi_gpu")
    if not torch.cuda.is_available():
        env.update(ACCELERATE_USE_CPU="1", OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // args.processes)))
    start = time.perf_counter()
    done = subprocess.run([*launcher, "-m", "dofgen.train", *arguments], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"dofgen.train {arguments[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return time.perf_counter() - start


def row(command: str, summary: dict, wall: float, warmup: int) -> str:
    seconds = summary["step_seconds"][warmup:]
    peaks = summary["peak_memory_bytes"]
    gpu = f"{peaks['cuda_allocated'] / GIB:.1f} GiB ({peaks['cuda_reserved'] / GIB:.1f} reserved)" if "cuda_allocated" in peaks else "n/a"
    return (f"| {command} | {summary['processes']} ({summary['distributed_type']}) | {len(seconds)} | {statistics.median(seconds):.3f} s "
            f"({min(seconds):.3f} to {max(seconds):.3f}) | {gpu} | {peaks['process_rss'] / GIB:.2f} GiB | {wall:.0f} s |\n")


def main() -> None:
    parser = ArgumentParser(prog="python -m benchmarks.bench_train", description=__doc__)
    parser.add_argument("--shape", choices=("tiny", "sdxl"), default="tiny", help="The tests' tiny SDXL, or SDXL base's architecture with random weights.")
    parser.add_argument("--commands", nargs="+", choices=("exif", "dmd"), default=["exif", "dmd"], help="Training commands to time.")
    parser.add_argument("--steps", type=int, default=10, help="Timed steps, after --warmup.")
    parser.add_argument("--warmup", type=int, default=2, help="Steps run before the timed ones.")
    parser.add_argument("--processes", type=int, default=1, help="Processes of the accelerate launch.")
    parser.add_argument("--fsdp", action="store_true", help="Launch with configs/accelerate_fsdp.yaml.")
    parser.add_argument("--resolution", type=int, help="Training resolution (default: 32 for tiny, 1024 for sdxl).")
    parser.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), help="Mixed precision (default: bf16 on a GPU, no on CPUs).")
    parser.add_argument("--out", type=Path, help="Markdown file whose training section the table replaces (default: print only).")
    args = parser.parse_args()
    args.resolution = args.resolution or (32 if args.shape == "tiny" else 1024)
    args.mixed_precision = args.mixed_precision or ("bf16" if torch.cuda.is_available() else "no")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = (save_tiny_sdxl if args.shape == "tiny" else save_sdxl_shaped)(folder / "sdxl")
        depth = save_tiny_depth_anything(folder / "depth")
        deep, shallow = save_disk_dataset(folder / "deep", "deep"), save_imagefolder(folder / "shallow", "shallow")
        for command in args.commands:
            out = folder / f"run-{command}"
            wall = launch(command_args(command, model, depth, deep, shallow, args, out), args)
            rows.append(row(command, json.loads((out / "summary.json").read_text()), wall, args.warmup))
    label = "tiny random SDXL (the tests' models: proves the script, not the paper's cost)" if args.shape == "tiny" else "random weights in SDXL base's architecture"
    flags = f"--shape {args.shape} --steps {args.steps} --processes {args.processes}" + (" --fsdp" if args.fsdp else "")
    text = (
        f"## Training step time and memory, {device.upper()}, {args.shape} models, {args.processes} process"
        f"{'es' if args.processes > 1 else ''}{' (FSDP config)' if args.fsdp else ''} (issue 14)\n\n"
        f"`python -m benchmarks.bench_train {flags}`, {datetime.date.today()}, {machine(device)}, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Models: {label}; {args.resolution}x{args.resolution}, batch 1 per process, "
        f"mixed precision {args.mixed_precision}; dmd with 5 fake-score updates per generator step, Deep and Shallow alternating.\n\n"
        "| command | processes | timed steps | seconds per step, median (range) | peak GPU memory | peak process RSS | launch wall |\n"
        "|---|---|---|---|---|---|---|\n" + "".join(rows)
    )
    report_section(text, args.out, text.splitlines()[0])


if __name__ == "__main__":
    main()
