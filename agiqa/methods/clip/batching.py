"""What keeps CLIP-AGIQA's engine thread short per batch: prompt features once per prompt, reused pinned buffers.

Generated-image datasets repeat prompts (one prompt, many seeds or generators), and CLIP's text
tower costs about as much as its image tower at these sizes, so a prompt's features are computed
once per job and looked up after. Pinned (page-locked) host memory is what lets a host-to-GPU copy
run without blocking the host; allocating it costs far more than a copy, so buffers are reused.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable


class PromptFeatureCache:
    """Prompt -> its text features (a [D] tensor on the model's device), least recently used dropped
    beyond `max_entries`. `features(prompts)` computes only the prompts it has not seen, in one call."""

    def __init__(self, compute: Callable[[list[str]], object], max_entries: int = 65536):
        self.compute, self.max_entries = compute, max_entries
        self._cache: OrderedDict[str, object] = OrderedDict()
        self.hits = self.misses = 0

    def features(self, prompts: list[str]):
        import torch

        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        if missing:
            for p, f in zip(missing, self.compute(missing), strict=True):
                self._cache[p] = f
        self.misses += len(missing)
        self.hits += len(prompts) - len(missing)
        out = [self._cache[p] for p in prompts]
        for p in dict.fromkeys(prompts):
            self._cache.move_to_end(p)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return torch.stack(out)

    def __len__(self) -> int:
        return len(self._cache)


class PinnedBuffers:
    """Page-locked host tensors by shape and dtype, handed out and given back (one per batch in flight)."""

    def __init__(self):
        self._free: dict[tuple, list] = {}
        self.allocated = 0

    def take(self, shape: tuple, dtype):
        import torch

        free = self._free.get((tuple(shape), dtype))
        if free:
            return free.pop()
        self.allocated += 1
        return torch.empty(shape, dtype=dtype, pin_memory=True)

    def give_back(self, buf) -> None:
        self._free.setdefault((tuple(buf.shape), buf.dtype), []).append(buf)
