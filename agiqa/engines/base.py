"""The engine interface: what the scoring pipeline needs from an MLLM, nothing more.

Requests carry the aspect so an engine can pick that aspect's LoRA adapter per request (vLLM:
one batch, many adapters; hf: grouped by adapter). Outputs are plain strings and CPU float32
tensors, so the pipeline and heads never depend on which engine made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch


@dataclass
class DescribeRequest:
    aspect: str
    image: Any  # PIL.Image.Image, RGB
    first_turn: str  # round-1 user text (prompt already filled in)


@dataclass
class ScoringRequest:
    aspect: str
    image: Any
    first_turn: str
    description: str
    second_turn: str
    #: The head's own input settings, where it has them (the reference's predictors were trained at
    #: 512 tokens / 9 slices or 768 / 4): engines that slice images or cut the tail use them.
    max_length: int | None = None
    max_slices: int | None = None


class Engine(Protocol):
    aspects: tuple[str, ...]
    hidden_size: int
    #: Renders conversations the way this engine tokenizes them (and fits them to `max_length`).
    conversation: Any

    def describe(self, requests: list[DescribeRequest]) -> list[str]:
        """Greedy round-1 description per request, with that request's aspect adapter."""
        ...

    def hidden_states(self, requests: list[ScoringRequest]) -> list[torch.Tensor]:
        """Final hidden states (after the final norm), [L_i, hidden] float32 on CPU, per request.

        The sequence is the chat-templated [user, assistant, user] conversation with no
        generation prompt, at most `max_length` tokens (the description is shortened first).
        """
        ...

    def lm_head(self, aspect: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(weight [vocab, hidden], bias or None) of the LM head the aspect's model uses."""
        ...

    def close(self) -> None: ...


def adapter_dirs(adapters_root: str | Path, aspects: tuple[str, ...]) -> dict[str, Path | None]:
    """Map each aspect to its adapter folder (None: score with the base model), checked up front."""
    from agiqa.model.weights_files import refuse_pickled

    root = Path(adapters_root)
    out: dict[str, Path | None] = {}
    for a in aspects:
        d = root / a
        refuse_pickled(d, f"adapter {a!r}")
        if (d / "adapter_config.json").is_file():
            out[a] = d
        elif d.exists():
            raise FileNotFoundError(f"{d} exists but holds no adapter_config.json (not a PEFT adapter)")
        else:
            out[a] = None
    return out


def resolve_device_dtype(device: str, dtype: str):
    """'auto' → cuda if available else cpu; dtype 'auto' → bfloat16 on GPU, float32 on CPU."""
    import torch

    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {dev!r} requested but no CUDA GPU is available")
    if dtype == "auto":
        dt = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    else:
        dt = getattr(torch, dtype)
    return torch.device(dev), dt
