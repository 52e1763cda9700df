"""Tiny, randomly initialised models built from configs and saved like real checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def save_tiny_depth_anything(folder: Path, metric: bool = True) -> Path:
    """A 4-layer Depth Anything (DINOv2 backbone) with its DPT image processor."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=70,
        patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
        head_hidden_size=8, depth_estimation_type="metric" if metric else "relative", max_depth=20,
    )
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        size={"height": 70, "width": 70}, keep_aspect_ratio=True, ensure_multiple_of=14, do_pad=False,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)
    return folder


def write_clip_vocab(folder: Path) -> dict[str, int]:
    """A character-level CLIP BPE vocabulary (vocab.json, merges.txt) in ``folder``."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz0123456789,./":
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return vocab


def save_tiny_clipseg(folder: Path) -> Path:
    """A 2-layer CLIPSeg with a CLIP tokenizer and image processor."""
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPSegProcessor, CLIPTokenizer, ViTImageProcessor

    torch.manual_seed(0)
    vocab = write_clip_vocab(folder / "vocab")
    tokenizer = CLIPTokenizer(str(folder / "vocab" / "vocab.json"), str(folder / "vocab" / "merges.txt"))
    config = CLIPSegConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
            max_position_embeddings=64, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        ),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=8, reduce_dim=8, extract_layers=[0, 1], decoder_num_attention_heads=2, decoder_intermediate_size=16,
        conditional_layer=0,
    )
    CLIPSegForImageSegmentation(config).save_pretrained(folder)
    CLIPSegProcessor(image_processor=ViTImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tiny_unet():
    """The tiny SDXL UNet of diffusers' own tests (text_time added embeddings)."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(2, 4), layers_per_block=2, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80, cross_attention_dim=64, norm_num_groups=1,
    )


