"""M3-AGIQA's two-round protocol as a plain function over the engine's two calls.

Round 1: the MLLM, with the aspect's adapter, describes the image given the round-1 question.
Round 2: a teacher-forced pass over [user: image + round-1 question, assistant: the description,
user: the rating question] returns per-token hidden states (the head reads those). With round 1
off (the ablation) the assistant turn is empty.

`converse` is the same protocol for one conversation on an async engine (`generate`, `encode`).
Taking `describe` and `hidden_states` as callables (datatrove's shape) keeps the protocol testable
without an engine, and lets any engine (hf, vLLM, a remote server) serve it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agiqa.engines.base import DescribeRequest, ScoringRequest


@dataclass(frozen=True)
class Conversation:
    """One (row, aspect) conversation: the image and both user turns, prompts already filled in."""

    aspect: str
    image: Any
    first_turn: str
    second_turn: str
    #: The aspect head's own scoring input (token cap, slice count), where it has them.
    max_length: int | None = None
    max_slices: int | None = None
    #: A given round-1 description (`--descriptions-from`): round 1 is skipped for this conversation.
    description: str | None = None


def two_round(conversations: Sequence[Conversation], describe: Callable[[list[DescribeRequest]], list[str]],
              hidden_states: Callable[[list[ScoringRequest]], list[Any]],
              with_description: bool = True) -> tuple[list[str], list[Any]]:
    """(descriptions, hidden states), one each per conversation, in order.

    Each call gets every conversation at once, so an engine that mixes adapters in one batch
    (vLLM) sees all aspects of all rows together.
    """
    if not conversations:
        return [], []
    descriptions: list[str] = [c.description or "" for c in conversations]
    todo = [i for i, c in enumerate(conversations) if with_description and c.description is None]
    if todo:
        made = list(describe([DescribeRequest(conversations[i].aspect, conversations[i].image,
                                              conversations[i].first_turn) for i in todo]))
        if len(made) != len(todo):
            raise RuntimeError(f"describe returned {len(made)} texts for {len(todo)} requests")
        for i, d in zip(todo, made, strict=True):
            descriptions[i] = d
    passes = [ScoringRequest(c.aspect, c.image, c.first_turn, d, c.second_turn, c.max_length, c.max_slices)
              for c, d in zip(conversations, descriptions, strict=True)]
    hidden = list(hidden_states(passes))
    if len(hidden) != len(passes):
        raise RuntimeError(f"hidden_states returned {len(hidden)} sequences for {len(passes)} requests")
    return descriptions, hidden


async def converse(c: Conversation, generate: Callable[[DescribeRequest], Awaitable[str]],
                   encode: Callable[[ScoringRequest], Awaitable[Any]],
                   with_description: bool = True) -> tuple[str, Any]:
    """Both rounds of one (row, aspect) conversation on an async engine: (description, scoring states).

    Awaited side by side for every conversation of a batch, so the engine batches whatever is ready
    (round 1 of one row beside the scoring pass of another) and rows finish in any order."""
    description = c.description or ""
    if with_description and c.description is None:
        description = await generate(DescribeRequest(c.aspect, c.image, c.first_turn))
    states = await encode(ScoringRequest(c.aspect, c.image, c.first_turn, description, c.second_turn,
                                         c.max_length, c.max_slices))
    return description, states
