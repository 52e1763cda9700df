"""Files the app hands to the browser: written to a private temp folder, pruned as they age.

Gradio copies each returned file into its own cache, so ours need only outlive the request.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image

FOLDER = Path(tempfile.mkdtemp(prefix="dofgen-"))
MAX_AGE_S = 600
JPEG_QUALITY = 92


def new_path(suffix: str) -> Path:
    """A fresh path with ``suffix`` (".jpg", ".png", ".mp4"); files older than MAX_AGE_S go."""
    now = time.time()
    for old in FOLDER.glob("*"):
        try:
            if now - old.stat().st_mtime > MAX_AGE_S:
                old.unlink()
        except OSError:
            pass
    return FOLDER / f"{uuid.uuid4().hex}{suffix}"


def save_image(image: Image.Image, lossless: bool = False) -> str:
    """Write ``image`` as JPEG (quality 92: fast to encode and send) or PNG; return the path."""
    path = new_path(".png" if lossless else ".jpg")
    if lossless:
        image.save(path, format="PNG")
    else:
        image.convert("RGB").save(path, format="JPEG", quality=JPEG_QUALITY)
    return str(path)
