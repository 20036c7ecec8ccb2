"""`agiqa train-head --method clip-agiqa`: CLIP-AGIQA heads (prompt learner + regressor) over a frozen CLIP.

The method's training entry (`ClipAgiqaConfig.train_entry`), run by the command with its parsed
arguments: the paper's SGD/cosine recipe by default (`agiqa.training.clip_trainer`); the
correspondence head reads the prompt (`use_prompt`), the others only the image.
"""

from __future__ import annotations


def run(args) -> int:
    import logging
    from pathlib import Path

    import torch

    from agiqa.aspects import check_aspects
    from agiqa.data.config import ImageLimits
    from agiqa.data.images import BadRow, clean_prompt
    from agiqa.errors import UserError
    from agiqa.model.clip.backbone import ClipBackbone, is_clip_folder
    from agiqa.model.clip.head import ClipAgiqaHead, ClipHeadConfig
    from agiqa.training.clip_trainer import (
        ClipTrainSettings,
        cached_image_features,
        cached_prompt_features,
        train_clip_head,
    )
    from agiqa.training.rows import decoded_rows, training_subset

    logging.getLogger("transformers").setLevel(logging.ERROR)
    if not is_clip_folder(args.model):
        raise UserError(f"--model {args.model}: not a CLIP folder (config.json with model_type 'clip')")
    for flag in ("adapters", "init_heads", "cache"):
        if getattr(args, flag):
            raise UserError(f"--{flag.replace('_', '-')} does not apply to --method clip-agiqa")
    try:
        aspects = check_aspects([a.strip() for a in args.aspects.split(",") if a.strip()])
    except ValueError as e:
        raise UserError(str(e)) from None
    settings = ClipTrainSettings(epochs=args.epochs or 100, lr=args.lr or 0.002, batch_size=args.batch_size or 32,
                                 seed=args.seed)
    good = decoded_rows(args.data, [f"{a}_mos" for a in aspects])
    good, train_idx, val_idx = training_subset(good, args.val_fraction, args.seed)
    backbone = ClipBackbone(args.model)
    image_feats = cached_image_features(backbone, [im for _, im in good])  # once, shared by every aspect
    prompt_feats = None
    for k, aspect in enumerate(aspects):
        torch.manual_seed(args.seed * 100 + k)  # the head's initial weights: reproducible runs
        use_prompt = aspect == "correspondence" and not args.image_only
        if use_prompt and prompt_feats is None:
            limits = ImageLimits()
            prompts = []
            for r, _ in good:
                try:
                    prompts.append(clean_prompt(r.get("prompt"), limits))  # what scoring feeds the head
                except BadRow:
                    prompts.append("")
            prompt_feats = cached_prompt_features(backbone, prompts)
        pf = prompt_feats if use_prompt else None
        cfg = ClipHeadConfig(feature_dim=backbone.feature_dim, text_width=backbone.text_width, aspect=aspect,
                             use_prompt=use_prompt)
        head = ClipAgiqaHead(cfg, backbone)
        y = [float(r[f"{aspect}_mos"]) for r, _ in good]
        tr, va = train_idx, val_idx
        hist = train_clip_head(head, backbone, image_feats[tr], [y[i] for i in tr], None if pf is None else pf[tr],
                               settings, val=(image_feats[va], [y[i] for i in va], None if pf is None else pf[va])
                               if va else None)
        head.config.trained = True
        head.config.notes = {"trained_on": str(args.data), "epochs": settings.epochs, "lr": settings.lr,
                             "best_epoch": hist["best_epoch"], "val_srcc": hist["val_srcc"][-1:],
                             "clip": str(args.model)}
        head.save(Path(args.output) / aspect)
        best = max((v for v in hist["val_srcc"] if v == v), default=float("nan"))
        print(f"{aspect}: loss {hist['loss'][0]:.3f} -> {hist['loss'][-1]:.3f}; best val SRCC {best:.3f} "
              f"(epoch {hist['best_epoch']}); wrote {Path(args.output) / aspect}")
    return 0
