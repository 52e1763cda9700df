"""Keyed identities (Section E: "a participant is one person from consent to completion
code"): the study secret, server-made participant tokens and completion codes (HMAC).

The secret is the configured one (``STUDY_SECRET``); unset, one is generated once and kept
in the data folder (``.study-secret``, never synced), so tokens and codes outlive a restart.
``python -m study.codes CODE`` (``dofgen-study codes``) tells a researcher whose code it is (``study.codecheck``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

SECRET_FILE = ".study-secret"
_TOKEN = re.compile(r"^([0-9a-f]{24})\.([0-9a-f]{32})$")


def load_secret(folder: str | Path, configured: str = "") -> bytes:
    """``configured`` (the study's ``STUDY_SECRET``), else the one kept in ``folder`` (made on
    first use, mode 0600)."""
    if configured:
        return configured.encode("utf-8")
    path = Path(folder) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_text(encoding="ascii").strip().encode("ascii")


def _mac(secret: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(secret, f"{purpose}:{value}".encode("utf-8"), hashlib.sha256).digest()


def token_for(secret: bytes, participant_id: str) -> str:
    """The signed token the browser keeps for ``participant_id``."""
    return f"{participant_id}.{_mac(secret, 'participant', participant_id).hex()[:32]}"


def new_participant(secret: bytes) -> tuple[str, str]:
    """A fresh server-made participant id and its token."""
    participant_id = secrets.token_hex(12)
    return participant_id, token_for(secret, participant_id)


def participant_of(secret: bytes, token: object) -> str | None:
    """The participant id a token was issued for, or None (malformed, forged, other secret)."""
    match = _TOKEN.match(token) if isinstance(token, str) and token.isascii() else None
    if match is None:
        return None
    expected = _mac(secret, "participant", match[1]).hex()[:32]
    return match[1] if hmac.compare_digest(expected, match[2]) else None


def completion_code(secret: bytes, participant_id: str) -> str:
    """The participant's completion code: 10 characters, keyed, so only the server makes it."""
    return base64.b32encode(_mac(secret, "completion", participant_id)).decode("ascii")[:10]


def verify_code(secret: bytes, participant_id: str, code: object) -> bool:
    return isinstance(code, str) and hmac.compare_digest(completion_code(secret, participant_id), code.strip().upper())


def find_code(secret: bytes, code: str, participants: dict[str, dict]) -> str | None:
    """The participant (of ``participants``: id -> anything) whose completion code is ``code``."""
    return next((pid for pid in participants if verify_code(secret, pid, code)), None)

