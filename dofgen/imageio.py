"""Conversions between PIL images and (3, H, W) float tensors.

``to_tensor``/``to_pil`` keep sRGB values in [0, 1]; ``to_linear``/``linear_to_pil`` go
straight between 8-bit sRGB and linear light through lookup tables, which is several times
faster than the transfer function's powers (the Explore tab's sliders use them).
``open_photo`` and ``read_depth`` read a user's photo (upright, EXIF kept) and depth map
(metres, checked against the photo), for the app and the command line alike.
"""

import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from dofgen.color import linear_to_srgb, srgb_to_linear

#: Linear light is quantised to this many steps on its way to 8 bits: near black, where the
#: sRGB curve is steepest (12.92), a step moves the output by 0.05 of a level.
ENCODE_STEPS = 65535


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image to a (3, H, W) float32 sRGB tensor in [0, 1]."""
    array = np.array(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) float tensor in [0, 1] to an 8-bit RGB PIL image."""
    array = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


@lru_cache(maxsize=8)
def _tables(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode(False):
        decode = srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255).float()
        encode = (linear_to_srgb(torch.arange(ENCODE_STEPS + 1, dtype=torch.float64) / ENCODE_STEPS) * 255).round().to(torch.uint8)
    return decode.to(device), encode.to(device)


def to_linear(image: Image.Image, device: str | torch.device = "cpu") -> torch.Tensor:
    """PIL image to a (3, H, W) float32 linear-light tensor (exact for 8-bit input)."""
    codes = torch.from_numpy(np.array(image.convert("RGB"))).to(device)
    return _tables(str(torch.device(device)))[0][codes.long()].permute(2, 0, 1).contiguous()


def linear_to_pil(linear: torch.Tensor) -> Image.Image:
    """(3, H, W) linear light to an 8-bit sRGB PIL image (within one level of ``to_pil(linear_to_srgb(x))``)."""
    table = _tables(str(linear.device))[1]
    codes = (linear.detach().clamp(0, 1) * ENCODE_STEPS + 0.5).long()
    return Image.fromarray(table[codes].permute(1, 2, 0).cpu().numpy())


#: Largest photo or depth map side the app and the command line accept, in pixels.
MAX_SIDE = 4096
#: Two sizes whose aspect ratios differ by less than this share are "the same aspect".
ASPECT_TOLERANCE = 0.01
DEPTH_FORMATS = ".npy or .npz (metres) or a 16-bit PNG (millimetres)"


class InputError(ValueError):
    """A photo or depth map that cannot be used; the message says why in one sentence."""


def open_photo(path: str | Path, max_side: int = MAX_SIDE) -> Image.Image:
    """An RGB photo, upright: its EXIF orientation applied before anything else.

    The EXIF (less the orientation) stays in ``image.info["exif"]`` for the camera settings.

    Raises:
        InputError: not an image Pillow reads (empty, text, truncated), or over ``max_side``.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path.name} is empty (0 bytes); upload a JPEG or PNG photo.")
        with Image.open(path) as opened:
            if max(opened.size) > max_side:
                raise InputError(f"The photo is {opened.width}x{opened.height}; the limit is {max_side} px a side.")
            upright = ImageOps.exif_transpose(opened)
            upright.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path.name} is not an image dofgen can read (try JPEG or PNG).") from None
    return upright.convert("RGB")


def read_depth(path: str | Path, size: tuple[int, int] | None = None) -> tuple[torch.Tensor, list[str]]:
    """A depth map file in metres, checked against the photo's ``size`` (width, height).

    Formats: ``.npy`` or ``.npz`` (float metres; an ``.npz`` holds one array, or one named
    ``depth``) and 16-bit PNG (millimetres). An 8-bit PNG is refused (256 levels cannot hold
    millimetres). A map with the photo's aspect ratio but another size is resized (with a
    note); another aspect ratio is refused.

    Returns:
        ((H, W) depth in metres, notes for the user).

    Raises:
        InputError: unreadable, wrong format, shape or aspect ratio.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = archive.files
                if "depth" not in names and len(names) != 1:
                    raise InputError(f"{path.name} holds {len(names)} arrays; save one, or name it 'depth'.")
                array = archive["depth" if "depth" in names else names[0]]
        elif suffix == ".png":
            with Image.open(path) as image:
                if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
                    raise InputError(
                        f"{path.name} is an {image.mode} PNG; a depth PNG must be 16-bit greyscale in millimetres "
                        "(an 8-bit PNG cannot hold distances), or upload .npy/.npz in metres."
                    )
                if max(image.size) > MAX_SIDE:
                    raise InputError(f"The depth map is {image.width}x{image.height}; the limit is {MAX_SIDE} px a side.")
                array = np.asarray(image, dtype=np.float32) / 1000.0
        else:
            raise InputError(f"{path.name}: a depth map must be {DEPTH_FORMATS}.")
    except InputError:
        raise
    except (OSError, ValueError, EOFError, UnidentifiedImageError, zipfile.BadZipFile):
        raise InputError(f"{path.name} could not be read; a depth map must be {DEPTH_FORMATS}.") from None
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[-1]):
        array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:-1])
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number) or min(array.shape) < 2:
        raise InputError(f"The depth map must be one channel (H, W) of numbers; {path.name} has shape {array.shape}.")
    if max(array.shape) > MAX_SIDE:
        raise InputError(f"The depth map is {array.shape[1]}x{array.shape[0]}; the limit is {MAX_SIDE} px a side.")
    depth = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    notes: list[str] = []
    if size is not None:
        depth, notes = fit_depth(depth, size)
    return depth, notes


def fit_depth(depth: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, list[str]]:
    """``depth`` (h, w) resized to ``size`` (width, height) when the aspect ratios agree.

    Raises:
        InputError: the aspect ratios differ by more than :data:`ASPECT_TOLERANCE`.
    """
    height, width = depth.shape
    if (width, height) == tuple(size):
        return depth, []
    if abs((width / height) / (size[0] / size[1]) - 1) > ASPECT_TOLERANCE:
        raise InputError(
            f"The depth map is {width}x{height} but the photo is {size[0]}x{size[1]}: "
            "their shapes differ, so the depth would be stretched. Upload the depth map made for this photo."
        )
    resized = torch.nn.functional.interpolate(depth[None, None], size=(size[1], size[0]), mode="nearest-exact")[0, 0]
    return resized, [f"depth map resized from {width}x{height} to the photo's {size[0]}x{size[1]}"]