def save_tiny_sdxl(folder: Path) -> Path:
    """A tiny random SDXL pipeline (UNet, VAE, two CLIP text encoders, tokenizers) saved with
    ``save_pretrained``, loadable with ``StableDiffusionXLPipeline.from_pretrained``."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    vocab = write_clip_vocab(folder / "vocab")
    tokenizer = CLIPTokenizer(str(folder / "vocab" / "vocab.json"), str(folder / "vocab" / "merges.txt"), model_max_length=77)
    text_config = CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, vocab_size=len(vocab), max_position_embeddings=77, projection_dim=32, hidden_act="gelu",
    )
    torch.manual_seed(0)
    text_encoder, text_encoder_2 = CLIPTextModel(text_config), CLIPTextModelWithProjection(text_config)
    vae = AutoencoderKL(
        block_out_channels=[8, 16], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, sample_size=64, norm_num_groups=8,
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer, tokenizer_2=tokenizer,
        unet=tiny_unet(), scheduler=scheduler,
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_segformer(folder: Path) -> Path:
    """A 2-stage SegFormer with 12 classes and its image processor."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2],
        num_attention_heads=[1, 2], mlp_ratios=[2, 2], decoder_hidden_size=16, num_labels=12,
    )
    SegformerForSemanticSegmentation(config).save_pretrained(folder)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def _byte_level_vocab(folder: Path, words: tuple[str, ...] = ("yes", "no")) -> Path:
    """A byte-level BPE vocabulary (GPT-2 style) with every byte and ``words`` (and " word")
    as single tokens; returns the folder holding vocab.json and merges.txt."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    extra = [b for b in range(256) if b not in printable]
    chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(len(extra))]
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for char in chars:
        vocab.setdefault(char, len(vocab))
    merges = []
    for word in words:
        for prefix in ("", "Ġ"):
            pieces = [prefix + word[0]] if prefix else [word[0]]
            if prefix:
                merges.append(f"Ġ {word[0]}")
            for char in word[1:]:
                merges.append(f"{pieces[-1]} {char}")
                pieces.append(pieces[-1] + char)
            for piece in pieces:
                vocab.setdefault(piece, len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    return folder


def save_tiny_blip2(folder: Path, answer: str | None = None) -> Path:
    """A 1-layer BLIP-2 (ViT, Q-Former, OPT) with a byte-level tokenizer and its processor.

    ``answer="yes"`` or ``"no"`` rigs the language model's last layer norm and head so that
    this word is always the most likely next token (a known answer to a yes/no question).
    """
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, BlipImageProcessor, GPT2Tokenizer

    vocab = _byte_level_vocab(folder / "vocab")
    tokenizer = GPT2Tokenizer(str(vocab / "vocab.json"), str(vocab / "merges.txt"), bos_token="</s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    processor = Blip2Processor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer, num_query_tokens=2)
    config = Blip2Config(
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8),
        qformer_config=dict(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, encoder_hidden_size=16),
        text_config=dict(
            model_type="opt", vocab_size=len(processor.tokenizer), hidden_size=16, ffn_dim=32, num_hidden_layers=1, num_attention_heads=2,
            word_embed_proj_dim=16, max_position_embeddings=128, bos_token_id=1, eos_token_id=1, pad_token_id=0, tie_word_embeddings=False,
        ),
        num_query_tokens=2, image_token_index=processor.tokenizer.convert_tokens_to_ids("<image>"),
    )
    torch.manual_seed(0)
    model = Blip2ForConditionalGeneration(config)
    if answer is not None:
        norm = model.language_model.model.decoder.final_layer_norm
        head = model.language_model.lm_head.weight
        with torch.no_grad():
            norm.weight.zero_()
            norm.bias.copy_(torch.linspace(-1.0, 1.0, norm.bias.numel()))
            head.mul_(0.01)
            for word in ("yes", "no"):
                sign = 1.0 if word == answer else -1.0
                for token in {tokenizer.convert_tokens_to_ids(word), tokenizer.convert_tokens_to_ids("Ġ" + word)}:
                    head[token] = sign * 10.0 * norm.bias
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_resnet_classifier(folder: Path, labels: tuple[str, ...] = ("cat", "dog")) -> Path:
    """A 2-stage ResNet image classifier (a base to fine-tune) with its image processor."""
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    config = ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )
    ResNetForImageClassification(config).save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(folder)
    return folder


def save_tiny_blur_classifier(folder: Path, examples: dict) -> Path:
    """A tiny ResNet wired by hand into a sharpness meter, labelled none/desirable/undesirable.

    The stem convolution is a Laplacian (high-pass), every residual branch is zero and the
    second stage's shortcut passes that channel on, so the pooled feature is the mean
    rectified high-pass response; the head cuts it into three intervals, at the geometric
    midpoints between the ``examples`` ({label: [PIL images]}) of each class. Deterministic:
    sharp photos are "none", partly blurred "desirable", blurred all over "undesirable".
    """
    from transformers import ConvNextImageProcessor

    labels = ("none", "desirable", "undesirable")
    save_tiny_resnet_classifier(folder, labels)
    from transformers import ResNetForImageClassification

    model = ResNetForImageClassification.from_pretrained(folder).eval()
    processor = ConvNextImageProcessor.from_pretrained(folder)
    laplacian = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]) / 3.0
    with torch.no_grad():
        for parameter in model.resnet.encoder.parameters():
            if parameter.dim() == 4:  # convolutions: residual branches off
                parameter.zero_()
        stem = model.resnet.embedder.embedder.convolution.weight
        stem.zero_()
        stem[0, :, 2:5, 2:5] = laplacian
        model.resnet.encoder.stages[1].layers[0].shortcut.convolution.weight[0, 0] = 1.0
        head = model.classifier[1]
        head.weight.zero_()
        head.bias.zero_()

        def feature(images) -> torch.Tensor:
            inputs = processor(images=[image.convert("RGB") for image in images], return_tensors="pt")
            return model.resnet(**inputs).pooler_output.flatten(1)[:, 0]

        level = {label: feature(images) for label, images in examples.items()}
        high = (float(level["desirable"].max()) * float(level["none"].min())) ** 0.5
        low = (float(level["undesirable"].max()) * float(level["desirable"].min())) ** 0.5
        assert level["none"].min() > level["desirable"].max() and level["desirable"].min() > level["undesirable"].max()
        gain = 100.0 / high
        head.weight[0, 0], head.bias[0] = gain, -gain * high
        head.weight[2, 0], head.bias[2] = -gain, gain * low
    model.save_pretrained(folder)
    return folder
