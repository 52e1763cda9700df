"""Section D's curation on a synthetic shard whose every photo has a known fate."""

import io
import json
from pathlib import Path

import pytest
from datasets import load_from_disk
from PIL import Image

from tests.support.curate_shard import CANON, blur_example, jpeg, write_shards
from tests.support.train_helpers import launch
from dofgen.curate.__main__ import main
from dofgen.curate.exif_tags import read_exif
from dofgen.curate.rules import exif_verdict
from dofgen.curate.train_blur import main as train_main
from tests.support.tiny_models import save_tiny_blip2, save_tiny_blur_classifier, save_tiny_resnet_classifier

BLUR_KINDS = ("none", "desirable", "undesirable")


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("curate") / "in"
    return root, write_shards(root)


def membership(out: Path) -> dict[str, str]:
    """file_name -> "deep" / "shallow" over both output datasets."""
    found = {}
    for subset in ("deep", "shallow"):
        for name in load_from_disk(str(out / subset))["file_name"]:
            assert name not in found, f"{name} is in two sets"
            found[name] = subset
    return found


def expected(photos: dict, column: str) -> dict[str, str]:
    return {name: getattr(photo, column) for name, photo in photos.items() if getattr(photo, column)}


def test_exif_edges():
    exact = read_exif(jpeg(blur_example("none", 0), dict(CANON, f_number=10.0, exposure_time=0.1)))[1]
    assert exact.f_number == 10.0 and exact.exposure_time == 0.1 and exact.make == "Canon"
    assert exif_verdict(exact).subset == "deep"  # f/10 and 0.1 s are both inside the deep rule
    assert exif_verdict(exact.__class__(**dict(exact.as_dict(), f_number=9.99))).subset == "shallow"
    assert exif_verdict(exact.__class__(**dict(exact.as_dict(), exposure_time=0.1001))).reason == "deep: exposure longer than 0.1 s"
    assert exif_verdict(exact.__class__(**dict(exact.as_dict(), f_number=50.01))).reason == "f-number above 50"
    assert read_exif(jpeg(blur_example("none", 0)))[0] == "missing"
    assert read_exif(jpeg(blur_example("none", 0), raw_exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7fjunk"))[0] == "corrupt"
    assert read_exif(b"not an image") == ("unreadable", None)
    apex = read_exif(jpeg(blur_example("none", 0), {"aperture_value": 4.0}))[1]
    assert apex.f_number == pytest.approx(4.0)  # N = 2^(Av/2)


def test_exif_rules_only(shards, tmp_path):
    root, photos = shards
    out = tmp_path / "out"
    assert main(["--input", str(root), "--out", str(out), "--no-models", "--shard-size", "8"]) == 0
    assert membership(out) == expected(photos, "exif_only")
    shallow = load_from_disk(str(out / "shallow"))
    rows = {row["file_name"]: row for row in shallow}
    assert rows["photos/a/sony_alpha.jpg"]["exif"]["model"] == "ILCE-7M4"
    assert rows["photos/a/sony_alpha.jpg"]["exif"]["f_number"] == pytest.approx(1.4)
    assert (rows["photos/a/sony_alpha.jpg"]["prompt"], rows["photos/a/sony_alpha.jpg"]["prompt_source"]) == ("a dog", "input")
    assert (rows["photos/a/f9.9.jpg"]["prompt"], rows["photos/a/f9.9.jpg"]["prompt_source"]) == ("a flower", "input")
    assert rows["photos/a/no_caption_exif_description.jpg"]["prompt_source"] == "exif"
    assert (rows["shard-000.tar/k2.jpg"]["prompt"], rows["shard-000.tar/k2.jpg"]["prompt_source"]) == ("", "none")
    assert rows["more.parquet/p1.jpg"]["prompt"] == "a cup"
    assert rows["photos/a/sony_alpha.jpg"]["image"].size == (32, 32)  # the original JPEG, decodable
    report = json.loads((out / "report.json").read_text())
    dropped = {(step["filter"], step["set"]): step["dropped"] for step in report["filters"]}
    assert dropped[("no EXIF", "all")] == 1 and dropped[("corrupt EXIF", "all")] == 1 and dropped[("unreadable image", "all")] == 1
    assert dropped[("no f-number", "all")] == 1 and dropped[("f-number above 50", "all")] == 1
    assert dropped[("exposure longer than 0.1 s", "deep")] == 2 and dropped[("no exposure time", "deep")] == 1
    assert dropped[("smartphone (make/model list)", "shallow")] == 4 and dropped[("smartphone (focal length)", "shallow")] == 1
    assert dropped[("image does not decode", "deep")] == 1
    assert report["rows"] == {"deep": 5, "shallow": 9} and report["throughput"]["photos"] == len(photos)
    assert sum(report["f_numbers_after"]["shallow"]) == 9 and sum(report["f_numbers_before"]) == 24
    assert all(status.startswith("not run") for status in report["models"].values())
    assert (out / "f_numbers.png").stat().st_size > 10_000

    # resume: every shard is done; then an interrupted shard (no done marker) is redone alone
    assert main(["--input", str(root), "--out", str(out), "--no-models", "--shard-size", "8"]) == 0
    shards_report = json.loads((out / "report.json").read_text())["shards"]
    assert shards_report["skipped_as_done"] == shards_report["total"] == 5
    victim = sorted((out / "shards").iterdir())[0]
    (victim / "stats.json").unlink()
    (victim / "rows.arrow").write_bytes(b"half written")
    assert main(["--input", str(root), "--out", str(out), "--no-models", "--shard-size", "8"]) == 0
    assert json.loads((out / "report.json").read_text())["shards"]["skipped_as_done"] == 4
    assert membership(out) == expected(photos, "exif_only")


def test_bad_shard_is_reported_and_retried(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    (root / "ok.jpg").write_bytes(jpeg(blur_example("none", 1), dict(CANON, f_number=2.0)))
    (root / "broken.tar").write_bytes(b"not a tar at all" * 100)
    assert main(["--input", str(root), "--out", str(tmp_path / "out"), "--no-models"]) == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [f["shard"] for f in report["shards"]["failed"]] == ["tar-broken.tar"]
    assert membership(tmp_path / "out") == {"ok.jpg": "shallow"}
    assert main(["--input", str(tmp_path / "nothing"), "--out", str(tmp_path / "o2"), "--no-models"]) == 2


def _jpegs(kind: str, seeds) -> list[Image.Image]:
    return [Image.open(io.BytesIO(jpeg(blur_example(kind, seed)))) for seed in seeds]


@pytest.fixture(scope="module")
def blur_classifier(tmp_path_factory):
    """A tiny ResNet wired into a sharpness meter (deterministic blur classes)."""
    folder = tmp_path_factory.mktemp("blur") / "model"
    return save_tiny_blur_classifier(folder, {kind: _jpegs(kind, range(300, 304)) for kind in BLUR_KINDS})


def test_blur_classifier_through_from_pretrained(blur_classifier):
    from dofgen.curate.models import BlurClassifier

    classifier = BlurClassifier.from_pretrained(str(blur_classifier), device="cpu")
    for kind in BLUR_KINDS:  # photos it was not calibrated on
        assert classifier(_jpegs(kind, range(5000, 5008))) == [kind] * 8


def test_train_blur_fine_tunes_on_a_labelled_folder(tmp_path):
    from dofgen.curate.models import BlurClassifier

    for kind in BLUR_KINDS:
        (tmp_path / "data" / kind).mkdir(parents=True)
        for index in range(12):
            (tmp_path / "data" / kind / f"{index}.jpg").write_bytes(jpeg(blur_example(kind, 1000 + 37 * index + len(kind))))
    base = save_tiny_resnet_classifier(tmp_path / "base")
    assert train_main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "model"), "--base", str(base), "--epochs", "6",
                       "--batch-size", "6", "--lr", "5e-3", "--val-fraction", "0.25", "--device", "cpu"]) == 0
    classifier = BlurClassifier.from_pretrained(str(tmp_path / "model"), device="cpu")
    assert sorted(classifier.labels.values()) == sorted(BLUR_KINDS)
    guesses = classifier([image for kind in BLUR_KINDS for image in _jpegs(kind, range(5000, 5010))])
    truth = [kind for kind in BLUR_KINDS for _ in range(10)]
    assert sum(g == t for g, t in zip(guesses, truth)) >= 20  # chance is 10 of 30
    (tmp_path / "bad" / "none").mkdir(parents=True)
    assert train_main(["--data", str(tmp_path / "bad"), "--out", str(tmp_path / "m"), "--base", str(base)]) == 2


