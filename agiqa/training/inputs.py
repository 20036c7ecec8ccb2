"""The conversations training runs on: the scorer's own (`agiqa.methods.m3.inputs`), per aspect.

`finetune` and `train-head` build their round-1 and round-2 turns here, from rows whose prompts
`decoded_rows` cleaned as `agiqa score` cleans them, so an adapter and a head are trained on the
very inputs (padded image, cut prompt) they will be scored on.
"""

from __future__ import annotations

from agiqa.methods.m3.inputs import description_reserve, fitted_conversations


def training_conversations(good: list[tuple[dict, object]], aspect: str, prompt_set, renderer, max_new_tokens: int,
                           max_length: int) -> list:
    """One `Conversation` per (row, image) of `good` for `aspect`, fitted as scoring fits it."""
    convs, _ = fitted_conversations([im for _, im in good], [r["prompt"] for r, _ in good], [aspect], prompt_set,
                                    renderer, description_reserve(max_new_tokens, max_length), max_length)
    return convs
