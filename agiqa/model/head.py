"""The M3-AGIQA regression head: folded projection → xLSTM block stack → masked pooling → MLP.

Input is the MLLM's final hidden states (after the final norm) at every position of the
two-round conversation; output is an unbounded MOS estimate (clamped to [0, 5] by `score`).
Sequences are right-padded: the xLSTM stack is causal (causal conv, recurrent sLSTM, causal
mLSTM), so padding after a sequence cannot change its positions, and pooling masks it out.
That is what makes batched scores equal to one-row-at-a-time scores.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from agiqa.aspects import MOS_MAX, MOS_MIN
from agiqa.model.head_config import WEIGHTS_NAME, M3HeadConfig
from agiqa.model.slstm_cpu import use_fast_recurrence


def _xlstm_stack(cfg: M3HeadConfig) -> nn.Module:
    from xlstm import (
        FeedForwardConfig,
        mLSTMBlockConfig,
        mLSTMLayerConfig,
        sLSTMBlockConfig,
        sLSTMLayerConfig,
        xLSTMBlockStack,
        xLSTMBlockStackConfig,
    )

    stack_cfg = xLSTMBlockStackConfig(
        mlstm_block=mLSTMBlockConfig(
            mlstm=mLSTMLayerConfig(
                conv1d_kernel_size=cfg.mlstm_conv1d_kernel_size,
                qkv_proj_blocksize=cfg.mlstm_qkv_proj_blocksize,
                num_heads=cfg.mlstm_num_heads,
                proj_factor=cfg.mlstm_proj_factor,
            )
        ),
        slstm_block=sLSTMBlockConfig(
            slstm=sLSTMLayerConfig(
                backend=cfg.slstm_backend,
                num_heads=cfg.slstm_num_heads,
                conv1d_kernel_size=cfg.slstm_conv1d_kernel_size,
                bias_init=cfg.slstm_bias_init,
            ),
            feedforward=FeedForwardConfig(proj_factor=cfg.ff_proj_factor, act_fn=cfg.ff_act_fn),
        ),
        context_length=cfg.context_length,
        num_blocks=cfg.num_blocks,
        embedding_dim=cfg.embedding_dim,
        slstm_at=list(cfg.slstm_at),
        add_post_blocks_norm=True,
    )
    return xLSTMBlockStack(stack_cfg)


class M3Head(nn.Module):
    def __init__(self, config: M3HeadConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.proj = nn.Linear(config.hidden_size, config.embedding_dim)
        self.xlstm = _xlstm_stack(config)
        use_fast_recurrence(self.xlstm)  # vanilla sLSTM cells only: same maths, ~4x faster (slstm_cpu.py)
        self.fc = nn.Sequential(
            nn.Linear(config.embedding_dim, config.mlp_hidden), nn.ReLU(), nn.Linear(config.mlp_hidden, 1)
        )
        self.xavier_init_(self.proj)
        for m in self.fc:
            if isinstance(m, nn.Linear):
                self.xavier_init_(m)

    @staticmethod
    def xavier_init_(layer: nn.Linear) -> None:
        """The reference's init for `W` and `fc` (models/utils.xavier_init); xLSTM keeps its own."""
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """hidden [B, L, H] right-padded, mask [B, L] (1 = real token) → raw MOS [B]."""
        x = self.xlstm(self.proj(hidden))
        return self.fc(self.pool(x, mask)).squeeze(-1)

    def pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(x.dtype).unsqueeze(-1)
        kind = self.config.pooling
        if kind == "mean":
            return (x * m).sum(1) / m.sum(1).clamp_min(1.0)
        if kind == "max":
            return x.masked_fill(m == 0, float("-inf")).amax(1)
        last = mask.long().sum(1).clamp_min(1) - 1  # right padding: last real token
        return x[torch.arange(x.shape[0], device=x.device), last]

    def score(self, sequences: list[torch.Tensor], clamp: bool = True) -> torch.Tensor:
        """MOS in [0, 5] for variable-length hidden-state sequences ([L_i, H] each), batched (`clamp=False`:
        the raw output, as the reference's evaluation reports it)."""
        return self._score(sequences, clamp, projected=False)

    def score_projected(self, sequences: list[torch.Tensor], clamp: bool = True) -> torch.Tensor:
        """`score` for sequences already through `proj` ([L_i, D] each: the engine applied the folded map
        where its states are, `engines/projection.py`)."""
        return self._score(sequences, clamp, projected=True)

    @torch.no_grad()
    def _score(self, sequences: list[torch.Tensor], clamp: bool, projected: bool) -> torch.Tensor:
        if not sequences:
            return torch.empty(0)
        x, mask = pad_right(sequences, self.config.context_length)
        p = next(self.parameters())
        x, mask = x.to(p.device, p.dtype), mask.to(p.device)
        raw = self.fc(self.pool(self.xlstm(x if projected else self.proj(x)), mask)).squeeze(-1)
        return (raw.float().clamp(MOS_MIN, MOS_MAX) if clamp else raw.float()).cpu()

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        self.config.save(directory)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt", "kind": "agiqa-m3-head"})

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> M3Head:
        """Load a head saved by `save` (safetensors only: nothing is unpickled)."""
        from safetensors.torch import load_file

        directory = Path(directory)
        cfg = M3HeadConfig.load(directory)
        head = cls(cfg)
        weights = directory / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"no M3 head weights at {weights}")
        missing, unexpected = head.load_state_dict(load_file(str(weights)), strict=False)
        if missing or unexpected:
            raise ValueError(f"{weights}: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}")
        return head.to(device).eval()


def pad_right(sequences: list[torch.Tensor], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack [L_i, H] tensors into [B, L, H] with zeros after each sequence, and its mask."""
    lengths = [min(int(s.shape[0]), max_len) for s in sequences]
    if min(lengths) == 0:
        raise ValueError("empty hidden-state sequence")
    longest = max(lengths)
    h = sequences[0].shape[-1]
    out = torch.zeros(len(sequences), longest, h, dtype=sequences[0].dtype)
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)
    for i, (s, n) in enumerate(zip(sequences, lengths, strict=True)):
        out[i, :n] = s[:n].to(out.device)
        mask[i, :n] = 1
    return out, mask
