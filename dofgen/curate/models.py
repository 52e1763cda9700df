"""Section D's optional models, through transformers: captioner, photographic validity and
blur class. Each loads with ``from_pretrained`` from a hub id or folder; one that cannot load
is left out and the report says why (:func:`load_optional`).

- Captioner (default BLIP-2, ``Salesforce/blip2-opt-2.7b``): a caption for each photo
  without one. Any image-text-to-text model whose processor takes images alone.
- Photographic validity (default InternVL3, ``OpenGVLab/InternVL3-1B-hf``): a yes/no
  question to a vision-language model; a photo is valid when "yes" outscores "no" as the
  next token.
- Blur class: an image classifier whose labels are ``none``, ``desirable`` and
  ``undesirable`` (blur). The paper's ResNeXt-FPN weights are not public, so there is no
  default: train one with ``python -m dofgen.curate.train_blur``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from PIL import Image

from dofgen import config
from dofgen.loading import TransformersComponent, load_processor_and_model, resolve_device

DEFAULT_CAPTIONER = config.CAPTIONER.default
VALIDITY_QUESTION = "Is this a real photograph taken with a camera, not AI-generated, illustrated or rendered? Answer yes or no."
BLUR_CLASSES = ("none", "desirable", "undesirable")
MAX_CAPTION_TOKENS = 40
CAPTION_REQUEST = "Describe this photo in one sentence."

T = TypeVar("T")


def _image_text_model(kind: str, model_id_or_path: str, env_var: str, device) -> tuple:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor, model = load_processor_and_model(
        kind, model_id_or_path, env_var, "a local folder with a transformers image-text-to-text model and its processor",
        AutoProcessor, AutoModelForImageTextToText,
    )
    return model, processor, resolve_device(device)


def chat_prompt(processor, question: str) -> str | None:
    """``question`` about one image in the processor's chat template, or None without one."""
    if not getattr(processor, "chat_template", None):
        return None
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)


class Captioner(TransformersComponent):
    """Captions photos: BLIP-2 by default; a chat vision-language model (InternVL3, ...) is
    asked :data:`CAPTION_REQUEST` in its chat template."""

    @classmethod
    def from_pretrained(cls, model_id_or_path: str | None = None, device=None, env_var: str = "DOFGEN_CAPTIONER") -> "Captioner":
        model_id_or_path = model_id_or_path or config.value(next(v for v in config.VARIABLES if v.name == env_var))
        return cls(*_image_text_model("captioner", model_id_or_path, env_var, device))

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> list[str]:
        images = [image.convert("RGB") for image in images]
        prompt = chat_prompt(self.processor, CAPTION_REQUEST)
        if prompt is None:
            inputs = self.processor(images=images, return_tensors="pt")
        else:
            self.processor.tokenizer.padding_side = "left"
            inputs = self.processor(images=images, text=[prompt] * len(images), return_tensors="pt", padding=True)
        inputs = inputs.to(self.device)
        output = self.model.generate(**inputs, max_new_tokens=MAX_CAPTION_TOKENS, do_sample=False)
        prompt = inputs.get("input_ids")
        if prompt is not None and output.shape[1] > prompt.shape[1] and torch.equal(output[:, : prompt.shape[1]], prompt):
            output = output[:, prompt.shape[1] :]  # decoder-only language models repeat the prompt
        return [" ".join(text.split()) for text in self.processor.batch_decode(output, skip_special_tokens=True)]


class ValidityChecker(TransformersComponent):
    """Asks a vision-language model whether each image is a real photograph."""

    @classmethod
    def from_pretrained(cls, model_id_or_path: str | None = None, device=None) -> "ValidityChecker":
        model_id_or_path = model_id_or_path or config.value(config.VALIDITY)
        checker = cls(*_image_text_model("photographic-validity model", model_id_or_path, "DOFGEN_VALIDITY", device))
        tokenizer = checker.processor.tokenizer
        tokenizer.padding_side = "left"  # the answer is read at the last position
        checker.answers = {word: checker._token_ids(word) for word in ("yes", "no")}
        if not all(checker.answers.values()):
            raise RuntimeError(f"the photographic-validity model's tokenizer has no single token for 'yes' or 'no' ({model_id_or_path})")
        return checker

    def _token_ids(self, word: str) -> list[int]:
        tokenizer = self.processor.tokenizer
        ids = {tuple(tokenizer.encode(form, add_special_tokens=False)) for form in (word, " " + word, word.capitalize(), " " + word.capitalize())}
        return sorted({i[0] for i in ids if len(i) == 1})

    def prompt(self) -> str:
        """The question, in the model's chat template when it has one."""
        return chat_prompt(self.processor, VALIDITY_QUESTION) or f"Question: {VALIDITY_QUESTION} Answer:"

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> list[float]:
        """P(yes) / (P(yes) + P(no)) per image; above 0.5 means a real photograph."""
        text = [self.prompt()] * len(images)
        inputs = self.processor(images=[image.convert("RGB") for image in images], text=text, return_tensors="pt", padding=True).to(self.device)
        logits = self.model(**inputs).logits[:, -1].float()
        yes = logits[:, self.answers["yes"]].logsumexp(dim=-1)
        no = logits[:, self.answers["no"]].logsumexp(dim=-1)
        return torch.sigmoid(yes - no).cpu().tolist()


def blur_label(name: str) -> str | None:
    """A classifier label as one of :data:`BLUR_CLASSES`, or None."""
    name = name.lower().replace("_", " ").replace("-", " ")
    if "undesirable" in name or "bad" in name:
        return "undesirable"
    if "desirable" in name or "bokeh" in name:
        return "desirable"
    if name.strip() in ("none", "no blur", "sharp", "no"):
        return "none"
    return None


class BlurClassifier(TransformersComponent):
    """No blur / desirable blur / undesirable blur, from an image classifier."""

    @classmethod
    def from_pretrained(cls, model_id_or_path: str | None = None, device=None) -> "BlurClassifier":
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        model_id_or_path = model_id_or_path or config.value(config.BLUR_CLASSIFIER)
        if not model_id_or_path:
            raise RuntimeError("no blur classifier is configured (the paper's weights are not public); train one with "
                               "python -m dofgen.curate.train_blur and pass --blur-classifier or set DOFGEN_BLUR_CLASSIFIER")
        processor, model = load_processor_and_model(
            "blur classifier", model_id_or_path, "DOFGEN_BLUR_CLASSIFIER",
            "a local folder with a transformers image classifier labelled none/desirable/undesirable", AutoImageProcessor,
            AutoModelForImageClassification,
        )
        labels = {int(i): blur_label(str(name)) for i, name in model.config.id2label.items()}
        if set(labels.values()) != set(BLUR_CLASSES):
            raise RuntimeError(f"the blur classifier's labels {sorted(model.config.id2label.values())} must be none, desirable and undesirable")
        classifier = cls(model, processor, resolve_device(device))
        classifier.labels = labels
        return classifier

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> list[str]:
        inputs = self.processor(images=[image.convert("RGB") for image in images], return_tensors="pt").to(self.device)
        return [self.labels[int(i)] for i in self.model(**inputs).logits.argmax(dim=-1)]


def load_optional(kind: str, load: Callable[[], T]) -> tuple[T | None, str]:
    """``(model, "loaded")``, or ``(None, why)`` when it cannot load; the run goes on without it."""
    try:
        return load(), "loaded"
    except RuntimeError as error:
        return None, f"absent: {error}"
