"""Training commands on tiny models, 2 CPU processes under ``accelerate launch`` (gloo)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dofgen.exif_embedding import ExifEmbedding
from dofgen.focus_predictor import FocusPredictor
from dofgen.train.__main__ import main as train_main

from tests.support.train_helpers import own_random_state, launch, save_disk_dataset, save_imagefolder  # noqa: F401 (autouse)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return save_disk_dataset(folder / "deep", "deep"), save_imagefolder(folder / "shallow", "shallow")


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _check_summary(summary: dict, moving: set[str], frozen: set[str]) -> None:
    assert summary["processes"] == 2 and summary["steps"] == 2
    values = [value for series in summary["losses"].values() for _, value in series]
    assert values and all(math.isfinite(v) for v in values)
    components = summary["components"]
    assert {n for n, c in components.items() if c["moved"]} == moving
    assert {n for n, c in components.items() if not c["trainable"]} == frozen
    assert all(not components[n]["moved"] for n in frozen)


def _same_tensors(a: Path, b: Path) -> None:
    """Every tensor in the safetensors and torch files of two folders is identical."""
    names = sorted(p.name for p in a.iterdir() if p.suffix in (".safetensors", ".bin"))
    assert names and names == sorted(p.name for p in b.iterdir() if p.suffix in (".safetensors", ".bin"))
    for name in names:
        if name.endswith(".safetensors"):
            left, right = load_file(a / name), load_file(b / name)
        else:
            left, right = (_flatten(torch.load(f / name, weights_only=False)) for f in (a, b))
        assert left.keys() == right.keys(), name
        for key in left:
            assert torch.equal(left[key], right[key]), f"{name}:{key}"


def _flatten(tree, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in _flatten(value, f"{prefix}/{key}").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, value in enumerate(tree) for k, v in _flatten(value, f"{prefix}/{i}").items()}
    return {prefix: torch.tensor(float(tree))} if isinstance(tree, (int, float)) else {}


def _other_start(folder: Path, model) -> Path:
    """``model`` with other random weights, saved: a start that a resumed run must not keep."""
    torch.manual_seed(123)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter)
    model.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_exif_two_processes_moves_only_exif_and_lora_and_resumes_identically(tmp_path, tiny_sdxl_path, data):
    from dofgen.generator import Generator

    deep, shallow = data
    checkpoint = shutil.copytree(tiny_sdxl_path, tmp_path / "sdxl")  # the output lands inside the checkpoint
    common = ["dofgen.train", "exif", "--data", str(deep), str(shallow), "--resolution", "32", "--max-steps", "2",
              "--checkpointing-steps", "1", "--lora-rank", "2", "--frequency-dim", "8", "--hidden-dim", "16"]
    launch(*common, "--model", str(checkpoint), "--output-dir", str(checkpoint))
    _check_summary(_summary(checkpoint), {"exif_embedding", "unet_lora"}, {"unet", "text_encoder", "text_encoder_2", "vae"})
    assert (checkpoint / "pytorch_lora_weights.safetensors").is_file()
    assert list((checkpoint / "logs").rglob("events.out.tfevents.*"))  # TensorBoard by default

    generator = Generator.from_pretrained(str(checkpoint), device="cpu")
    trained = load_file(checkpoint / "exif_embedding" / "diffusion_pytorch_model.safetensors")
    assert generator.exif_embedding is not None
    assert all(torch.equal(v, trained[k]) for k, v in generator.exif_embedding.state_dict().items())
    lora = load_file(checkpoint / "pytorch_lora_weights.safetensors")  # the LoRA trained with it is loaded too
    loaded = {"unet." + n.replace(".lora_A.default_0", ".lora.down").replace(".lora_B.default_0", ".lora.up"): p
              for n, p in generator.pipe.unet.named_parameters() if "lora" in n}
    assert loaded.keys() == lora.keys() and all(torch.equal(p, lora[n]) for n, p in loaded.items())

    other = _other_start(tmp_path / "other", ExifEmbedding(8, frequency_dim=8, hidden_dim=16))  # the checkpoint must override it
    resumed = tmp_path / "resumed"
    done = launch(*common, "--model", str(tiny_sdxl_path), "--init-exif", str(other), "--output-dir", str(resumed),
                  "--resume-from", str(checkpoint / "checkpoints" / "step-1"))
    assert "at step 1" in done.stdout
    _same_tensors(checkpoint / "checkpoints" / "step-2", resumed / "checkpoints" / "step-2")
    _same_tensors(checkpoint / "exif_embedding", resumed / "exif_embedding")
    assert _summary(resumed)["losses"] == _summary(checkpoint)["losses"]


@pytest.mark.slow
def test_dmd_two_processes_alternates_moves_trainables_and_resumes_identically(tmp_path, tiny_sdxl_path, tiny_depth_path, data):
    from dofgen.focus_predictor import find_focus_predictor

    deep, shallow = data
    common = ["dofgen.train", "dmd", "--model", str(tiny_sdxl_path), "--deep", str(deep), "--shallow", str(shallow),
              "--depth-model", str(tiny_depth_path), "--resolution", "32", "--max-steps", "2", "--checkpointing-steps", "1",
              "--fake-updates", "2", "--learning-rate", "1e-3"]
    out = tmp_path / "run"
    launch(*common, "--output-dir", str(out), "--export-pipeline")
    summary = _summary(out)
    _check_summary(summary, {"generator", "fake_score", "focus_predictor"},
                   {"real_score", "depth_model", "text_encoder", "text_encoder_2", "vae"})
    assert [step for step, _ in summary["losses"]["loss/dm_deep"]] == [1]  # Deep, then Shallow
    assert [step for step, _ in summary["losses"]["loss/dm_shallow"]] == [2]
    assert {"loss/focus_huber", "loss/fake_score", "loss/gan_deep", "loss/gan_shallow"} <= summary["losses"].keys()
    base = load_file(tiny_sdxl_path / "unet" / "diffusion_pytorch_model.safetensors")
    student = load_file(out / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors")
    assert any(not torch.equal(base[k], student[k]) for k in base)
    assert find_focus_predictor(out / "pipeline") is not None

    resumed = tmp_path / "resumed"
    shutil.copytree(out / "checkpoints" / "step-1", resumed / "checkpoints" / "step-1")
    other = _other_start(tmp_path / "other", FocusPredictor())  # the checkpoint must override it
    done = launch(*common, "--output-dir", str(resumed), "--resume-from", "latest", "--focus-init", str(other))
    assert "at step 1" in done.stdout
    _same_tensors(out / "checkpoints" / "step-2", resumed / "checkpoints" / "step-2")
    _same_tensors(out / "unet", resumed / "unet")
    _same_tensors(out / "focus_predictor", resumed / "focus_predictor")


@pytest.mark.slow
def test_exif_under_the_fsdp_config_shards_checkpoints_and_resumes_identically(tmp_path, tiny_sdxl_path, data):
    """The repository's FSDP config on 2 CPU processes (FSDP2 over gloo): sharded checkpoints
    from both processes, and a run resumed from one ends where the whole run ended."""
    deep, shallow = data
    common = ["dofgen.train", "exif", "--model", str(tiny_sdxl_path), "--data", str(deep), str(shallow), "--resolution", "32",
              "--max-steps", "2", "--checkpointing-steps", "1", "--lora-rank", "2", "--frequency-dim", "8", "--hidden-dim", "16",
              "--report-to", "none"]
    out, resumed = tmp_path / "run", tmp_path / "resumed"
    launch(*common, "--output-dir", str(out), fsdp=True)
    _check_summary(_summary(out), {"exif_embedding", "unet_lora"}, {"unet", "text_encoder", "text_encoder_2", "vae"})
    for part in ("pytorch_model_fsdp_0", "optimizer_0"):  # accelerate's sharded (FSDP) layout, one file per process
        assert sorted(p.name for p in (out / "checkpoints" / "step-2" / part).glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]
    done = launch(*common, "--output-dir", str(resumed), "--resume-from", str(out / "checkpoints" / "step-1"), fsdp=True)
    assert "at step 1" in done.stdout
    _same_tensors(out / "exif_embedding", resumed / "exif_embedding")
    _same_tensors(out, resumed)  # the LoRA weights
    assert _summary(resumed)["losses"] == _summary(out)["losses"]


def test_a_launch_that_would_not_run_as_configured_stops():
    from types import SimpleNamespace

    from accelerate.utils import DistributedType

    from dofgen.train.accelerate_run import check_processes

    alone = SimpleNamespace(num_processes=1, distributed_type=DistributedType.NO)  # GPU-less processes without ACCELERATE_USE_CPU
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORLD_SIZE", "2")
        with pytest.raises(SystemExit, match="2 processes were launched but accelerate runs 1.*ACCELERATE_USE_CPU=1"):
            check_processes(alone)


def test_bad_flags_say_what_to_fix(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(["dmd", "--deep", str(tmp_path), "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2 and "--dof alternate needs --shallow" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train_main(["exif", "--data", str(tmp_path), "--output-dir", str(tmp_path), "--resolution", "100"])
    assert exit_info.value.code == 2 and "--resolution 100 must be a multiple of 8" in capsys.readouterr().err


def test_fsdp_config_is_the_papers_setup():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    config = load_config_from_file(str(ROOT / "configs" / "accelerate_fsdp.yaml"))
    assert config.distributed_type == DistributedType.FSDP and config.fsdp_config["fsdp_version"] == 2
    assert config.num_processes == 8 and not config.use_cpu
