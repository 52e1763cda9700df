"""Configuration: one module per package holds every variable; the docs say what they hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dofgen import config
from scripts.write_configuration_doc import PAGE, page
from study.config import StudyConfig, StudyConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_MODULES = {ROOT / "dofgen" / "config.py", ROOT / "study" / "config.py"}


def reads_environment(source: str) -> bool:
    """Whether code reads ``os.environ`` or ``os.getenv`` (writing a child's environment aside)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and isinstance(node.value, ast.Name) and node.value.id == "os":
            return True
    return False


def test_only_the_config_modules_read_the_environment():
    assert reads_environment("import os\nx = os.environ.get('A')\n") and not reads_environment("environ = {}\n")
    readers = [str(p.relative_to(ROOT)) for package in ("dofgen", "study") for p in (ROOT / package).rglob("*.py")
               if p not in CONFIG_MODULES and reads_environment(p.read_text(encoding="utf-8"))]
    assert readers == []


def test_the_configuration_page_is_current():
    assert PAGE.read_text(encoding="utf-8") == page(), "run: python -m scripts.write_configuration_doc"


def test_every_variable_named_in_the_code_is_documented():
    documented = {v.name for v in config.VARIABLES} | {v.name for v in __import__("study.config").config.VARIABLES}
    named = set()
    for package in ("dofgen", "study", "app.py"):
        for path in (ROOT / package).rglob("*.py") if package != "app.py" else [ROOT / package]:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isupper() and node.value.startswith(("DOFGEN_", "STUDY_")):
                    named.add(node.value)
    assert named - documented == set()


def test_study_config_checks_its_values():
    good = StudyConfig.from_env({"STUDY_NEW_PARTICIPANTS": "3/60", "STUDY_MIN_VIEW_S": "2.5", "STUDY_ONLY": "yes", "HOME": "/home/x"})
    assert good.new_participants == (3, 60.0) and good.min_view_s == 2.5 and good.only is True
    assert not str(good.data_dir).startswith(str(ROOT))  # data never defaults into the source tree
    assert good.manifest.is_file()
    for name, bad in (("STUDY_NEW_PARTICIPANTS", "lots"), ("STUDY_ATTENTION_CHECKS", "-1"), ("STUDY_MIN_VIEW_S", "nan"), ("STUDY_SYNC_SECONDS", "soon"),
                      ("STUDY_QUESTIONS", "0"), ("STUDY_TRUSTED_PROXIES", "proxy.example"), ("STUDY_SECRET", "secret")):
        with pytest.raises(StudyConfigError, match=name):
            StudyConfig.from_env({name: bad})


def test_a_short_secret_is_refused_with_how_to_make_one():
    with pytest.raises(StudyConfigError, match=r"32 characters or more.*secrets.token_urlsafe\(32\)"):
        StudyConfig.from_env({"STUDY_SECRET": "x" * 31})
    assert StudyConfig.from_env({"STUDY_SECRET": "x" * 32}).secret == "x" * 32


def test_trusted_proxies_default_to_the_space_proxy():
    assert StudyConfig.from_env({}).trusted_proxies == 0  # no proxy: the connection's own address
    assert StudyConfig.from_env({"SPACE_ID": "lab/study"}).trusted_proxies == 1  # a Space: the address its proxy appends
    assert StudyConfig.from_env({"STUDY_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    assert StudyConfig.from_env({"STUDY_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}).trusted_proxies == ("10.0.0.0/8", "::1")


def test_library_values_and_flags():
    assert config.value(config.DEPTH, {}) == config.DEPTH.default
    assert config.value(config.SALIENCY, {"DOFGEN_SALIENCY": ""}) == ""  # set but empty: spectral residual
    assert config.flag(config.HUB_OFFLINE, {"HF_HUB_OFFLINE": " True "}) and not config.flag(config.HUB_OFFLINE, {"HF_HUB_OFFLINE": "0"})
