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
