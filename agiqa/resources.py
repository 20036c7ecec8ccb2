"""What one actor of a stage needs from the cluster, declared as data (Ray Data LLM / NeMo Curator style).

A method declares its defaults (an MLLM wants a GPU, a CLIP scorer a fraction of one); the job
config may override them per stage; the runner sizes one actor pool per stage from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Resources:
    num_gpus: float = 0.0  # per actor; fractions share a GPU between actors
    num_cpus: float = 1.0  # per actor
    num_actors: int | None = None  # None: as many as the cluster's GPUs allow (1 on CPU-only clusters)

    def override(self, **changes) -> Resources:
        """A copy with the given fields replaced; None values leave a field as it is."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
