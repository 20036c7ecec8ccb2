"""`agiqa make-tiny-model DIR`: a complete random-weight model folder for tests and demos (offline)."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("dir", help="Folder to write.")
    from agiqa.commands.method_flags import add_import_argument, method_choice_help
    from agiqa.methods.registry import DEFAULT_METHOD

    p.add_argument("--method", default=DEFAULT_METHOD,
                   help=f"Whose model: {method_choice_help('tiny_model_entry')}. m3-agiqa: a Qwen2-VL + adapters + "
                        "M3 heads; clip-agiqa: a CLIP folder (released layout) + CLIP-AGIQA heads.")
    add_import_argument(p)
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
    from agiqa.methods.registry import method_entry

    entry = method_entry(args.method, "tiny_model_entry", "make-tiny-model")
    from agiqa.extras import require_command

    require_command("make-tiny-model")
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    if (args.pretrain_rows is not None and args.pretrain_rows < 100) or (
            args.pretrain_epochs is not None and args.pretrain_epochs < 1):
        from agiqa.errors import UserError

        raise UserError("--pretrain-rows must be at least 100 and --pretrain-epochs at least 1")
    given = {"rows": args.pretrain_rows, "epochs": args.pretrain_epochs}
    args.pretrain = {k: v for k, v in given.items() if v is not None} if args.pretrain_vision else None
    print(entry(args))
    return 0
