"""Files the app hands to the browser: written to a private temp folder, pruned as they age.

Gradio copies each returned file into its own cache, so ours need only outlive the request.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image

FOLDER = Path(tempfile.mkdtemp(prefix="dofgen-"))
#: Seconds our copy of a returned file is kept: Gradio copies it into its cache as it returns.
MAX_AGE_S = 120
JPEG_QUALITY = 92


def _prune() -> None:
    now = time.time()
    for old in FOLDER.glob("*"):
        try:
            if now - old.stat().st_mtime > MAX_AGE_S:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        except OSError:
            pass


def new_path(suffix: str) -> Path:
    """A fresh path with ``suffix`` (".jpg", ".png", ".mp4"); files older than MAX_AGE_S go."""
    _prune()
    return FOLDER / f"{uuid.uuid4().hex}{suffix}"


def named_path(name: str) -> Path:
    """A fresh path ending in the file name ``name`` (what a download is called)."""
    _prune()
    folder = FOLDER / uuid.uuid4().hex
    folder.mkdir()
    return folder / name


def save_image(image: Image.Image, quality: int = JPEG_QUALITY, suffix: str = ".jpg") -> str:
    """Write ``image`` as JPEG (quality 92: fast to encode and to send) to a fresh path
    ending in ``suffix``; return the path."""
    path = new_path(suffix)
    image.convert("RGB").save(path, format="JPEG", quality=quality)
    return str(path)
