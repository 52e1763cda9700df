"""Uploads to the Explore tab: a photo and, optionally, its depth map, checked against the
limits shown next to them; a problem is a :class:`UserError`."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import torch
from PIL import Image

from dofgen.imageio import MAX_SIDE, InputError, open_photo, read_depth
from dofgen.ui.toasts import UserError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_SIDE = MAX_SIDE
#: What the server takes in before the app checks a file: a float64 .npy depth map of a
#: MAX_SIDE x MAX_SIDE photo, so a map over MAX_UPLOAD_BYTES gets :func:`depth_size_hint`,
#: not Gradio's size error.
MAX_TRANSFER_BYTES = 8 * MAX_SIDE * MAX_SIDE + 2**20
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
    hint = depth_size_hint(path)
    if hint:
        raise UserError(hint)
    try:
        return read_depth(path, size)
    except InputError as error:
        raise UserError(str(error)) from None


def depth_size_hint(path: str) -> str | None:
    """What to do with a depth map over :data:`MAX_UPLOAD_BYTES` (None when it is within)."""
    size = Path(path).stat().st_size
    if size <= MAX_UPLOAD_BYTES:
        return None
    return (
        f"The depth map is {size / 1e6:.1f} MB, over the {MAX_UPLOAD_BYTES // 2**20} MB limit: save it as a compressed "
        ".npz (numpy.savez_compressed('depth.npz', depth=depth), float16 is enough) or as a 16-bit PNG in millimetres."
    )


def checked_depth_upload(path: str | None) -> str | None:
    """On upload: a depth map over the limit is dropped at once, with :func:`depth_size_hint`
    in a toast; any other file stays as it is."""
    hint = depth_size_hint(path) if path else None
    if hint is None:
        return gr.skip()
    gr.Warning(hint)
    return None
