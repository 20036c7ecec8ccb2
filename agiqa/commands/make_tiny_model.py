"""`agiqa make-tiny-model DIR`: a complete random-weight model folder for tests and demos (offline)."""

from __future__ import annotations

HELP = "Build a tiny random-weight Qwen2-VL with per-aspect LoRA adapters and M3 heads."


def add_arguments(p) -> None:
    p.add_argument("dir", help="Folder to write.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--head-dim", type=int, default=64, help="M3 head width (the reference uses 512).")


def run(args) -> int:
    import logging

    from agiqa.model.tiny import build_tiny_model

    logging.getLogger("transformers").setLevel(logging.ERROR)
    out = build_tiny_model(args.dir, seed=args.seed, head_dim=args.head_dim)
    print(f"wrote tiny model to {out}")
    return 0
