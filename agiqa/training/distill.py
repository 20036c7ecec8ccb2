"""LoRA distillation of the describer: teach the MLLM the teacher's two-round conversations.

Each training example is the reference's two-round conversation (METHODS.md 2.3-2.4):

    user: <image> round-1 question   assistant: teacher description
    user: round-2 rating question    assistant: one rating word (from the MOS)

and the loss is the causal-LM loss on the assistant tokens only (both answers, each through its
`<|im_end|>`). LoRA goes on the language model's attention projections only, so vLLM can serve
the result as a LoRA adapter; the vision tower and the base weights stay frozen.

The loop is transformers' `Trainer`, not a hand-made one: the same command runs on a laptop CPU,
on one GPU, and under `torchrun` (DDP) or with a DeepSpeed config on many, with the reference's
optimiser settings (AdamW, beta2 0.95, weight decay 0.1, warm-up then cosine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from agiqa.aspects import rating_for_score
from agiqa.engines.base import ScoringRequest
from agiqa.engines.lora import LORA_TARGETS
from agiqa.model.prompts import scoring_messages

log = logging.getLogger(__name__)
IGNORE = -100


@dataclass
class DistillRow:
    image: object  # PIL image, RGB
    first_turn: str
    description: str  # the teacher's
    second_turn: str
    mos: float  # 0-5 scale: gives the round-2 answer

    @property
    def rating(self) -> str:
        return rating_for_score(self.mos)


def conversation(row: DistillRow, description: str) -> list[dict]:
    return [*scoring_messages(row.first_turn, description, row.second_turn),
            {"role": "assistant", "content": [{"type": "text", "text": row.rating}]}]


class ExampleEncoder:
    """Token ids, assistant-only labels and pixel inputs for one row, within `max_length`."""

    def __init__(self, processor, max_length: int):
        from agiqa.engines.conversation import ConversationRenderer

        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.renderer = ConversationRenderer(processor, max_length)
        self.max_length = max_length

    def _text(self, messages: list[dict], generation_prompt: bool) -> str:
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text)["input_ids"]

    def encode(self, row: DistillRow) -> dict:
        probe = conversation(row, row.description)
        answer_len = len(self._ids(self._text(probe, False))) - len(self._ids(self._text(probe[:3], False)))
        req = ScoringRequest("", row.image, row.first_turn, row.description, row.second_turn)
        msgs = conversation(row, self.renderer.fit_description(req, reserve=answer_len))
        full_text = self._text(msgs, False)
        full = self._ids(full_text)
        spans = []
        for k in (1, 3):  # the two assistant turns: from after the generation prompt to the turn's end
            start = self._ids(self._text(msgs[:k], True))
            end = self._ids(self._text(msgs[: k + 1], False))
            if full[: len(end)] != end or end[: len(start)] != start:
                raise ValueError("the chat template does not tokenize turn by turn; cannot place the labels")
            spans.append((len(start), len(end)))
        enc = self.processor(text=[full_text], images=[row.image], return_tensors="pt")
        ids = enc["input_ids"][0]
        shift = len(ids) - len(full)  # the one <|image_pad|> expanded into the image's tokens
        labels = torch.full_like(ids, IGNORE)
        for s, e in spans:
            labels[s + shift : e + shift] = ids[s + shift : e + shift]
        out = {"input_ids": ids, "labels": labels, "pixel_values": enc["pixel_values"],
               "image_grid_thw": enc["image_grid_thw"]}
        if "mm_token_type_ids" in enc:  # transformers 5: which tokens are image tokens (for M-RoPE)
            out["mm_token_type_ids"] = enc["mm_token_type_ids"][0]
        return out


def collate(pad_id: int):
    """Right-pad a list of encoded examples into one batch (images concatenated, as Qwen2-VL takes them)."""

    def fn(examples: list[dict]) -> dict:
        n = max(len(e["input_ids"]) for e in examples)
        ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
        labels = torch.full((len(examples), n), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(examples), n), dtype=torch.long)
        types = torch.zeros((len(examples), n), dtype=torch.long)
        for i, e in enumerate(examples):
            k = len(e["input_ids"])
            ids[i, :k], labels[i, :k], mask[i, :k] = e["input_ids"], e["labels"], 1
            if "mm_token_type_ids" in e:
                types[i, :k] = e["mm_token_type_ids"]
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels,
                 "pixel_values": torch.cat([e["pixel_values"] for e in examples]),
                 "image_grid_thw": torch.cat([e["image_grid_thw"] for e in examples])}
        if "mm_token_type_ids" in examples[0]:
            batch["mm_token_type_ids"] = types
        return batch

    return fn


@dataclass
class DistillSettings:
    epochs: float = 3.0
    max_steps: int = -1
    lr: float = 2e-4
    batch_size: int = 4
    grad_accum: int = 1
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    weight_decay: float = 0.1
    warmup_ratio: float = 0.03
    seed: int = 0
    bf16: bool = False
    gradient_checkpointing: bool = False
    deepspeed: str | None = None
    tune_vision: bool = False  # also train the whole vision tower (the reference's tune_vision=true)
    lora_targets: tuple[str, ...] = tuple(LORA_TARGETS)  # language-model modules (attention by default)


def add_lora(model, s: DistillSettings):
    """Wrap `model` with a fresh LoRA on the language model's `s.lora_targets` (attention by default).

    With `tune_vision`, the vision tower is trained in full too and saved inside the adapter
    (`modules_to_save`), as the reference does; vLLM cannot serve such an adapter as LoRA, so
    it is opt-in (`agiqa merge-adapter` makes a servable checkpoint of it).
    """
    from peft import LoraConfig, get_peft_model

    from agiqa.engines.lora import language_model_prefix, lora_target_pattern

    # the names anchored to the language model: Qwen2.5-VL's vision MLP is gate/up/down_proj too
    prefix = language_model_prefix(model)
    cfg = LoraConfig(r=s.lora_rank, lora_alpha=s.lora_alpha, lora_dropout=s.lora_dropout, bias="none",
                     target_modules=lora_target_pattern(prefix, s.lora_targets), task_type="CAUSAL_LM",
                     modules_to_save=["visual"] if s.tune_vision else None)
    peft_model = get_peft_model(model, cfg)
    stray = [n for n, _ in peft_model.named_modules() if "lora_A" in n and f"{prefix}." not in n]
    if stray:
        raise ValueError(f"LoRA landed outside the language model ({stray[0]}); vLLM could not serve it")
    return peft_model


@torch.no_grad()
def assistant_loss(model, examples: list[dict], pad_id: int, batch_size: int = 8) -> float:
    """Mean causal-LM loss over the assistant tokens of `examples` (eval mode)."""
    was = model.training
    model.eval()
    total, count = 0.0, 0
    fn = collate(pad_id)
    for s in range(0, len(examples), batch_size):
        batch = fn(examples[s : s + batch_size])
        batch = {k: v.to(model.device) for k, v in batch.items()}
        n = int((batch["labels"][:, 1:] != IGNORE).sum())
        total += float(model(**batch).loss) * n
        count += n
    model.train(was)
    return total / max(count, 1)


def distill(model, examples: list[dict], pad_id: int, s: DistillSettings, workdir: str | Path) -> list[dict]:
    """Train the (PEFT) `model` on encoded examples with transformers' Trainer; returns its log."""
    import inspect
    import sys

    from transformers import Trainer, TrainingArguments

    # transformers 5 takes the warm-up ratio as a float `warmup_steps`; 4.x calls it `warmup_ratio`
    warmup = ({"warmup_ratio": s.warmup_ratio} if "warmup_ratio" in inspect.signature(TrainingArguments).parameters
              else {"warmup_steps": s.warmup_ratio})
    args = TrainingArguments(
        output_dir=str(workdir), num_train_epochs=s.epochs, max_steps=s.max_steps, learning_rate=s.lr,
        per_device_train_batch_size=s.batch_size, gradient_accumulation_steps=s.grad_accum,
        weight_decay=s.weight_decay, adam_beta2=0.95, lr_scheduler_type="cosine",
        logging_steps=max(1, len(examples) // (s.batch_size * 4) or 1), save_strategy="no", report_to=[],
        remove_unused_columns=False, seed=s.seed, data_seed=s.seed, dataloader_pin_memory=False,
        bf16=s.bf16, gradient_checkpointing=s.gradient_checkpointing, deepspeed=s.deepspeed,
        use_cpu=not torch.cuda.is_available(), ddp_find_unused_parameters=False, **warmup,
        disable_tqdm=not sys.stderr.isatty(),  # a piped log gets no bar (`agiqa.quiet`)
    )
    from transformers.trainer_callback import PrinterCallback

    trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collate(pad_id))
    trainer.remove_callback(PrinterCallback)  # the progress bar shows the loss; the log is returned
    trainer.train()
    return [h for h in trainer.state.log_history if "loss" in h]


def is_main_process() -> bool:
    """Rank 0 (or no launcher): the one that writes files under torchrun."""
    import os

    return int(os.environ.get("RANK", "0")) == 0
