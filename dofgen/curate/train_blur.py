"""``python -m dofgen.curate.train_blur --data DIR --out MODEL``: fine-tune Section D's blur
classifier.

The paper's ResNeXt-FPN blur classifier is not public; this fine-tunes any transformers image
classifier (default ``microsoft/resnet-50``, the nearest public ResNe(X)t in transformers) on
a labelled folder with one subfolder per class — ``none``, ``desirable``, ``undesirable`` —
read with ``datasets``' imagefolder loader. The saved folder is what ``python -m
dofgen.curate --blur-classifier MODEL`` loads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from dofgen.argparse_help import ArgumentParser
from dofgen.curate.models import BLUR_CLASSES, blur_label
from dofgen.loading import resolve_device

DEFAULT_BASE = "microsoft/resnet-50"


def load_labelled(folder: str | Path, val_fraction: float, seed: int):
    """(train, validation) datasets of ``image`` and ``label`` (an index into BLUR_CLASSES)."""
    from datasets import load_dataset

    folder = Path(folder)
    found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if sorted(blur_label(name) or name for name in found) != sorted(BLUR_CLASSES):
        raise ValueError(f"--data {folder} must hold one subfolder per class: {', '.join(BLUR_CLASSES)} (found: {', '.join(found) or 'none'})")
    dataset = load_dataset("imagefolder", data_dir=str(folder), split="train")
    names = dataset.features["label"].names
    mapping = {i: BLUR_CLASSES.index(blur_label(name)) for i, name in enumerate(names)}
    dataset = dataset.map(lambda label: {"label": mapping[label]}, input_columns="label")
    if not 0 < val_fraction < 1:
        return dataset, None
    split = dataset.train_test_split(test_size=val_fraction, seed=seed, stratify_by_column=None)
    return split["train"], split["test"]


def train(data: str | Path, out: str | Path, base: str = DEFAULT_BASE, epochs: int = 5, batch_size: int = 16, lr: float = 1e-4,
          val_fraction: float = 0.2, seed: int = 0, device: str | None = None) -> dict:
    """Fine-tune ``base`` on the labelled folder, save model and processor to ``out``; returns
    the last epoch's training loss and the validation accuracy."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    torch.manual_seed(seed)
    device = resolve_device(device)
    train_set, val_set = load_labelled(data, val_fraction, seed)
    processor = AutoImageProcessor.from_pretrained(base)
    model = AutoModelForImageClassification.from_pretrained(
        base, id2label=dict(enumerate(BLUR_CLASSES)),
        label2id={name: i for i, name in enumerate(BLUR_CLASSES)}, ignore_mismatched_sizes=True,
    ).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)

    def batches(dataset, shuffle: bool):
        order = torch.randperm(len(dataset)).tolist() if shuffle else list(range(len(dataset)))
        for start in range(0, len(order), batch_size):
            rows = dataset[order[start : start + batch_size]]
            inputs = processor(images=[image.convert("RGB") for image in rows["image"]], return_tensors="pt").to(device)
            yield inputs, torch.tensor(rows["label"], device=device)

    loss_value = float("nan")
    for _ in range(epochs):
        model.train()
        total, seen = 0.0, 0
        for inputs, labels in batches(train_set, shuffle=True):
            loss = torch.nn.functional.cross_entropy(model(**inputs).logits, labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, seen = total + float(loss.detach()) * len(labels), seen + len(labels)
        loss_value = total / max(seen, 1)
    accuracy = None
    if val_set is not None and len(val_set):
        model.eval()
        right = 0
        with torch.inference_mode():
            for inputs, labels in batches(val_set, shuffle=False):
                right += int((model(**inputs).logits.argmax(-1) == labels).sum())
        accuracy = right / len(val_set)
    Path(out).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return {"train_loss": loss_value, "val_accuracy": accuracy, "train_images": len(train_set), "val_images": len(val_set or [])}


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m dofgen.curate.train_blur", description=__doc__)
    parser.add_argument("--data", required=True, type=Path, help="Folder with none/, desirable/ and undesirable/ subfolders of images.")
    parser.add_argument("--out", required=True, type=Path, help="Folder to save the fine-tuned classifier in.")
    parser.add_argument("--base", default=DEFAULT_BASE, help="Transformers image classifier id or folder to start from.")
    parser.add_argument("--epochs", type=int, default=5, help="Passes over the training images.")
    parser.add_argument("--batch-size", type=int, default=16, help="Images per optimiser step.")
    parser.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate.")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="Share of the images held out to measure accuracy.")
    parser.add_argument("--seed", type=int, default=0, help="Random seed of the split and the training.")
    parser.add_argument("--device", help="Device to train on (default: cuda when available).")
    args = parser.parse_args(argv)
    try:
        result = train(args.data, args.out, args.base, args.epochs, args.batch_size, args.lr, args.val_fraction, args.seed, args.device)
    except ValueError as error:
        sys.stderr.write(f"python -m dofgen.curate.train_blur: {error}\n")
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
