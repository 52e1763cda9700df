"""The Space builds on the Hub: front matter, pins, LFS attributes and the wheel."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from huggingface_hub import metadata_load
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from dofgen import config, scenes

ROOT = Path(__file__).resolve().parent.parent
FRONT = metadata_load(ROOT / "README.md")
REQUIREMENTS = [
    Requirement(line.split("#")[0].strip())
    for line in (ROOT / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip() and not line.startswith("-")
]
DEFAULT_MODELS = [config.GENERATOR.default, config.DEPTH.default, config.SALIENCY.default]


def _pin(name: str) -> str | None:
    """The exact version requirements.txt pins ``name`` to, else None."""
    for requirement in REQUIREMENTS:
        if requirement.name == name:
            exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            return exact[0] if exact else None
    return None


def test_sdk_version_is_the_gradio_pin() -> None:
    assert FRONT["sdk"] == "gradio"
    assert _pin("gradio") is not None, "requirements.txt must pin gradio exactly (gradio==X), as sdk_version"
    assert FRONT["sdk_version"] == _pin("gradio")


def test_python_version_is_one_the_package_supports() -> None:
    python = str(FRONT["python_version"])
    assert re.fullmatch(r"3\.\d+(\.\d+)?", python), python
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(python if python.count(".") == 2 else f"{python}.0"), (python, requires)


def test_default_models_are_listed_and_preloaded() -> None:
    preloaded = [entry.split()[0] for entry in FRONT["preload_from_hub"]]
    for model in DEFAULT_MODELS:
        assert model in FRONT["models"], model
        assert model in preloaded, model
    assert re.fullmatch(r"\d+[mh]", FRONT["startup_duration_timeout"])
    assert FRONT["suggested_hardware"]


def _is_binary(path: Path) -> bool:
    """As git decides: a NUL byte in the first 8000 bytes."""
    with path.open("rb") as handle:
        return b"\0" in handle.read(8000)


def test_every_tracked_binary_goes_to_lfs() -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    binaries = [name for name in files if name and (ROOT / name).is_file() and _is_binary(ROOT / name)]
    assert len(binaries) >= 30, binaries  # the scenes, stimuli and benchmark scenes
    attrs = subprocess.run(["git", "check-attr", "filter", "--", *binaries], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    outside = [line.split(":")[0] for line in attrs.splitlines() if not line.endswith(": filter: lfs")]
    assert not outside, f"binaries outside LFS (add their type to .gitattributes): {outside}"


def _registry_reachable(scratch: Path) -> bool:
    """Whether pip can fetch a small, known wheel from the configured package registry."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(scratch / "probe"), "six"],
        capture_output=True, text=True, timeout=300,
    )
    return done.returncode == 0


@pytest.mark.slow
def test_requirements_resolve_for_the_front_matter_python(tmp_path: Path) -> None:
    """What the Space's build does: requirements.txt, wheels only, for its Python."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--python-version", str(FRONT["python_version"]),
            "--only-binary=:all:", "--target", str(tmp_path / "target"), "--report", str(report), "-r", str(ROOT / "requirements.txt"),
        ],
        capture_output=True, text=True, timeout=900,
    )
    if done.returncode != 0 and not _registry_reachable(tmp_path):
        pytest.skip(f"the package registry cannot be reached: {done.stderr.strip().splitlines()[-1:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    installed = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in json.loads(report.read_text())["install"]}
    assert installed["gradio"] == FRONT["sdk_version"]
    for requirement in REQUIREMENTS:
        assert requirement.specifier.contains(installed[canonicalize_name(requirement.name)], prereleases=True), requirement


@pytest.mark.slow
def test_wheel_ships_the_scenes_and_its_commands_run(tmp_path: Path) -> None:
    """A wheel built from the tracked files installs and runs outside the checkout."""
    source = tmp_path / "source"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", str(tmp_path / "wheel")], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "wheel").glob("dofgen-*.whl")
    subprocess.run([*pip, "install", "-q", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)], check=True, capture_output=True, timeout=600)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "site"), "HOME": str(tmp_path)}
    script = "from dofgen import scenes; print(scenes.SCENES_DIR); print(*scenes.list()); print(tuple(scenes.load('motorcycle').depth.shape))"
    shown = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    folder, names, shape = shown.stdout.splitlines()
    assert folder.startswith(str(tmp_path / "site")) and names.split() == scenes.list()
    assert shape == "(500, 741)"
    helped = subprocess.run([sys.executable, str(tmp_path / "site" / "bin" / "dofgen"), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert helped.returncode == 0 and "render" in helped.stdout, helped.stderr[-2000:]