def test_with_tiny_models(shards, blur_classifier, tmp_path):
    root, photos = shards
    yes, no = save_tiny_blip2(tmp_path / "yes", answer="yes"), save_tiny_blip2(tmp_path / "no", answer="no")
    out = tmp_path / "out"
    common = ["--input", str(root), "--shard-size", "8", "--device", "cpu", "--captioner", str(yes), "--blur-classifier", str(blur_classifier)]
    assert main([*common, "--out", str(out), "--validity-model", str(yes)]) == 0
    assert membership(out) == expected(photos, "with_models")
    report = json.loads((out / "report.json").read_text())
    assert set(report["models"].values()) == {"loaded"}
    dropped = {(step["filter"], step["set"]): step["dropped"] for step in report["filters"]}
    assert dropped[("blur class not none", "deep")] == 1 and dropped[("blur class not desirable", "shallow")] == 2
    rows = {row["file_name"]: row for subset in ("deep", "shallow") for row in load_from_disk(str(out / subset))}
    for name, row in rows.items():
        if photos[name].caption:
            assert (row["prompt"], row["prompt_source"]) == (photos[name].caption, "input")
        elif name.endswith("exif_description.jpg"):
            assert row["prompt_source"] == "exif"
        else:  # no caption: the captioner wrote one
            assert row["prompt_source"] == "captioner" and row["prompt"].strip()
        assert row["photo_score"] > 0.5 and row["blur_class"] == ("none" if row["subset"] == "deep" else "desirable")
    # the validity model says "not a photograph" to everything: both sets empty, counted
    out_no = tmp_path / "out_no"
    assert main([*common, "--out", str(out_no), "--validity-model", str(no)]) == 0
    assert membership(out_no) == {}
    dropped = {(step["filter"], step["set"]): step["dropped"] for step in json.loads((out_no / "report.json").read_text())["filters"]}
    assert dropped[("not a photograph", "deep")] == 5 and dropped[("not a photograph", "shallow")] == 9


