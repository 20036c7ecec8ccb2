"""MiniCPMV25: the released MiniCPM-Llama3-V 2.5, as transformers building blocks with the released names.

    vpm        Idefics2VisionTransformer (SigLIP-NaViT), with the reference's patch positions
    resampler  Resampler25 (query_num queries per image)
    llm        LlamaForCausalLM (`llm.model.*`, `llm.lm_head`)

The vision tower sees one conversation's images (source + slices) as one batch of patch *rows*
([3, patch, n_patches*patch] each), zero-padded to the longest. As in the reference (FIDELITY.md row
9), the padded patches are not masked in the tower and the position ids of every image are bucketed
over the longest row's patch count; the resampler masks them. So an image's features depend on the
other images of its conversation: images are batched through the tower only with others of the same
padded length, which is exactly what the reference computes for each.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from agiqa.engines.minicpmv.resampler import Resampler25

#: Top-level config keys that are MiniCPM-V's, not Llama's.
_NOT_LLAMA = {"architectures", "auto_map", "model_type", "version", "vision_config", "slice_config", "slice_mode",
              "query_num", "patch_size", "image_size", "batch_vision_input", "drop_vision_last_layer",
              "mm_use_im_start_end", "use_image_id", "_name_or_path", "transformers_version", "torch_dtype", "dtype"}


def read_config(model_dir: str | Path) -> dict:
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    if cfg.get("model_type") != "minicpmv" or str(cfg.get("version", "")) != "2.5":
        raise ValueError(f"{model_dir}: not a MiniCPM-V 2.5 folder (model_type {cfg.get('model_type')!r}, "
                         f"version {cfg.get('version')!r})")
    return cfg


def is_minicpmv25(model_dir: str | Path) -> bool:
    p = Path(model_dir) / "config.json"
    if not p.is_file():
        return False
    cfg = json.loads(p.read_text())
    return cfg.get("model_type") == "minicpmv" and str(cfg.get("version", "")) == "2.5"


class _ReferenceVisionEmbeddings(nn.Module):
    """Patch embedding + position ids as MiniCPM-V 2.5 computes them for a [B, 3, patch, L*patch] row batch.

    The tower is called without its patch mask having any effect (the reference's mask sets whole
    rows), so each image is one patch row of the padded length L: its position ids are the buckets
    of `arange(0, 1, 1/L)` over the `image_size/patch` position grid's first row, computed in float32
    on the CPU as the reference does (transformers' class would cast them to the model dtype first)."""

    def __init__(self, config):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.patch_size = config.patch_size
        self.num_patches_per_side = config.image_size // config.patch_size
        self.patch_embedding = nn.Conv2d(config.num_channels, self.embed_dim, kernel_size=self.patch_size,
                                         stride=self.patch_size, padding="valid")
        self.position_embedding = nn.Embedding(self.num_patches_per_side**2, self.embed_dim)

    def forward(self, pixel_values: torch.Tensor, patch_attention_mask=None) -> torch.Tensor:
        emb = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        if pixel_values.shape[2] != self.patch_size:
            raise ValueError("MiniCPM-V 2.5 expects images as one row of patches (reshape_by_patch)")
        ids = reference_position_ids(emb.shape[1], self.num_patches_per_side)
        return emb + self.position_embedding(ids.to(emb.device))[None]


def reference_position_ids(n_patches: int, side: int) -> torch.Tensor:
    """Position ids of a row of `n_patches` patches as the reference computes them: the float32 CPU
    `arange(0, 1, 1/n)` bucketed over the `side`-wide position grid's first row. (Dividing `i / n`
    instead, as vLLM's tower does, puts some patches in the neighbouring bucket.)"""
    boundaries = torch.arange(1 / side, 1.0, 1 / side)
    coords = torch.arange(0, 1 - 1e-6, 1 / torch.tensor(n_patches))
    return torch.bucketize(coords, boundaries, right=True)


class MiniCPMV25(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        from transformers import Idefics2VisionConfig, LlamaConfig, LlamaForCausalLM
        from transformers.models.idefics2.modeling_idefics2 import Idefics2VisionTransformer

        self.raw_config = cfg
        self.query_num = int(cfg.get("query_num", 96))
        llama = LlamaConfig(**{k: v for k, v in cfg.items() if k not in _NOT_LLAMA})
        self.config = llama  # what peft and generation read (hidden size, vocab, ...)
        vcfg = Idefics2VisionConfig(**{k: v for k, v in cfg["vision_config"].items() if k != "model_type"})
        self.llm = LlamaForCausalLM(llama)
        self.vpm = Idefics2VisionTransformer(vcfg)
        self.vpm.embeddings = _ReferenceVisionEmbeddings(vcfg)
        if cfg.get("drop_vision_last_layer"):
            self.vpm.encoder.layers = self.vpm.encoder.layers[:-1]
        hidden = llama.hidden_size
        self.resampler = Resampler25(self.query_num, hidden, hidden // 128 or 1, vcfg.hidden_size)

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, model_dir: str | Path, dtype: torch.dtype = torch.float32) -> MiniCPMV25:
        """Build from a released folder: config.json + safetensors (sharded or not), names unchanged."""
        from safetensors.torch import load_file
        from transformers.initialization import no_init_weights

        model_dir = Path(model_dir)
        cfg = read_config(model_dir)
        with no_init_weights():
            model = cls(cfg)
        index = model_dir / "model.safetensors.index.json"
        files = (sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file()
                 else ["model.safetensors"])
        state: dict[str, torch.Tensor] = {}
        for f in files:
            if not (model_dir / f).is_file():
                raise FileNotFoundError(f"{model_dir / f} missing (only safetensors checkpoints load)")
            state.update(load_file(str(model_dir / f)))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{model_dir}: weights do not match MiniCPM-V 2.5: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
        return model.to(dtype).eval()

    # -- vision ------------------------------------------------------------------------------------
    def vision_features(self, images: list[tuple[torch.Tensor, tuple[int, int]]]) -> torch.Tensor:
        """One conversation's images ([3, p, n*p] pixel rows with their (h, w) patch grid) -> [N, Q, D]."""
        p = self.vpm.embeddings.patch_size
        longest = max(px.shape[-1] for px, _ in images)
        dtype = self.vpm.embeddings.patch_embedding.weight.dtype
        device = self.vpm.embeddings.patch_embedding.weight.device
        rows = torch.zeros(len(images), 3, p, longest, dtype=dtype, device=device)
        for i, (px, _) in enumerate(images):
            rows[i, ..., : px.shape[-1]] = px.to(device, dtype)
        feats = self.vpm(rows).last_hidden_state
        sizes = torch.tensor([hw for _, hw in images], dtype=torch.long)
        return self.resampler(feats, sizes)

    # -- language model ----------------------------------------------------------------------------
    def embed(self, input_ids: torch.Tensor, bounds: list[list[tuple[int, int]]],
              features: list[torch.Tensor]) -> torch.Tensor:
        """Token embeddings with each image's features written over its `<unk>` run (per row: bounds
        [start, end) in order, features [N_i, Q, D]); runs cut by truncation keep what fits."""
        emb = self.llm.get_input_embeddings()(input_ids)
        length = emb.shape[1]
        for b, (row_bounds, feats) in enumerate(zip(bounds, features, strict=True)):
            for (s, e), f in zip(row_bounds, feats[: len(row_bounds)], strict=True):
                if s >= length:
                    break
                keep = min(e, length) - s
                emb[b, s : s + keep] = f[:keep].to(emb.dtype)
        return emb

    def hidden_states(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Final hidden states (after the final norm) of right-padded rows, positions 0..L-1."""
        pos = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device)[None].expand(inputs_embeds.shape[0], -1)
        return self.llm.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                              position_ids=pos).last_hidden_state
