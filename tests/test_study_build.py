import json

import pytest

from study.build import main, read_prompts
from study.manifest import load_manifest

from tests.support.study_helpers import tiny_video


@pytest.fixture()
def prompts(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("# two prompts\np1\ta teapot on a desk\n\na lamp in a room\n")
    return path


def _args(tmp_path, prompts, sdxl, depth, *extra):
    return ["--prompts", str(prompts), "--out", str(tmp_path / "out"), "--width", "64", "--height", "64",
            "--frames-per-stop", "1", "--fps", "4", "--generator", str(sdxl), "--sdxl", str(sdxl), "--sdxl-steps", "2",
            "--sdxl-guidance", "0", "--depth-model", str(depth), "--saliency", "spectral", "--device", "cpu", *extra]


def test_read_prompts(prompts):
    assert read_prompts(prompts) == [("p1", "a teapot on a desk"), ("p02", "a lamp in a room")]


@pytest.mark.slow
def test_build_every_method_resumable_and_sharded(tmp_path, prompts, tiny_sdxl_path, tiny_depth_path, capsys):
    imports = tmp_path / "camera_tokens"
    tiny_video(imports / "p1.mp4")
    args = _args(tmp_path, prompts, tiny_sdxl_path, tiny_depth_path, "--import-dir", str(imports))
    assert main(args + ["--shard", "1/2"]) == 0  # the second prompt only
    videos = tmp_path / "out" / "videos"
    assert sorted(p.name for p in videos.glob("*.mp4")) == sorted(f"p02-{m}.mp4" for m in
        ("ours", "deepdof_taf", "sdxl_taf", "sdxl_exif_fixed_drbokeh", "sdxl", "sdxl_distilled"))
    assert "skipping camera_tokens for p02" in capsys.readouterr().err
    stamp = (videos / "p02-ours.mp4").stat().st_mtime_ns
    assert main(args) == 0  # both shards' prompts now; finished videos are kept
    assert (videos / "p02-ours.mp4").stat().st_mtime_ns == stamp
    manifest = load_manifest(tmp_path / "out" / "manifest.jsonl")
    assert len(manifest.stimuli) == 13 and ("p1", "camera_tokens") in manifest.pairs()
    rows = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert {r["frames_per_stop"] for r in rows if r["method"] != "camera_tokens"} == {1}


def test_a_missing_model_skips_its_methods(tmp_path, prompts, tiny_sdxl_path, tiny_depth_path, capsys):
    args = _args(tmp_path, prompts, tiny_sdxl_path, tiny_depth_path, "--methods", "ours", "sdxl")
    args[args.index("--sdxl") + 1] = str(tmp_path / "no-sdxl")
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("skipping sdxl:") == 1 and "DOFGEN_GENERATOR" in err
    assert sorted(p.name for p in (tmp_path / "out" / "videos").glob("*.mp4")) == ["p02-ours.mp4", "p1-ours.mp4"]


def test_bad_flags(tmp_path, prompts, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--prompts", str(prompts), "--out", str(tmp_path), "--shard", "3/2"])
    assert exit_info.value.code == 2 and "--shard" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_split_the_prompts(tmp_path, prompts, tiny_sdxl_path, tiny_depth_path):
    from tests.support.train_helpers import launch

    args = _args(tmp_path, prompts, tiny_sdxl_path, tiny_depth_path, "--methods", "ours", "deepdof_taf")
    done = launch("study.build", *args)
    assert "process 0 of 2: prompts p1" in done.stderr and "process 1 of 2: prompts p02" in done.stderr
    manifest = load_manifest(tmp_path / "out" / "manifest.jsonl")
    assert sorted((s.prompt_id, s.method) for s in manifest.stimuli) == [("p02", "deepdof_taf"), ("p02", "ours"), ("p1", "deepdof_taf"), ("p1", "ours")]
    assert list((tmp_path / "out" / "logs").rglob("events.out.tfevents.*"))