def test_absent_models_are_reported_and_exif_rules_still_run(shards, tmp_path, monkeypatch):
    root, photos = shards
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("DOFGEN_BLUR_CLASSIFIER", raising=False)
    out = tmp_path / "out"
    missing = str(tmp_path / "no-such-model")
    assert main(["--input", str(root), "--out", str(out), "--captioner", missing, "--validity-model", missing, "--shard-size", "64"]) == 0
    assert membership(out) == expected(photos, "exif_only")
    models = json.loads((out / "report.json").read_text())["models"]
    assert models["captioner"].startswith("absent: could not load the captioner") and "DOFGEN_CAPTIONER" in models["captioner"]
    assert "DOFGEN_VALIDITY" in models["validity"]
    assert "python -m dofgen.curate.train_blur" in models["blur_classifier"]


@pytest.mark.slow
def test_num_proc_and_two_nodes_give_the_same_sets(shards, tmp_path):
    root, photos = shards
    assert main(["--input", str(root), "--out", str(tmp_path / "np"), "--no-models", "--shard-size", "4", "--num-proc", "2"]) == 0
    assert membership(tmp_path / "np") == expected(photos, "exif_only")
    out = tmp_path / "nodes"
    launch("dofgen.curate", "--input", str(root), "--out", str(out), "--no-models", "--shard-size", "4")
    assert membership(out) == expected(photos, "exif_only")
    report = json.loads((out / "report.json").read_text())
    assert report["shards"]["processes"] == 2 and report["shards"]["done"] == report["shards"]["total"] == 8
    assert report["shards"]["shards_per_process"] == {"0": 4, "1": 4}  # split_dataset_by_node


def test_training_reads_what_curation_writes(shards, tmp_path):
    """dofgen.train's loader takes OUT/shallow as dofgen.curate writes it (EXIF in a column)."""
    from dofgen.train.data import Rows, load_rows

    root, _ = shards
    out = tmp_path / "out"
    assert main(["--input", str(root), "--out", str(out), "--no-models", "--shard-size", "8"]) == 0
    curated = load_from_disk(str(out / "shallow"))
    rows = load_rows(out / "shallow")
    captioned = [row for row in curated if row["prompt"].strip() and row["exif"]["focal_length_mm"]]
    assert 0 < len(rows) <= len(captioned)
    by_name = {row["file_name"]: row for row in curated}
    for row in rows:
        assert row["f_number"] == pytest.approx(by_name[row["file_name"]]["exif"]["f_number"])
        assert row["focal_length_mm"] == pytest.approx(by_name[row["file_name"]]["exif"]["focal_length_mm"])
    assert Rows(rows, resolution=16, batch_size=1, seed=0).batch(step=0, rank=0).images.shape == (1, 3, 16, 16)
