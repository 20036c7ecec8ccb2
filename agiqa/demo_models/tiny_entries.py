"""The `agiqa make-tiny-model --method NAME` builds, one per method (its config's `tiny_model_entry`).

Each takes the command's parsed arguments (`args.pretrain`: the procedural pretraining settings, or
None) and returns the line the command prints.
"""

from __future__ import annotations


def m3(args) -> str:
    """A Qwen2-VL (or MiniCPM-V 2.5 with `--family minicpmv`) with per-aspect adapters and M3 heads."""
    if args.family == "minicpmv":
        from agiqa.demo_models.tiny_minicpmv import build_tiny_minicpmv

        if args.pretrain is not None:
            from agiqa.errors import UserError

            raise UserError("--pretrain-vision applies to --family qwen2-vl only")
        return f"wrote tiny MiniCPM-V 2.5 to {build_tiny_minicpmv(args.dir, seed=args.seed, head_dim=args.head_dim)}"
    from agiqa.demo_models.tiny_model import build_tiny_model

    out = build_tiny_model(args.dir, seed=args.seed, head_dim=args.head_dim, pretrain_vision=args.pretrain)
    return f"wrote tiny model to {out}"


def clip(args) -> str:
    """A CLIP folder in the released layout with CLIP-AGIQA heads."""
    from agiqa.demo_models.tiny_clip import build_tiny_clip

    if args.family != "qwen2-vl":
        from agiqa.errors import UserError

        raise UserError("--family applies to --method m3-agiqa only")
    return f"wrote tiny CLIP to {build_tiny_clip(args.dir, seed=args.seed, pretrain=args.pretrain)}"
