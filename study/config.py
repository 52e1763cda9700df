"""Every environment variable of the study, its default and its meaning: :class:`StudyConfig`.

``StudyConfig.from_env()`` reads them once and checks them; a bad value raises
:class:`StudyConfigError` naming the variable and the form it takes. No other module of the
study reads ``os.environ``. ``docs/configuration.md`` is generated from :data:`VARIABLES`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dofgen.config import Variable, is_true, value

ROOT = Path(__file__).resolve().parent.parent

MANIFEST = Variable(
    "STUDY_MANIFEST", "assets/study/demo-study/manifest.jsonl",
    "The stimuli: JSON Lines (or CSV) rows `prompt_id, prompt, method, video` (video relative to the manifest), optional "
    "`catch`; a first line `{\"manifest\": {\"demo\": true}}` also allows the controls `no_lens` and `drbokeh_lens`. "
    "A relative path is taken from the repository.",
)
ONLY = Variable("STUDY_ONLY", "", "`1`: participants get the Study alone at `/`, researchers the Results at `/researcher`.")
DATA_DIR = Variable(
    "STUDY_DATA_DIR", "",
    "Where votes and assignments are appended. Unset: `/data/study` on a Space with persistent storage, else "
    "`$XDG_DATA_HOME/dofgen/study` (`~/.local/share/dofgen/study`); never inside the source tree.",
)
SECRET = Variable(
    "STUDY_SECRET", "",
    "Signs participant tokens and completion codes: 32 characters or more (`python -c \"import secrets; print(secrets.token_urlsafe(32))\"` "
    "makes one); unset: generated once and kept in the data folder.",
)
DATASET_REPO = Variable("STUDY_DATASET_REPO", "", "A Hub dataset the data folder is restored from at start-up and synced to (with `HF_TOKEN`).")
HF_TOKEN = Variable("HF_TOKEN", "", "The Hub token the sync writes with.")
SYNC_SECONDS = Variable("STUDY_SYNC_SECONDS", "60", "Seconds between uploads to the Hub dataset (and once more on SIGTERM).")
RESTORE_WAIT_S = Variable("STUDY_RESTORE_WAIT_S", "20", "Seconds start-up waits for the restore from the Hub before it serves.")
ADMIN_TOKEN = Variable("STUDY_ADMIN_TOKEN", "", "The researcher token: results, raw export and code checks; unset, they stay locked.")
CLOSED = Variable("STUDY_CLOSED", "", "`1`: the study is over and the aggregated results are open to all (raw votes still need the token).")
URL_PARAMS = Variable(
    "STUDY_URL_PARAMS", "PROLIFIC_PID,STUDY_ID,SESSION_ID,workerId,assignmentId,hitId",
    "URL parameters recorded with a new participant (comma-separated): Prolific's and MTurk's.",
)
COMPLETION_URL = Variable("STUDY_COMPLETION_URL", "", "Where a participant goes at the end; `{code}` is replaced by their completion code.")
NEW_PARTICIPANTS = Variable("STUDY_NEW_PARTICIPANTS", "5/600", "New participants per client per window, as count/seconds.")
TRUSTED_PROXIES = Variable(
    "STUDY_TRUSTED_PROXIES", "",
    "Who may say which address a client has (`X-Forwarded-For`): a number of proxy hops in front of the app, or the proxies' "
    "addresses and networks (comma-separated, such as `10.0.0.0/8`). The client is the entry that many hops from the right, "
    "or the rightmost entry that is not a listed proxy. Unset: 1 hop on a Space (its proxy appends the client's address), "
    "else 0 (the connection's own address; any header is ignored).",
)
QUESTIONS = Variable(
    "STUDY_QUESTIONS", "20",
    "Preference questions per participant (attention checks come on top). Each prompt is shown at most once per participant, "
    "so a manifest with fewer prompts than this plus the checks gives fewer questions (the start-up log and the Results say so).",
)
ATTENTION_CHECKS = Variable("STUDY_ATTENTION_CHECKS", "2", "Attention checks per participant when the manifest has `catch` rows (0: off).")
VIEW_EXPIRY_S = Variable("STUDY_VIEW_EXPIRY_S", "1800", "Seconds a question's video copies stay on disk unanswered; a participant who comes back gets fresh ones.")
MIN_VIEW_S = Variable("STUDY_MIN_VIEW_S", "3", "Answers faster than this many seconds are left out of the table after exclusions.")

VARIABLES: tuple[Variable, ...] = (
    MANIFEST, ONLY, DATA_DIR, SECRET, DATASET_REPO, HF_TOKEN, SYNC_SECONDS, RESTORE_WAIT_S, ADMIN_TOKEN, CLOSED, URL_PARAMS,
    COMPLETION_URL, NEW_PARTICIPANTS, TRUSTED_PROXIES, QUESTIONS, ATTENTION_CHECKS, MIN_VIEW_S, VIEW_EXPIRY_S,
)
#: The shortest ``STUDY_SECRET`` accepted (a short one is found offline from one token).
MIN_SECRET_CHARS = 32
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class StudyConfigError(ValueError):
    """A study variable has a value the study cannot use; the message names it and its form."""


def parse_rate(spec: str) -> tuple[int, float]:
    """``"N/SECONDS"`` -> (N, SECONDS), both positive; raises :class:`StudyConfigError`."""
    try:
        count, seconds = spec.split("/")
        parsed = int(count), float(seconds)
    except ValueError:
        raise StudyConfigError(f"{NEW_PARTICIPANTS.name} must look like 5/600 (count/seconds), got {spec!r}") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise StudyConfigError(f"{NEW_PARTICIPANTS.name} needs a positive count and window, got {spec!r}")
    return parsed


def parse_proxies(spec: str, environ: Mapping[str, str]) -> int | tuple[str, ...]:
    """``STUDY_TRUSTED_PROXIES``: a hop count, or the proxies' addresses and networks (checked);
    empty: 1 hop on a Space, else 0."""
    spec = spec.strip()
    if not spec:
        return 1 if environ.get("SPACE_ID") else 0
    if spec.isdigit():
        return int(spec)
    networks = tuple(part.strip() for part in spec.split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise StudyConfigError(
                f"{TRUSTED_PROXIES.name} must be a number of hops (such as 1) or addresses and networks such as 10.0.0.0/8,127.0.0.1; "
                f"{network!r} is neither"
            ) from None
    return networks


def keep_uvicorn_from_rewriting_addresses() -> None:
    """Make uvicorn (when the app launches) keep each connection's own address: the study picks
    the client from ``X-Forwarded-For`` itself, trusting only ``STUDY_TRUSTED_PROXIES``
    (uvicorn would trust any header from a loopback connection)."""
    os.environ["FORWARDED_ALLOW_IPS"] = ""


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``/data/study`` on a Space with persistent storage, else the user's data folder."""
    if environ.get("SPACE_ID") and Path("/data").is_dir() and os.access("/data", os.W_OK):
        return Path("/data/study")
    return Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "dofgen" / "study"


