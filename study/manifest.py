"""The study's stimuli: a manifest (CSV or JSON Lines) of aperture-sweep videos.

The format and its checks (columns, paths inside the folder, real videos) are the library's
(:mod:`dofgen.manifest`); the study adds its rules: methods are ours and the six baselines,
and only a demo manifest (header line ``{"manifest": {"demo": true, ...}}``) may use the
control methods; every prompt has ours and at least one baseline.

Attention checks: a row with ``"catch": true`` is a plainly broken video (a ``no_lens``
control, a frame-shuffled sweep; any method id of lowercase letters, digits and ``_``),
shown against ours for its prompt; ours is the right answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dofgen.manifest import ManifestError, Stimulus, read_stimuli
from study import BASELINES, CONTROLS, OURS

__all__ = ["Manifest", "ManifestError", "Stimulus", "load_manifest"]

_CATCH_METHOD = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Manifest:
    """Validated stimuli, indexed by (prompt_id, method)."""

    path: Path
    stimuli: tuple[Stimulus, ...]
    demo: bool = False
    header: dict = field(default_factory=dict)

    def video(self, prompt_id: str, method: str) -> Stimulus:
        for stimulus in self.stimuli:
            if stimulus.prompt_id == prompt_id and stimulus.method == method:
                return stimulus
        raise KeyError((prompt_id, method))

    def pairs(self) -> list[tuple[str, str]]:
        """(prompt_id, baseline) pairs that can be shown against ours, sorted."""
        return self._against_ours(catch=False)

    def catch_pairs(self) -> list[tuple[str, str]]:
        """(prompt_id, method) of the attention checks (``catch`` rows), sorted."""
        return self._against_ours(catch=True)

    def _against_ours(self, catch: bool) -> list[tuple[str, str]]:
        with_ours = {s.prompt_id for s in self.stimuli if s.method == OURS}
        return sorted((s.prompt_id, s.method) for s in self.stimuli if s.catch == catch and s.method != OURS and s.prompt_id in with_ours)

    def prompt(self, prompt_id: str) -> str:
        return self.video(prompt_id, OURS).prompt


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest (:func:`dofgen.manifest.read_stimuli`) with the study's rules.

    Raises:
        ManifestError: naming the file and row: a missing column, an unknown method, a
            duplicate, a path leaving the folder, a missing or non-video file, or a prompt
            without ``ours`` and at least one baseline.
    """
    header, stimuli = read_stimuli(path, _study_rules)
    by_prompt: dict[str, set[str]] = {}
    for stimulus in stimuli:
        by_prompt.setdefault(stimulus.prompt_id, set()).add(stimulus.method)
    name = Path(path).name
    for prompt_id, methods in sorted(by_prompt.items()):
        if OURS not in methods or len(methods) < 2:
            raise ManifestError(f"{name}: prompt {prompt_id!r} needs an 'ours' video and at least one baseline; it has {', '.join(sorted(methods))}")
    return Manifest(path=Path(path), stimuli=stimuli, demo=_demo(header), header=header)


def _demo(header: dict) -> bool:
    return bool(header.get("demo", False))


def _study_rules(header: dict, where: str, method: str, catch: bool) -> None:
    """Ours and the six baselines (and the controls in a demo manifest); attention checks
    with a plain method id, never ours."""
    if catch and (method == OURS or not _CATCH_METHOD.match(method)):
        raise ManifestError(f"{where}: an attention check ('catch') needs a method id of lowercase letters, digits or '_', not {method!r}")
    allowed = {OURS, *BASELINES, *(CONTROLS if _demo(header) else ())}
    if method not in allowed and not catch:
        extra = "" if _demo(header) else " (controls such as no_lens need a demo manifest)"
        raise ManifestError(f"{where}: unknown method {method!r}; allowed: {', '.join(sorted(allowed))}{extra}")
