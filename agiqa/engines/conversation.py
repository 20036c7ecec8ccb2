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
        self._image_tokens: dict[tuple[int, int], int] = {}  # by image size: the processor's grid depends on it alone

    def describe_prompt(self, first_turn: str) -> str:
        return self.processor.apply_chat_template(describe_messages(first_turn), tokenize=False,
                                                  add_generation_prompt=True)

    def _render(self, r: ScoringRequest, description: str) -> str:
        return self.processor.apply_chat_template(
            scoring_messages(r.first_turn, description, r.second_turn), tokenize=False, add_generation_prompt=False
        )

    def scoring_prompt(self, r: ScoringRequest) -> str:
        """The conversation text, with the description shortened until it fits `max_length` tokens."""
        return self._render(r, self.fit_description(r))

    def fit_description(self, r: ScoringRequest, reserve: int = 0) -> str:
        """`r.description`, shortened until the conversation fits `max_length - reserve` tokens.

        The reference truncates the token sequence's tail, which cuts off the rating question the
        head most needs; we shorten the description instead and keep both user turns whole.
        `reserve` leaves room for turns that follow (training adds the rating answer).
        """
        limit = self.max_length - reserve
        n_image = self.image_tokens(r.image)

        def length(desc: str) -> int:
            return len(self.tokenizer(self._render(r, desc))["input_ids"]) - 1 + n_image

        full = length(r.description)
        if full <= limit:
            return r.description
        desc_ids = self.tokenizer(r.description.strip())["input_ids"]
        overflow = full - limit
        if overflow > len(desc_ids):
            raise ValueError(
                f"conversation needs {full - len(desc_ids)} tokens without any description "
                f"({n_image} for the image), over max_length={limit}; lower max_pixels"
            )
        for keep in range(len(desc_ids) - overflow, -1, -1):
            desc = self.tokenizer.decode(desc_ids[:keep])
            if length(desc) <= limit:
                return desc
        return ""

    def fit_prompt(self, prompt: str, first_turn_of, image, second_turn: str, reserve: int) -> tuple[str, int]:
        """(prompt, tokens cut): the generation prompt shortened, if need be, so the conversation with
        an empty description fits `max_length - reserve` tokens (`reserve`: room for the description).

        Long Stable-Diffusion prompts are common; a valid row is never refused for its length. The
        prompt's tail is cut (its head usually names the subject), never the questions or the image.
        """
        limit = self.max_length - reserve
        n_image = self.image_tokens(image)

        def length(p: str) -> int:
            r = ScoringRequest("", image, first_turn_of(p), "", second_turn)
            return len(self.tokenizer(self._render(r, ""))["input_ids"]) - 1 + n_image

        full = length(prompt)
        if full <= limit:
            return prompt, 0
        ids = self.tokenizer(prompt)["input_ids"]
        keep = max(0, len(ids) - (full - limit))
        while keep > 0:
            cut = self.tokenizer.decode(ids[:keep]).strip()
            if length(cut) <= limit:
                return cut, len(ids) - keep
            keep -= max(1, (length(cut) - limit))
        if length("") > limit:
            raise ValueError(f"conversation needs {length('')} tokens without any prompt or description "
                             f"({n_image} for the image), over max_length={limit}; lower max_pixels")
        return "", len(ids)

    def image_tokens(self, image) -> int:
        """Number of <|image_pad|> tokens the processor expands one image into (computed once per size:
        fitting prompts and descriptions asks for it per row and aspect)."""
        size = image.size
        if size not in self._image_tokens:
            grid = self.processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"][0]
            merge = getattr(self.processor.image_processor, "merge_size", 2)
            self._image_tokens[size] = int(grid.prod().item()) // (merge * merge)
        return self._image_tokens[size]
