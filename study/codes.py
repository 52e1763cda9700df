"""Keyed identities (Section E: "a participant is one person from consent to completion
code"): the study secret, server-made participant tokens and completion codes (HMAC).

The secret comes from ``STUDY_SECRET``; unset, one is generated once and kept in the data
folder (``.study-secret``, never synced), so tokens and codes outlive a restart.
``python -m study.codes CODE [--data DIR]`` tells a researcher whose code it is.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import secrets
import sys
from pathlib import Path

SECRET_FILE = ".study-secret"
_TOKEN = re.compile(r"^([0-9a-f]{24})\.([0-9a-f]{32})$")


def load_secret(folder: str | Path) -> bytes:
    """``STUDY_SECRET``, else the one kept in ``folder`` (made on first use, mode 0600)."""
    configured = os.environ.get("STUDY_SECRET", "")
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


def derived_key(secret: bytes, purpose: str) -> str:
    """A key for ``purpose`` that reveals nothing of the secret (e.g. what a browser holds)."""
    return _mac(secret, "derived", purpose).hex()[:32]


def new_participant(secret: bytes) -> tuple[str, str]:
    """A fresh server-made participant id and the signed token the browser keeps."""
    participant_id = secrets.token_hex(12)
    return participant_id, f"{participant_id}.{_mac(secret, 'participant', participant_id).hex()[:32]}"


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


def main(argv: list[str] | None = None) -> int:
    from study.store import DEFAULT_DATA_DIR, VoteStore

    parser = argparse.ArgumentParser(prog="python -m study.codes", description="Whose completion code is this? (needs the study's secret)")
    parser.add_argument("code")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("STUDY_DATA_DIR") or DEFAULT_DATA_DIR))
    args = parser.parse_args(argv)
    store = VoteStore(args.data)
    report = store.verify(args.code)
    if report is None:
        print(f"{args.code}: not a completion code of this study")
        return 1
    print(f"{args.code}: participant {report['participant_id']}, {report['answered']} of {report['questions']} answered, "
          f"recruitment {report['recruitment']}, complete={report['complete']}")
    return 0 if report["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
