"""Semantic segmentation for Content Consistency (Section F.2): class scores per pixel.

The paper uses Semantic Segment Anything (open-set), which transformers does not carry. The
default here is a large-vocabulary model that it does: UperNet with a ConvNeXt-small backbone
trained on ADE20K's 150 classes (``openmmlab/upernet-convnext-small``, MIT). Any transformers
semantic-segmentation model or folder works (``DOFGEN_SEGMENTER``).
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from PIL import Image

from dofgen import config
from dofgen.loading import TransformersComponent, load_processor_and_model, resolve_device

DEFAULT_SEGMENTER = config.SEGMENTER.default


class Segmenter(TransformersComponent):
    """Per-pixel class scores from a transformers semantic-segmentation model."""

    @classmethod
    def from_pretrained(cls, model_id_or_path: str | None = None, device: str | torch.device | None = None) -> "Segmenter":
        from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation

        model_id_or_path = model_id_or_path or config.value(config.SEGMENTER)
        processor, model = load_processor_and_model(
            "segmentation model", model_id_or_path, "DOFGEN_SEGMENTER",
            "a local folder with a transformers semantic-segmentation model and its image processor",
            AutoImageProcessor, AutoModelForSemanticSegmentation,
        )
        return cls(model, processor, resolve_device(device))

    @torch.inference_mode()
    def top_classes(self, image: Image.Image, k: int = 3) -> torch.Tensor:
        """(k, H, W) indices of the k highest-scoring classes at each pixel."""
        image = image.convert("RGB")
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        logits = self.model(**inputs).logits.float()
        logits = F.interpolate(logits, size=(image.height, image.width), mode="bilinear", align_corners=False)[0]
        return logits.topk(min(k, logits.shape[0]), dim=0).indices.cpu()
