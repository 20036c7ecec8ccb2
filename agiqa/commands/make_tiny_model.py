"""`agiqa make-tiny-model DIR`: a complete random-weight model folder for tests and demos (offline)."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("dir", help="Folder to write.")
    p.add_argument("--method", choices=["m3-agiqa", "clip-agiqa"], default="m3-agiqa",
                   help="m3-agiqa: a Qwen2-VL + adapters + M3 heads; clip-agiqa: a CLIP folder (released layout) + "
                        "CLIP-AGIQA heads.")
    p.add_argument("--family", choices=["qwen2-vl", "minicpmv"], default="qwen2-vl",
                   help="m3-agiqa's base model: qwen2-vl (agiqa's own) or minicpmv (MiniCPM-Llama3-V 2.5 in the released "
                        "layout, with adapters shaped like the authors' (modules_to_save)).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--head-dim", type=int, default=64, help="M3 head width (the reference uses 512).")
    p.add_argument("--pretrain-vision", action="store_true",
                   help="Pretrain the vision tower on procedural images (a real checkpoint's tower comes pretrained; "
                        "about 1.5 minutes on 2 cores; with --method clip-agiqa the whole CLIP, on image-caption "
                        "pairs). Needed for learnability runs and the demo's meaningful scores.")
    p.add_argument("--pretrain-rows", type=int,
                   help="Procedural pretraining images (default: the builder's; the MLLM tower's accuracy grows with "
                        "distinct images more than with epochs: docs/training.md)")
    p.add_argument("--pretrain-epochs", type=int, help="Pretraining epochs (default: the builder's).")


def run(args) -> int:
    from agiqa.extras import require_command

    require_command("make-tiny-model")
    import logging

    from agiqa.testing.tiny_model import build_tiny_model

    logging.getLogger("transformers").setLevel(logging.ERROR)
    if (args.pretrain_rows is not None and args.pretrain_rows < 100) or (
            args.pretrain_epochs is not None and args.pretrain_epochs < 1):
        from agiqa.errors import UserError

        raise UserError("--pretrain-rows must be at least 100 and --pretrain-epochs at least 1")
    given = {"rows": args.pretrain_rows, "epochs": args.pretrain_epochs}
    pretrain = {k: v for k, v in given.items() if v is not None} if args.pretrain_vision else None
    if args.method == "clip-agiqa":
        from agiqa.testing.tiny_clip import build_tiny_clip

        print(f"wrote tiny CLIP to {build_tiny_clip(args.dir, seed=args.seed, pretrain=pretrain)}")
        return 0
    if args.family == "minicpmv":
        from agiqa.testing.tiny_minicpmv import build_tiny_minicpmv

        print(f"wrote tiny MiniCPM-V 2.5 to {build_tiny_minicpmv(args.dir, seed=args.seed, head_dim=args.head_dim)}")
        return 0
    out = build_tiny_model(args.dir, seed=args.seed, head_dim=args.head_dim, pretrain_vision=pretrain)
    print(f"wrote tiny model to {out}")
    return 0
