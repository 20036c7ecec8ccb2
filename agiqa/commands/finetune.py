"""`agiqa finetune`: distil the describer with LoRA, one adapter per aspect (see training/distill.py).

Input: Parquet shards with `image`, `prompt`, `<aspect>_mos` (0-5) and `<aspect>_teacher`.
Output: OUTPUT/<aspect>/ standard PEFT adapters (language-model attention only), which
`agiqa score --adapters OUTPUT` and vLLM serve as they are. Under `torchrun`, every rank trains
(DDP) and rank 0 writes.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="Folder or s3:// prefix of Parquet shards with image, prompt, "
                                                 "<aspect>_mos, <aspect>_teacher.")
    p.add_argument("--model", required=True, help="Base MLLM folder (Hugging Face format).")
    p.add_argument("--output", required=True, help="Folder to write <aspect>/ adapters to.")
    p.add_argument("--aspects", default="quality,correspondence,authenticity")
    p.add_argument("--prompt-set", default="m3agiqa")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=-1, help="Stop after this many optimiser steps (overrides "
                                                             "--epochs).")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--max-pixels", type=int, default=448 * 448)
    from agiqa.training.rows import image_limits_args

    image_limits_args(p)
    p.add_argument("--max-new-tokens", type=int, default=128,
                   help="As `agiqa score --max-new-tokens`: long prompts are cut to leave the description this "
                        "room, exactly as scoring cuts them.")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tune-vision", action="store_true",
                   help="Also train the vision tower in full (reference: tune_vision=true). The adapter then "
                        "carries it (modules_to_save): hf serves it; vLLM needs `agiqa merge-adapter` first.")
    from agiqa.engines.lora import LORA_TARGETS

    p.add_argument("--lora-targets", default=",".join(LORA_TARGETS),
                   help="Language-model linear layers to adapt, comma-separated (any of q_proj, k_proj, v_proj, "
                        "o_proj, gate_proj, up_proj, down_proj; all are servable by vLLM).")
    p.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (GPU).")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--deepspeed", help="DeepSpeed JSON config (multi-GPU; launch with torchrun or deepspeed).")


def run(args) -> int:
    from agiqa.extras import require_command

    require_command("finetune")
    import json
    import logging
    import time
    from pathlib import Path

    from agiqa.errors import UserError
    from agiqa.model.prompts import aspects_and_prompts
    from agiqa.model.weights_files import refuse_pickled
    from agiqa.training.rows import decoded_rows, image_limits, training_subset

    logging.getLogger("transformers").setLevel(logging.ERROR)
    aspects, prompts = aspects_and_prompts(args.aspects, args.prompt_set)
    lora_targets = lora_targets_arg(args.lora_targets)
    if not (Path(args.model) / "config.json").is_file():
        raise UserError(f"no model at {args.model} (config.json missing)")
    refuse_pickled(args.model, "--model")
    good = decoded_rows(args.data, [c for a in aspects for c in (f"{a}_mos", f"{a}_teacher")],
                        limits=image_limits(args))
    good, train_idx, val_idx = training_subset(good, args.val_fraction, args.seed)
    # torch and transformers only once the setup is known good: a refusal stays a one-line exit 2
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from agiqa.training import distill as D
    from agiqa.training.inputs import training_conversations
    processor = AutoProcessor.from_pretrained(args.model, size={"shortest_edge": 56 * 56,
                                                                "longest_edge": args.max_pixels})
    pad_id = processor.tokenizer.pad_token_id
    encoder = D.ExampleEncoder(processor, args.max_length)
    settings = D.DistillSettings(epochs=args.epochs, max_steps=args.max_steps, lr=args.lr,
                                 batch_size=args.batch_size, grad_accum=args.grad_accum, lora_rank=args.lora_rank,
                                 lora_alpha=args.lora_alpha, seed=args.seed, bf16=args.bf16,
                                 gradient_checkpointing=args.gradient_checkpointing, deepspeed=args.deepspeed,
                                 tune_vision=args.tune_vision, lora_targets=lora_targets)
    out = Path(args.output)
    for aspect in aspects:
        t0 = time.perf_counter()
        convs = training_conversations(good, aspect, prompts, encoder.renderer, args.max_new_tokens, args.max_length)
        examples = [encoder.encode(D.DistillRow(c.image, c.first_turn, r[f"{aspect}_teacher"] or "", c.second_turn,
                                                float(r[f"{aspect}_mos"])))
                    for c, (r, _) in zip(convs, good, strict=True)]
        torch.manual_seed(args.seed)
        model = D.add_lora(AutoModelForImageTextToText.from_pretrained(args.model, dtype=torch.float32), settings)
        train = [examples[i] for i in train_idx]
        val = [examples[i] for i in val_idx]
        before = D.assistant_loss(model, val, pad_id) if val else float("nan")
        log_history = D.distill(model, train, pad_id, settings, out / ".trainer" / aspect)
        after = D.assistant_loss(model, val, pad_id) if val else float("nan")
        if D.is_main_process():
            model.save_pretrained(out / aspect)
            (out / aspect / "agiqa_distill.json").write_text(json.dumps({
                "aspect": aspect, "data": str(args.data), "prompt_set": args.prompt_set, "rows_train": len(train),
                "rows_val": len(val), "val_loss_before": before, "val_loss_after": after,
                "settings": vars(settings), "log": log_history}, indent=2) + "\n")
            print(f"{aspect}: {len(train)} rows, {time.perf_counter() - t0:.0f}s; assistant-token val loss "
                  f"{before:.3f} -> {after:.3f}; wrote {out / aspect}", flush=True)
    return 0


def lora_targets_arg(value: str) -> tuple[str, ...]:
    """`--lora-targets` as a tuple, refused before any work when a name is not a language-model layer."""
    from agiqa.engines.lora import LM_LINEAR_MODULES
    from agiqa.errors import UserError

    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in LM_LINEAR_MODULES]
    if not names or unknown:
        raise UserError(f"--lora-targets {value!r}: {unknown or 'empty'} not among the language model's linear "
                        f"layers {', '.join(LM_LINEAR_MODULES)} (vision-tower LoRA cannot be served by vLLM; "
                        "use --tune-vision for that)")
    return names
