"""Render the two conversations the engines run, identically for every engine.

Both engines must see the very same token sequence, or parity is lost; so the chat template,
the image-token count and the rule for fitting `max_length` live here, once.
"""

from __future__ import annotations

from agiqa.engines.base import ScoringRequest
from agiqa.model.prompts import describe_messages, scoring_messages


class ConversationRenderer:
    def __init__(self, processor, max_length: int):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.max_length = max_length

    def describe_prompt(self, first_turn: str) -> str:
        return self.processor.apply_chat_template(describe_messages(first_turn), tokenize=False,
                                                  add_generation_prompt=True)

    def _render(self, r: ScoringRequest, description: str) -> str:
        return self.processor.apply_chat_template(
            scoring_messages(r.first_turn, description, r.second_turn), tokenize=False, add_generation_prompt=False
        )

    def scoring_prompt(self, r: ScoringRequest) -> str:
        """The conversation text, with the description shortened until it fits `max_length` tokens.

        The reference truncates the token sequence's tail, which cuts off the rating question the
        head most needs; we shorten the description instead and keep both user turns whole.
        """
        text = self._render(r, r.description)
        n_image = self.image_tokens(r.image)
        length = len(self.tokenizer(text)["input_ids"]) - 1 + n_image
        if length <= self.max_length:
            return text
        desc_ids = self.tokenizer(r.description.strip())["input_ids"]
        overflow = length - self.max_length
        if overflow > len(desc_ids):
            raise ValueError(
                f"conversation needs {length - len(desc_ids)} tokens without any description "
                f"({n_image} for the image), over max_length={self.max_length}; lower max_pixels"
            )
        for keep in range(len(desc_ids) - overflow, -1, -1):
            text = self._render(r, self.tokenizer.decode(desc_ids[:keep]))
            if len(self.tokenizer(text)["input_ids"]) - 1 + n_image <= self.max_length:
                return text
        return text

    def image_tokens(self, image) -> int:
        """Number of <|image_pad|> tokens the processor expands one image into."""
        grid = self.processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"][0]
        merge = getattr(self.processor.image_processor, "merge_size", 2)
        return int(grid.prod().item()) // (merge * merge)
