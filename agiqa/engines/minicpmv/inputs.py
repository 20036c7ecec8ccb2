"""The token sequences the reference feeds MiniCPM-V 2.5, built from the released tokenizer and configs.

Template (the reference's `llama3_chat_template`, M3-AGIQA models/MiniCPM.py): `<|begin_of_text|>`, then
per message `<|start_header_id|>{role}<|end_header_id|>\\n\\n{content.strip()}<|eot_id|>`. The scoring
pass ends at the second user turn's `<|eot_id|>` (no assistant header); round 1 (the model's `chat`)
adds `<|start_header_id|>assistant<|end_header_id|>\\n\\n`. The image's placeholder
(`slicing.image_placeholder`) and `\\n` precede the first user text. The ids are cut at the tail to
`max_length` after the image is expanded, exactly as the reference's collator does.

The tokenizer is read from `tokenizer.json` directly: the released `tokenizer_config.json` names a
remote class, and loading that class through transformers 5 rebuilds a broken tokenizer
(FIDELITY.md, traps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from agiqa.engines.minicpmv.slicing import (
    SliceConfig,
    SpecialTokens,
    choose_grid,
    image_placeholder,
    pixel_patches,
    slice_image,
)

BOS, EOS, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
HEADER = "<|start_header_id|>{role}<|end_header_id|>\n\n"


def load_tokenizer(model_dir: str | Path):
    from transformers import PreTrainedTokenizerFast

    model_dir = Path(model_dir)
    if not (model_dir / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{model_dir}: tokenizer.json missing")
    tok = PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"), bos_token=BOS, eos_token=EOS,
                                  unk_token="<unk>")
    specials = [BOS, EOS, EOT, *vars(SpecialTokens()).values()]
    missing = [t for t in specials if tok.convert_tokens_to_ids(t) in (None, tok.unk_token_id) and t != "<unk>"]
    if missing or tok.convert_tokens_to_ids("<unk>") is None:
        raise ValueError(f"{model_dir}: tokenizer lacks MiniCPM-V 2.5's special tokens {missing}")
    return tok


def scoring_messages(r) -> list[tuple[str, str]]:
    """The scoring pass's conversation for a `ScoringRequest`: [user, assistant (the description), user]."""
    return [("user", r.first_turn), ("assistant", r.description), ("user", r.second_turn)]


def render(messages: list[tuple[str, str]], generation_prompt: bool) -> str:
    text = BOS + "".join(HEADER.format(role=r) + c.strip() + EOT for r, c in messages)
    return text + (HEADER.format(role="assistant") if generation_prompt else "")


@dataclass
class Encoded:
    """One conversation ready for the model: ids, each image's [start, end) run, its pixel rows."""

    ids: list[int]
    bounds: list[tuple[int, int]]
    images: list = field(default_factory=list)  # [(pixels [3, p, n*p], (h, w))] source first, then slices
    grid: tuple[int, int] | None = None


class MiniCPMVInputs:
    def __init__(self, model_dir: str | Path, tokenizer=None):
        model_dir = Path(model_dir)
        cfg = json.loads((model_dir / "config.json").read_text())
        pre_path = model_dir / "preprocessor_config.json"
        pre = json.loads(pre_path.read_text()) if pre_path.is_file() else {}
        sc = cfg.get("slice_config") or {}
        self.patch = int(sc.get("patch_size", cfg.get("patch_size", 14)))
        self.scale = int(sc.get("scale_resolution", pre.get("scale_resolution", 448)))
        #: round 1's slice count: the model's own (its `chat`), 9 for the release
        self.describe_slices = int(pre.get("max_slice_nums", sc.get("max_slice_nums", 9)))
        self.query_num = int(cfg.get("query_num", pre.get("image_feature_size", 96)))
        self.tokenizer = tokenizer or load_tokenizer(model_dir)
        t = self.tokenizer
        self.im_start, self.im_end = t.convert_tokens_to_ids("<image>"), t.convert_tokens_to_ids("</image>")
        self.stop_ids = [t.convert_tokens_to_ids(EOS), t.convert_tokens_to_ids(EOT)]

    def decode(self, ids: list[int]) -> str:
        """Generated ids to text as the reference's `_decode_text`: cut at the first stop token, drop
        specials, strip."""
        for n, t in enumerate(ids):
            if t in self.stop_ids:
                ids = ids[:n]
                break
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def slice_config(self, max_slices: int) -> SliceConfig:
        return SliceConfig(max_slice_nums=max_slices, scale_resolution=self.scale, patch_size=self.patch)

    def encode(self, image, messages: list[tuple[str, str]], max_slices: int, max_length: int,
               generation_prompt: bool) -> Encoded:
        """`messages` [(role, text)] with the image placed before the first (user) text."""
        source, rows, grid = slice_image(image, self.slice_config(max_slices))
        first_role, first_text = messages[0]
        placed = [(first_role, image_placeholder(grid, self.query_num) + "\n" + first_text), *messages[1:]]
        ids = self.tokenizer.encode(render(placed, generation_prompt), add_special_tokens=False)[:max_length]
        starts = [i + 1 for i, t in enumerate(ids) if t == self.im_start]
        ends = [i for i, t in enumerate(ids) if t == self.im_end]
        ends += [len(ids)] * (len(starts) - len(ends))  # a run cut by the tail truncation ends at the cut
        pics = [source] + [s for row in rows for s in row]
        # every image goes through the vision tower, even one whose tokens were cut: the tower pads
        # all of a conversation's images to the longest, which changes the others' features
        images = [pixel_patches(p, self.patch) for p in pics]
        return Encoded(ids, list(zip(starts, ends, strict=True)), images, grid)

    def pattern_ids(self, image_size: tuple[int, int], messages: list[tuple[str, str]], max_slices: int,
                    max_length: int, generation_prompt: bool, pattern: str) -> list[int]:
        """The ids of `encode` with the image's placeholder collapsed to `pattern` (vLLM expands it back).

        The placeholder is tokenized apart from the text around it, which gives the ids of the whole
        string because it begins and ends with special tokens. The tail is cut so that the *expanded*
        sequence is `encode`'s, at most `max_length` tokens; a cut that would reach into the image's
        tokens raises (vLLM expands whole placeholders only)."""
        grid = choose_grid(image_size, self.slice_config(max_slices))
        placeholder = image_placeholder(grid, self.query_num)
        first_role, first_text = messages[0]
        text = render([(first_role, placeholder + "\n" + first_text), *messages[1:]], generation_prompt)
        cut = text.index(placeholder)
        enc = self.tokenizer.encode
        before = enc(text[:cut], add_special_tokens=False)
        after = enc(text[cut + len(placeholder):], add_special_tokens=False)
        excess = len(before) + len(enc(placeholder, add_special_tokens=False)) + len(after) - max_length
        if excess > len(after):
            raise ValueError(f"max_length {max_length} cuts into the image's tokens; the vllm engine expands "
                             "whole images only (use --engine hf, which keeps the part that fits)")
        return before + enc(pattern, add_special_tokens=False) + after[: len(after) - max(excess, 0)]
