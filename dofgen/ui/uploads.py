"""Uploads to the Explore tab: a photo and, optionally, its depth map, checked against the
limits shown next to them; a problem is a :class:`UserError`."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from dofgen.imageio import MAX_SIDE, InputError, open_photo, read_depth
from dofgen.ui.toasts import UserError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_SIDE = MAX_SIDE
PHOTO_LIMITS = f"JPEG or PNG, up to {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_SIDE} px a side"
DEPTH_LIMITS = f".npy or .npz in metres, or 16-bit PNG in mm; the photo's aspect ratio; up to {MAX_UPLOAD_BYTES // 2**20} MB and {MAX_SIDE} px a side"


def open_upload(path: str) -> Image.Image:
    """The uploaded photo, upright."""
    try:
        if Path(path).stat().st_size > MAX_UPLOAD_BYTES:
            raise UserError(f"The photo is over {MAX_UPLOAD_BYTES // 2**20} MB; please upload a smaller one.")
        return open_photo(path, MAX_UPLOAD_SIDE)
    except InputError as error:
        raise UserError(str(error)) from None


def read_depth_upload(path: str, size: tuple[int, int]) -> tuple[torch.Tensor, list[str]]:
    """The uploaded depth map, (H, W) metres for a photo of ``size`` (W, H), and notes on it."""
    if Path(path).stat().st_size > MAX_UPLOAD_BYTES:
        raise UserError(f"The depth map is over {MAX_UPLOAD_BYTES // 2**20} MB; save it as a compressed .npz.")
    try:
        return read_depth(path, size)
    except InputError as error:
        raise UserError(str(error)) from None
