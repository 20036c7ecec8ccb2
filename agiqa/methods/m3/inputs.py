"""What M3-AGIQA's model sees of a row, one definition for scoring and for training.

A row's image and prompt reach the model after three steps: the prompt is cleaned
(`clean_prompt`: control characters and runs of whitespace), an image of extreme aspect ratio is
padded (Qwen2-VL's processor refuses ratios over 200), and a prompt too long for `max_length` is
cut, leaving room for the description. `agiqa score` does this per row; `finetune` and
`train-head` call the same functions, so a head or adapter is trained on the inputs it will be
scored on (tests/training/test_input_parity.py holds the two to equality).
"""

from __future__ import annotations

from agiqa.methods.m3.two_round import Conversation

#: Qwen2-VL's processor refuses images whose long side is over 200x the short one; pad well before.
MAX_ASPECT_RATIO = 100.0


def description_reserve(max_new_tokens: int, max_length: int, describe: bool = True) -> int:
    """Tokens kept free for the round-1 description when a long prompt is cut."""
    return min(max_new_tokens, max_length // 4) if describe else 0


def fitted_conversations(images: list, prompts: list[str], aspects, prompt_set, renderer,
                         reserve: int, max_length: int) -> tuple[list[Conversation], list[str | None]]:
    """Every (row, aspect) conversation, row-major, fitted to what the model takes, and a note per row
    saying what was changed (None when nothing was). `prompts` are already cleaned."""
    from agiqa.data.images import pad_to_ratio

    convs, notes = [], []
    for img, text in zip(images, prompts, strict=True):
        img, note = pad_to_ratio(img, MAX_ASPECT_RATIO)
        row_notes = [note] if note else []
        for a in aspects:
            used, cut = text, 0
            if renderer is not None:
                used, cut = renderer.fit_prompt(text, lambda t, a=a: prompt_set.first_turn(a, t), img,
                                                prompt_set.second_turn(a), reserve)
            if cut:
                row_notes.append(f"{a}: prompt cut by {cut} tokens to fit max_length {max_length}")
            convs.append(Conversation(a, img, prompt_set.first_turn(a, used), prompt_set.second_turn(a)))
        notes.append("; ".join(row_notes) or None)
    return convs, notes