def _number(variable: Variable, environ: Mapping[str, str], kind: type, minimum: float) -> float:
    text = value(variable, environ)
    try:
        number = kind(text)
    except ValueError:
        raise StudyConfigError(f"{variable.name} must be a {kind.__name__} of {minimum:g} or more, got {text!r}") from None
    if not number >= minimum:  # NaN fails too
        raise StudyConfigError(f"{variable.name} must be {minimum:g} or more, got {text!r}")
    return number


@dataclass(frozen=True)
class StudyConfig:
    """The study's settings (see :data:`VARIABLES` for each one's variable and meaning)."""

    manifest: Path
    data_dir: Path
    only: bool = False
    secret: str = ""
    dataset_repo: str = ""
    hf_token: str = ""
    sync_seconds: float = 60.0
    restore_wait_s: float = 20.0
    admin_token: str = ""
    closed: bool = False
    url_params: tuple[str, ...] = ()
    completion_url: str = ""
    new_participants: tuple[int, float] = (5, 600.0)
    trusted_proxies: int | tuple[str, ...] = 0
    questions: int = 20
    attention_checks: int = 2
    min_view_s: float = 3.0
    view_expiry_s: float = 1800.0

    def __post_init__(self) -> None:
        if self.secret and len(self.secret) < MIN_SECRET_CHARS:
            raise StudyConfigError(
                f"{SECRET.name} must be {MIN_SECRET_CHARS} characters or more (a short one is guessed offline from one token); "
                f"it has {len(self.secret)}. Make one with: {MAKE_SECRET}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "StudyConfig":
        """The settings from the environment (``environ``: another mapping, for tests)."""
        environ = os.environ if environ is None else environ
        manifest = Path(value(MANIFEST, environ) or MANIFEST.default)
        return cls(
            manifest=manifest if manifest.is_absolute() else ROOT / manifest,
            data_dir=Path(value(DATA_DIR, environ) or default_data_dir(environ)),
            only=is_true(value(ONLY, environ)),
            secret=value(SECRET, environ),
            dataset_repo=value(DATASET_REPO, environ),
            hf_token=value(HF_TOKEN, environ),
            sync_seconds=_number(SYNC_SECONDS, environ, float, 0.0),
            restore_wait_s=_number(RESTORE_WAIT_S, environ, float, 0.0),
            admin_token=value(ADMIN_TOKEN, environ),
            closed=is_true(value(CLOSED, environ)),
            url_params=tuple(p.strip() for p in value(URL_PARAMS, environ).split(",") if p.strip()),
            completion_url=value(COMPLETION_URL, environ),
            new_participants=parse_rate(value(NEW_PARTICIPANTS, environ) or NEW_PARTICIPANTS.default),
            trusted_proxies=parse_proxies(value(TRUSTED_PROXIES, environ), environ),
            questions=int(_number(QUESTIONS, environ, int, 1)),
            attention_checks=int(_number(ATTENTION_CHECKS, environ, int, 0)),
            min_view_s=_number(MIN_VIEW_S, environ, float, 0.0),
            view_expiry_s=_number(VIEW_EXPIRY_S, environ, float, 1.0),
        )
