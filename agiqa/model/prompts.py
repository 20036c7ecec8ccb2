"""Two-round, per-aspect conversation templates, and the conversations built from them.

Round 1 asks the MLLM to analyse one aspect of the image given its generation prompt; round 2
asks for one rating word from [bad, poor, fair, good, excellent]. The scoring pass reads the
conversation [user: image + round 1, assistant: description, user: round 2] with no generation
prompt and no answer (as the reference's `SupervisedDataset` keeps `conversations[:3]`).

The `m3agiqa*` sets are quoted verbatim from strawhatboy/M3-AGIQA @ 2f76702
(finetune_datapre/minicpmv2_5_multiple_round_all.py, inference.py, inference_e2e.py) because the
published adapters were trained on them; a different set changes what the adapters see.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class PromptSet:
    name: str
    round1: dict[str, str]  # aspect -> template with {prompt}
    round2: dict[str, str]  # aspect -> rating question
    source: str

    def first_turn(self, aspect: str, prompt: str) -> str:
        return self.round1[aspect].format(prompt=prompt)

    def second_turn(self, aspect: str) -> str:
        return self.round2[aspect]


_Q_ROUND2 = (
    "Based on your analysis, could you please rate the image's overall quality? Choose one word from the "
    "following list: [bad, poor, fair, good, excellent], where the words range from low to high quality."
)
_C_ROUND2 = (
    "Based on your analysis, could you please rate the image's alignment with its original prompt? Choose one "
    "word from the following list: [bad, poor, fair, good, excellent], where the words indicate the degree of "
    "alignment from low to high."
)
_A_ROUND2 = (
    "Based on your analysis, could you please rate the image's authenticity? Choose one word from the "
    "following list: [bad, poor, fair, good, excellent], where the words indicate the degree of authenticity "
    "from low to high."
)
_C_ROUND1 = (
    "Please closely examine this AI-generated image and provide a detailed analysis of how well it aligns with "
    "the original prompt: '{prompt}'."
)
_A_ROUND1 = (
    "Please closely examine this AI-generated image and provide a detailed analysis of its authenticity. The "
    "original prompt for the image was: '{prompt}'. How closely does the image resemble real artworks or "
    "scenes? Highlight any parts of the image that appear non-real or artificial.\n"
)

M3AGIQA = PromptSet(
    name="m3agiqa",
    round1={
        # No period after the closing quote: verbatim (PROMPT_QUALITY, final definition).
        "quality": (
            "Please closely examine this AI-generated image and provide a detailed analysis of its content and "
            "quality. The original prompt for the image was: '{prompt}' What can you deduce about the image "
            "based on this prompt, and how would you assess its overall quality?"
        ),
        "correspondence": _C_ROUND1,
        "authenticity": _A_ROUND1,
    },
    round2={"quality": _Q_ROUND2, "correspondence": _C_ROUND2, "authenticity": _A_ROUND2},
    source="M3-AGIQA training prompts (AIGCIQA2023 / AIGIQA-20K adapters)",
)

M3AGIQA_AGIQA3K = PromptSet(
    name="m3agiqa-agiqa3k",
    round1={
        **M3AGIQA.round1,
        "quality": (
            "Take a close look at this AI-generated image and tell me everything you can about what you see. "
            "It's original prompt is: '{prompt}'. Could you please help to analyze the image's quality?"
        ),
    },
    round2={
        **M3AGIQA.round2,
        "quality": (
            "Now based on your analysis, could you please help to rate the image based on it's overall quality? "
            "Please give me one word from the list [bad, poor, fair, good, excellent]. Notice that quality word "
            "in the list means from low to high."
        ),
    },
    source="M3-AGIQA training prompts for the AGIQA-3K quality adapter",
)

M3AGIQA_E2E = PromptSet(
    name="m3agiqa-e2e",
    round1={
        "quality": (
            "Please closely examine this AI-generated image and provide a detailed analysis of its overall "
            "quality. The original prompt for the image was: '{prompt}'. Consider aspects like visual clarity, "
            "composition, color balance, and technical execution."
        ),
        "correspondence": (
            "Please closely examine this AI-generated image and provide a detailed analysis of its alignment "
            "with the original prompt. The original prompt for the image was: '{prompt}'. How well does the "
            "image match what was requested in the prompt?"
        ),
        "authenticity": _A_ROUND1,
    },
    round2=M3AGIQA.round2,
    source="M3-AGIQA inference_e2e.py round-1 prompts (differ from training for quality/correspondence)",
)

PROMPT_SETS: dict[str, PromptSet] = {p.name: p for p in (M3AGIQA, M3AGIQA_AGIQA3K, M3AGIQA_E2E)}


def get_prompt_set(name: str) -> PromptSet:
    try:
        return PROMPT_SETS[name]
    except KeyError:
        hint = difflib.get_close_matches(name, PROMPT_SETS, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"unknown prompt set {name!r}{extra}; choose from {', '.join(PROMPT_SETS)}") from None


def aspects_and_prompts(aspects: str, prompt_set: str) -> tuple[tuple[str, ...], PromptSet]:
    """A `--aspects a,b` list checked and a prompt set looked up, or a UserError naming the bad one."""
    from agiqa.aspects import check_aspects
    from agiqa.errors import UserError

    try:
        return check_aspects([a.strip() for a in aspects.split(",") if a.strip()]), get_prompt_set(prompt_set)
    except ValueError as e:
        raise UserError(str(e)) from None


def describe_messages(first_turn: str) -> list[dict]:
    """Chat messages for round 1 (generation follows: the caller adds the generation prompt)."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": first_turn}]}]


def scoring_messages(first_turn: str, description: str, second_turn: str) -> list[dict]:
    """Chat messages for the teacher-forced scoring pass: user, assistant, user (no answer)."""
    return [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": first_turn}]},
        {"role": "assistant", "content": [{"type": "text", "text": description.strip()}]},
        {"role": "user", "content": [{"type": "text", "text": second_turn}]},
    ]
