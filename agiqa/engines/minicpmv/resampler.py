"""MiniCPM-V 2.5's resampler: `query_num` learned queries cross-attend to an image's vision features.

One `nn.MultiheadAttention` layer whose keys carry a fixed 2-D sin-cos position embedding of each
patch's (row, column) in its image's patch grid; padded patches are masked out. Parameter names are
the released ones (`query`, `kv_proj`, `attn`, `ln_q`, `ln_kv`, `ln_post`, `proj`).
"""

from __future__ import annotations

import torch
from torch import nn


def sincos_2d(dim: int, rows: int, cols: int) -> torch.Tensor:
    """[rows, cols, dim] embedding: the first half encodes the column, the second half the row
    (the reference builds its grid with `meshgrid(w, h)` and encodes grid[0], the column, first);
    each half is [sin(p * w_k), cos(p * w_k)] with w_k = 10000^(-k / (dim/4))."""
    half = dim // 2
    omega = 1.0 / 10000 ** (torch.arange(half // 2, dtype=torch.float64) / (half / 2))

    def one(pos: torch.Tensor) -> torch.Tensor:
        out = pos[..., None] * omega
        return torch.cat([out.sin(), out.cos()], dim=-1)

    r = torch.arange(rows, dtype=torch.float64)[:, None].expand(rows, cols)
    c = torch.arange(cols, dtype=torch.float64)[None, :].expand(rows, cols)
    return torch.cat([one(c), one(r)], dim=-1).float()


class Resampler25(nn.Module):
    def __init__(self, num_queries: int, embed_dim: int, num_heads: int, kv_dim: int):
        super().__init__()
        self.embed_dim = embed_dim
        self.query = nn.Parameter(torch.zeros(num_queries, embed_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.kv_proj = nn.Linear(kv_dim, embed_dim, bias=False) if kv_dim != embed_dim else nn.Identity()
        self.attn = nn.MultiheadAttention(embed_dim, num_heads)
        self.ln_q = nn.LayerNorm(embed_dim, eps=1e-6)
        self.ln_kv = nn.LayerNorm(embed_dim, eps=1e-6)
        self.ln_post = nn.LayerNorm(embed_dim, eps=1e-6)
        self.proj = nn.Parameter(embed_dim**-0.5 * torch.randn(embed_dim, embed_dim))

    def forward(self, x: torch.Tensor, tgt_sizes: torch.Tensor) -> torch.Tensor:
        """x [B, L, vision_dim] (padded after each image's h*w patches), tgt_sizes [B, 2] (h, w) -> [B, Q, D]."""
        b, length = x.shape[:2]
        pos = torch.zeros(b, length, self.embed_dim, dtype=x.dtype, device=x.device)
        pad = torch.ones(b, length, dtype=torch.bool, device=x.device)
        for i, (h, w) in enumerate(tgt_sizes.tolist()):
            pos[i, : h * w] = sincos_2d(self.embed_dim, h, w).reshape(h * w, -1).to(x.device, x.dtype)
            pad[i, : h * w] = False
        kv = self.ln_kv(self.kv_proj(x)).transpose(0, 1)  # [L, B, D]
        q = self.ln_q(self.query)[:, None].expand(-1, b, -1)  # [Q, B, D]
        out = self.attn(q, kv + pos.transpose(0, 1), kv, key_padding_mask=pad)[0]
        return self.ln_post(out.transpose(0, 1)) @ self.proj
