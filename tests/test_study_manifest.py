import json
import os

import numpy as np
import pytest

from study import BASELINES
from study.manifest import ManifestError, load_manifest

from tests.support.study_helpers import tiny_video, write_manifest


def test_valid_manifest_and_pairs(tmp_path):
    manifest = load_manifest(write_manifest(tmp_path / "m", prompts=3))
    assert len(manifest.stimuli) == 3 * 7 and not manifest.demo
    assert len(manifest.pairs()) == 3 * 6 and ("p0", "sdxl") in manifest.pairs()
    assert manifest.video("p1", "ours").video.is_file() and manifest.prompt("p2") == "prompt 2"


def test_csv_manifest(tmp_path):
    tiny_video(tmp_path / "a.mp4")
    tiny_video(tmp_path / "b.mp4")
    (tmp_path / "m.csv").write_text("prompt_id,prompt,method,video,seed\nx,a cat,ours,a.mp4,1\nx,a cat,sdxl,b.mp4,1\n")
    manifest = load_manifest(tmp_path / "m.csv")
    assert manifest.pairs() == [("x", "sdxl")] and manifest.stimuli[0].meta == {"seed": "1"}


@pytest.mark.parametrize(
    "row, message",
    [
        ({"prompt_id": "p9", "prompt": "x", "method": "ours", "video": "../outside.mp4"}, "inside the manifest's folder"),
        ({"prompt_id": "p9", "prompt": "x", "method": "ours", "video": "/etc/passwd"}, "inside the manifest's folder"),
        ({"prompt_id": "p9", "prompt": "x", "method": "ours", "video": "videos/missing.mp4"}, "does not exist"),
        ({"prompt_id": "p9", "prompt": "x", "method": "ours", "video": "notes.mp4"}, "not a video"),
        ({"prompt_id": "p9", "prompt": "x", "method": "magic", "video": "videos/p0-ours.mp4"}, "unknown method"),
        ({"prompt_id": "p9", "prompt": "x", "method": "no_lens", "video": "videos/p0-ours.mp4"}, "demo manifest"),
        ({"prompt_id": "p0", "prompt": "x", "method": "ours", "video": "videos/p0-ours.mp4"}, "second 'ours'"),
        ({"prompt_id": "p9", "prompt": "", "method": "ours", "video": "videos/p0-ours.mp4"}, "missing prompt"),
        ({"prompt_id": "p9", "prompt": "x", "method": "ours", "video": "videos/p0-ours.mp4"}, "needs an 'ours' video and at least one baseline"),
    ],
)
def test_bad_rows_are_named(tmp_path, row, message):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "notes.mp4").write_text("hello")
    path = write_manifest(folder, prompts=1, extra=[row])
    with pytest.raises(ManifestError, match=message) as error:
        load_manifest(path)
    if "needs" not in message:
        assert "row 8" in str(error.value)  # 7 stimuli before it


def test_links_out_of_the_folder_are_refused(tmp_path):
    outside = tiny_video(tmp_path / "outside.mp4")
    folder = tmp_path / "m"
    path = write_manifest(folder, prompts=1)
    os.symlink(outside, folder / "videos" / "link.mp4")
    with path.open("a") as handle:
        handle.write(json.dumps({"prompt_id": "p0", "prompt": "x", "method": "no_lens", "video": "videos/link.mp4"}) + "\n")
    demo = write_manifest(tmp_path / "demo", prompts=1, demo=True, extra=[{"prompt_id": "p0", "prompt": "x", "method": "no_lens", "video": "../outside.mp4"}])
    with pytest.raises(ManifestError, match="inside"):
        load_manifest(demo)
    lines = demo.read_text().splitlines()[:-1] + [json.dumps({"prompt_id": "p0", "prompt": "x", "method": "no_lens", "video": "videos/link.mp4"})]
    os.symlink(outside, tmp_path / "demo" / "videos" / "link.mp4")
    demo.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match="leads outside"):
        load_manifest(demo)


def test_broken_json_and_missing_file(tmp_path):
    path = write_manifest(tmp_path / "m", prompts=1)
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(ManifestError, match="line 8: not valid JSON"):
        load_manifest(path)
    with pytest.raises(ManifestError, match="no manifest"):
        load_manifest(tmp_path / "nothing.jsonl")
    assert BASELINES[0] == "sdxl"


def test_catch_rows(tmp_path):
    ok = write_manifest(tmp_path / "ok", prompts=1, extra=[{"prompt_id": "p0", "prompt": "x", "method": "frame_shuffled", "catch": True, "video": "videos/p0-sdxl.mp4"}])
    manifest = load_manifest(ok)
    assert manifest.catch_pairs() == [("p0", "frame_shuffled")] and ("p0", "frame_shuffled") not in manifest.pairs()
    assert manifest.video("p0", "frame_shuffled").catch and "catch" not in manifest.video("p0", "frame_shuffled").meta
    for method in ("ours", "Not Valid"):
        bad = write_manifest(tmp_path / method.replace(" ", ""), prompts=1, extra=[{"prompt_id": "p0", "prompt": "x", "method": method, "catch": "true", "video": "videos/p0-sdxl.mp4"}])
        with pytest.raises(ManifestError, match="attention check"):
            load_manifest(bad)
    unknown = write_manifest(tmp_path / "unknown", prompts=1, extra=[{"prompt_id": "p0", "prompt": "x", "method": "frame_shuffled", "video": "videos/p0-sdxl.mp4"}])
    with pytest.raises(ManifestError, match="unknown method"):
        load_manifest(unknown)  # without 'catch', only the study's methods


def test_frame_shuffled_attention_checks_are_added(tmp_path):
    from dofgen.evaluate import read_frames
    from dofgen.video import write_mp4
    from study.catch import main, shuffled_order

    path = write_manifest(tmp_path / "m", prompts=3)
    frames = [np.full((16, 16, 3), 30 * i, np.uint8) for i in range(6)]
    write_mp4(frames, tmp_path / "m" / "videos" / "p0-ours.mp4", fps=6)
    assert main(["--manifest", str(path), "--prompts", "2"]) == 0
    manifest = load_manifest(path)
    assert manifest.catch_pairs() == [("p0", "frame_shuffled"), ("p1", "frame_shuffled")]
    shuffled = [round(f.mean() / 30) for f in read_frames(manifest.video("p0", "frame_shuffled").video)]  # which frame it was
    assert sorted(shuffled) == list(range(6)) and shuffled != list(range(6))
    assert all(i != j for i, j in enumerate(shuffled_order(6, seed=3)))
    assert main(["--manifest", str(path), "--prompts", "5"]) == 0 and len(load_manifest(path).catch_pairs()) == 3  # no prompt twice


def test_the_demo_manifest_has_a_prompt_for_every_question():
    from study.assign import assign, question_count
    from study.config import StudyConfig

    config = StudyConfig.from_env({})
    manifest = load_manifest(config.manifest)
    assert manifest.demo and len({p for p, _ in manifest.pairs()}) == 21
    assert question_count(manifest.pairs(), manifest.catch_pairs(), config.questions, config.attention_checks) == (20, 0)
    questions = assign("participant-demo-01", manifest.pairs())
    assert len(questions) == 20 and len({q.prompt_id for q in questions}) == 20
