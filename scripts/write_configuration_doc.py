"""Write ``docs/configuration.md`` from ``dofgen.config`` and ``study.config`` (run after changing either).

Usage: ``python -m scripts.write_configuration_doc`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from dofgen import config as dofgen_config
from study import config as study_config

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"


def page() -> str:
    """The page: every variable of the library, the Explore tab and the study, with defaults."""
    return (
        "# Configuration\n\n"
        "Everything is set by environment variables (on a Space: its Settings, secrets for tokens). "
        "This page is generated from `dofgen/config.py` and `study/config.py` by "
        "`python -m scripts.write_configuration_doc`; a test checks it is current.\n\n"
        "## Models, device and server (`dofgen/config.py`)\n\n"
        f"{dofgen_config.markdown(dofgen_config.VARIABLES)}\n"
        "## The study (`study/config.py`, read once by `StudyConfig.from_env()`)\n\n"
        "A value the study cannot use stops it with `StudyConfigError`, naming the variable.\n\n"
        f"{dofgen_config.markdown(study_config.VARIABLES)}"
    )


if __name__ == "__main__":
    PAGE.write_text(page(), encoding="utf-8")
    print(PAGE)
