"""Multi-category learnable prompts (CoOp-style, as CLIP-AGIQA uses them).

Each category's text is `SOS X X ... X <category>. EOS`: the 16 `X` positions are replaced by
context vectors shared by every category (initialised N(0, 0.02)), the rest are CLIP's own token
embeddings. The frozen text tower encodes the six texts; the feature at the end token, through
the text projection, is the category's text feature. Nothing here depends on the image, so a
scorer computes the six features once per model, never per batch.

The texts are padded only to the longest of them, not CLIP's 77 positions: the text tower is
causal, so positions after the end token cannot change the feature read there.
"""

from __future__ import annotations

import torch
from torch import nn

CATEGORIES = ("terrible", "bad", "poor", "average", "good", "perfect")
PLACEHOLDER = "X"


class PromptLearner(nn.Module):
    def __init__(self, backbone, n_ctx: int = 16, categories: tuple[str, ...] = CATEGORIES, init_std: float = 0.02):
        super().__init__()
        tok, text = backbone.tokenizer, backbone.model.text_model
        texts = [" ".join([PLACEHOLDER] * n_ctx) + f" {c}." for c in categories]
        ids = tok(texts, padding=True, return_tensors="pt")["input_ids"]
        eos = tok.eos_token_id
        placeholder = tok.convert_tokens_to_ids(tok.tokenize(PLACEHOLDER))
        if len(placeholder) != 1 or not bool((ids[:, 1:1 + n_ctx] == placeholder[0]).all()):
            raise ValueError(f"the CLIP tokenizer does not give one token per {PLACEHOLDER!r}: cannot place "
                             f"{n_ctx} context vectors")
        self.n_ctx, self.categories = n_ctx, tuple(categories)
        with torch.no_grad():
            embedded = text.embeddings.token_embedding(ids.to(text.embeddings.token_embedding.weight.device)).float()
        # CLIP's own embeddings around the context: SOS before it, category + "." + EOS (+ padding) after.
        self.register_buffer("prefix", embedded[:, :1].clone(), persistent=False)
        self.register_buffer("suffix", embedded[:, 1 + n_ctx:].clone(), persistent=False)
        self.register_buffer("eot_index", (ids == eos).int().argmax(dim=-1), persistent=False)
        self.ctx = nn.Parameter(torch.empty(n_ctx, backbone.text_width).normal_(0.0, init_std))

    def embeddings(self) -> torch.Tensor:
        """[C, L, width]: every category's text with the shared context in place of the placeholders."""
        c = len(self.categories)
        return torch.cat([self.prefix, self.ctx.unsqueeze(0).expand(c, -1, -1), self.suffix], dim=1)

    def forward(self, backbone) -> torch.Tensor:
        """The categories' L2-normalised text features [C, D] through the frozen text tower."""
        return encode_text_embeddings(backbone, self.embeddings(), self.eot_index)


def encode_text_embeddings(backbone, embeds: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
    """CLIP's text tower from token embeddings instead of ids: positions added, causal self-attention,
    final norm, the end token's state through the text projection, L2-normalised. Gradients flow to
    `embeds` (the tower's own weights are frozen)."""
    model = backbone.model
    text = model.text_model
    x = embeds.to(backbone.dtype)
    length = x.shape[1]
    h = text.embeddings(inputs_embeds=x)
    causal = torch.full((length, length), torch.finfo(h.dtype).min, device=h.device, dtype=h.dtype).triu(1)
    h = text.encoder(inputs_embeds=h, attention_mask=causal[None, None]).last_hidden_state
    h = text.final_layer_norm(h)
    pooled = h[torch.arange(h.shape[0], device=h.device), eot_index.to(h.device)]
    return nn.functional.normalize(model.text_projection(pooled).float(), dim=-1)
