"""Training rows of (image, EXIF, prompt) (Section D's datasets) as batches of tensors.

Either layout works for a dataset folder:

* a ``datasets`` dataset written with ``save_to_disk`` (what ``python -m dofgen.curate``
  writes to ``OUT/deep`` and ``OUT/shallow``), read with ``load_from_disk``; or
* an image folder with a ``metadata.jsonl`` (``datasets``' ``imagefolder``: one JSON object
  per line, ``file_name`` relative to the folder).

Columns used: ``image`` (PIL image), ``prompt`` (text), ``f_number`` (> 0) and
``focal_length_mm`` (> 0). Others (``file_name``, exposure, make, ...) are kept but unused.
A row without a prompt, or whose f-number or focal length is missing or outside what a
camera can have (f/0.7 to f/64, 4 to 1200 mm), is dropped.

Batches are drawn by step, not by epoch: batch ``k`` of process ``r`` depends only on
``(seed, k, r)``, so a run resumed from a checkpoint draws exactly the batches it would have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from dofgen.camera import F_NUMBER_RANGE, FOCAL_LENGTH_RANGE_MM
from dofgen.imageio import to_tensor

REQUIRED = ("image", "prompt", "f_number", "focal_length_mm")


def load_rows(path: str | Path):
    """The ``datasets.Dataset`` at ``path`` (a ``save_to_disk`` folder or an image folder with
    ``metadata.jsonl``), with only usable rows. The f-number and focal length come from their
    own columns, or from the ``exif`` column that ``dofgen.curate`` writes.

    Raises:
        ValueError: the folder is neither layout, lacks a column, or has no usable row.
    """
    import datasets

    folder = Path(path)
    if (folder / "dataset_info.json").is_file() or (folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file():
        rows = datasets.load_from_disk(str(folder))
        if isinstance(rows, datasets.DatasetDict):
            rows = rows["train"] if "train" in rows else next(iter(rows.values()))
    elif (folder / "metadata.jsonl").is_file():
        rows = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train")
    else:
        raise ValueError(f"{folder}: not a dataset folder; expected a save_to_disk folder or images with a metadata.jsonl")
    if "f_number" not in rows.column_names and "exif" in rows.column_names:  # as dofgen.curate writes it
        rows = rows.map(
            lambda exif: {"f_number": exif.get("f_number"), "focal_length_mm": exif.get("focal_length_mm")},
            input_columns=["exif"], keep_in_memory=True,
        )
    missing = [name for name in REQUIRED if name not in rows.column_names]
    if missing:
        raise ValueError(f"{folder}: the dataset has no column {', '.join(missing)}; needs {', '.join(REQUIRED)}")
    usable = rows.filter(_usable, input_columns=["f_number", "focal_length_mm", "prompt"], keep_in_memory=True)
    if len(usable) == 0:
        raise ValueError(f"{folder}: no row has a prompt and a usable f_number and focal_length_mm")
    return usable


def _usable(f_number, focal_length_mm, prompt) -> bool:
    """A prompt, and an f-number and focal length that a camera can have."""
    ranges = ((f_number, F_NUMBER_RANGE), (focal_length_mm, FOCAL_LENGTH_RANGE_MM))
    numbers_ok = all(isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi for v, (lo, hi) in ranges)
    return numbers_ok and bool(prompt and str(prompt).strip())


def square_tensor(image, resolution: int) -> torch.Tensor:
    """A PIL image, centre-cropped to a square and resized, as (3, R, R) in [0, 1]."""
    tensor = to_tensor(image)
    height, width = tensor.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    tensor = tensor[:, top : top + side, left : left + side]
    return F.interpolate(tensor[None], size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def draw(seed: int, step: int, rank: int, stream: int) -> torch.Generator:
    """A CPU random generator for one (seed, step, process, stream): the same in every run,
    resumed or not (integers only: Python salts the hashes of strings per process)."""
    return torch.Generator().manual_seed(hash((seed, step, rank, stream)) & 0x7FFFFFFF)


@dataclass
class Batch:
    """Images (B, 3, R, R) in [0, 1], prompts, and (B,) f-numbers and focal lengths in mm."""

    images: torch.Tensor
    prompts: list[str]
    f_number: torch.Tensor
    focal_length_mm: torch.Tensor


class Rows:
    """Deterministic batches from a dataset: ``rows.batch(step, rank)``."""

    def __init__(self, rows, resolution: int, batch_size: int, seed: int) -> None:
        self.rows, self.resolution, self.batch_size, self.seed = rows, resolution, batch_size, seed

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, step: int, rank: int, stream: int = 0) -> Batch:
        """Batch number ``step`` of process ``rank``; ``stream`` separates draws within a step."""
        picks = torch.randint(len(self.rows), (self.batch_size,), generator=draw(self.seed, step, rank, stream)).tolist()
        rows = [self.rows[i] for i in picks]
        return Batch(
            images=torch.stack([square_tensor(row["image"], self.resolution) for row in rows]),
            prompts=[str(row["prompt"]).strip() for row in rows],
            f_number=torch.tensor([float(row["f_number"]) for row in rows]),
            focal_length_mm=torch.tensor([float(row["focal_length_mm"]) for row in rows]),
        )
