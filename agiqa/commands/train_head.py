"""`agiqa train-head`: one head per aspect on MOS labels, from cached features of a frozen model.

`--method m3-agiqa` (default): M3 heads over the MLLM's per-token states.
`--method clip-agiqa`: CLIP-AGIQA heads (prompt learner + regressor) over a frozen CLIP folder given
as `--model`; the paper's SGD/cosine recipe by default (agiqa/training/clip_trainer.py); the
correspondence head reads the prompt (`use_prompt`), the others only the image.

Training rows' descriptions come from the teacher (`<aspect>_teacher` column), as in the reference;
validation rows' (which pick the best epoch) are the adapter's own, generated here or given in a
column (the reference's `response_0`), never the teacher's: the teacher saw the MOS, and scoring
feeds the head the adapter's descriptions. Input: Parquet shards with `image`,
`prompt`, `<aspect>_mos` and `<aspect>_teacher` (e.g. from `agiqa make-demo-data`).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--method", choices=["m3-agiqa", "clip-agiqa"], default="m3-agiqa",
                   help="Which heads: M3-AGIQA's (over the MLLM) or CLIP-AGIQA's (over a CLIP folder).")
    p.add_argument("--data", required=True, help="Folder of Parquet shards with image, prompt, <aspect>_mos, "
                                                 "<aspect>_teacher.")
    p.add_argument("--model", required=True, help="Model folder (adapters in MODEL/adapters unless --adapters).")
    p.add_argument("--adapters", help="Per-aspect adapters folder.")
    p.add_argument("--init-heads", help="Heads whose config (and weights) to start from (default MODEL/heads when it "
                                        "exists, else fresh heads sized from MODEL's config).")
    p.add_argument("--head-dim", type=int, default=512,
                   help="Width of fresh heads (the reference's 512); heads loaded from --init-heads keep theirs.")
    p.add_argument("--output", required=True, help="Folder to write <aspect>/ heads to.")
    p.add_argument("--aspects", default="quality,correspondence,authenticity")
    p.add_argument("--epochs", type=int, help="Default 10 (m3-agiqa), 100 (clip-agiqa, the paper's).")
    p.add_argument("--lr", type=float, help="Default 1e-3 (m3-agiqa, AdamW), 0.002 (clip-agiqa, SGD + cosine).")
    p.add_argument("--batch-size", type=int, help="Default 8 (m3-agiqa), 32 (clip-agiqa).")
    p.add_argument("--image-only", action="store_true",
                   help="clip-agiqa: the paper's image-only head for every aspect (correspondence too).")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-length", type=int, default=512)
    from agiqa.training.rows import image_limits_args

    image_limits_args(p)
    p.add_argument("--max-new-tokens", type=int, default=128,
                   help="Round-1 description length cap, as `agiqa score --max-new-tokens` (validation descriptions "
                        "are generated with it; long prompts are cut to leave it room, as scoring cuts them).")
    p.add_argument("--repetition-penalty", type=float,
                   help="Decoding of the validation descriptions, as `agiqa score --repetition-penalty` (default: the "
                        "model family's).")
    p.add_argument("--val-descriptions", choices=["auto", "generate", "column"], default="auto",
                   help="What the validation rows' assistant turn holds when the best epoch is picked: the adapter's "
                        "own descriptions, generated now (generate) or given in --val-column (column; the reference's "
                        "response_0); auto = the column when every validation row has one, else generate. Never the "
                        "teacher's (it saw the MOS).")
    p.add_argument("--val-column", default="{aspect}_response",
                   help="Column of the adapter's own descriptions for --val-descriptions column/auto "
                        "(prepare-data --format records keeps response_0 as <aspect>_response).")
    p.add_argument("--prompt-set", default="m3agiqa")
    p.add_argument("--cache", help="Feature cache folder (default OUTPUT/.feature-cache).")
    p.add_argument("--no-description", action="store_true",
                   help="Empty assistant turn (round 1 skipped): the ablation; score with --no-describe.")


def run(args) -> int:
    from agiqa.extras import require_command

    require_command("train-head")
    if args.method == "clip-agiqa":
        return run_clip(args)
    args.epochs = 10 if args.epochs is None else args.epochs
    args.lr = 1e-3 if args.lr is None else args.lr
    args.batch_size = 8 if args.batch_size is None else args.batch_size
    return run_m3(args)


def run_clip(args) -> int:
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


def run_m3(args) -> int:
    import logging
    import time
    from pathlib import Path

    from agiqa.commands import aspects_and_prompts
    from agiqa.engines.config import EngineConfig, decoding
    from agiqa.engines.hf import HFEngine
    from agiqa.errors import UserError
    from agiqa.model.weights_files import refuse_pickled
    from agiqa.training.features import cache_key, cached_features, compute_features
    from agiqa.training.head_trainer import train_head
    from agiqa.training.inputs import training_conversations
    from agiqa.training.rows import decoded_rows, image_limits, training_subset

    logging.getLogger("transformers").setLevel(logging.ERROR)
    aspects, prompts = aspects_and_prompts(args.aspects, args.prompt_set)
    need = [f"{a}_mos" for a in aspects] + ([] if args.no_description else [f"{a}_teacher" for a in aspects])
    if not (Path(args.model) / "config.json").is_file():
        raise UserError(f"--model {args.model}: no model there (config.json missing)")
    refuse_pickled(args.model, "--model")
    init = Path(args.init_heads or Path(args.model) / "heads")
    missing = [a for a in aspects if not (init / a / "head_config.json").is_file()]
    if args.init_heads and missing:
        raise UserError(f"--init-heads {init}: no head_config.json for {missing} (leave --init-heads out to start "
                        "fresh heads sized from the base)")
    good = decoded_rows(args.data, need, limits=image_limits(args))
    good, train_idx, val_idx = training_subset(good, args.val_fraction, args.seed)
    val_source = {} if args.no_description else {a: val_description_source(args, a, [good[i][0] for i in val_idx])
                                                 for a in aspects}
    ecfg = EngineConfig(model=args.model, adapters=args.adapters, max_length=args.max_length,
                        batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                        repetition_penalty=args.repetition_penalty)
    engine = HFEngine(ecfg, aspects)
    cache = args.cache or str(Path(args.output) / ".feature-cache")
    for k, aspect in enumerate(aspects):
        t0 = time.perf_counter()
        ids = [str(r.get("id", i)) for i, (r, _) in enumerate(good)]
        convs = training_conversations(good, aspect, prompts, engine.conversation, args.max_new_tokens,
                                       args.max_length)
        # train rows: the teacher's descriptions (as the reference); val rows: the adapter's own, never the
        # teacher's, so the epoch is picked on what scoring will feed the head
        descs = ["" if args.no_description else r[f"{aspect}_teacher"] or "" for r, _ in good]
        if not args.no_description and val_idx:
            for i, d in zip(val_idx, val_descriptions(engine, val_source[aspect], [good[i][0] for i in val_idx],
                                                      [convs[i] for i in val_idx]), strict=True):
                descs[i] = d
        t_val = time.perf_counter()
        key = cache_key(str(args.model), str(engine.adapters.get(aspect)), aspect, args.prompt_set,
                        args.max_length, ids, descs, [c.first_turn for c in convs])
        feats, hit = cached_features(cache, key, lambda c=convs, d=descs: compute_features(
            engine, c, d, args.batch_size))
        t_feats = time.perf_counter()
        y = [float(r[f"{aspect}_mos"]) for r, _ in good]
        head = initial_head(args, init, aspect, k)
        head.config.aspect = aspect
        hist = train_head(head, [feats[i] for i in train_idx], [y[i] for i in train_idx], epochs=args.epochs,
                          lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                          val=([feats[i] for i in val_idx], [y[i] for i in val_idx]) if val_idx else None)
        head.config.notes = {**head.config.notes, "trained_on": str(args.data), "epochs": args.epochs,
                             "best_epoch": hist["best_epoch"], "val_srcc": hist["val_srcc"][-1:],
                             "val_srcc_by_epoch": hist["val_srcc"], "val_mse_by_epoch": hist["val_mse"],
                             "descriptions": "none (round 1 skipped)" if args.no_description else
                             {"train": "teacher", "val": val_source[aspect] if val_idx else "no validation rows"},
                             "decoding": vars(decoding(ecfg))}
        head.save(Path(args.output) / aspect)
        best = max((s for s in hist["val_srcc"] if s == s), default=float("nan"))
        print(f"{aspect}: features {'from cache' if hit else 'computed'}; loss {hist['loss'][0]:.3f} -> "
              f"{hist['loss'][-1]:.3f}; best val SRCC {best:.3f} (epoch {hist['best_epoch']}; val descriptions: "
              f"{'none' if args.no_description else val_source[aspect]}); "
              f"{t_val - t0:.0f} s val descriptions, {t_feats - t_val:.0f} s features, "
              f"{time.perf_counter() - t_feats:.0f} s head; wrote {Path(args.output) / aspect}", flush=True)
    return 0


def initial_head(args, init, aspect: str, k: int):
    """The head to train: `init/<aspect>` when it exists, else a fresh one sized from the base's config."""
    from agiqa.model.fresh_head import fresh_head
    from agiqa.model.head import M3Head

    if (init / aspect / "head_config.json").is_file():
        return M3Head.load(init / aspect)
    return fresh_head(args.model, aspect, embedding_dim=args.head_dim, context_length=args.max_length,
                      seed=args.seed * 100 + k)


def val_description_source(args, aspect: str, val_rows: list[dict]) -> str:
    """'generated by the adapter' or 'column NAME', refused up front when a required column is missing."""
    from agiqa.errors import UserError

    column = args.val_column.format(aspect=aspect)
    have = bool(val_rows) and all(isinstance(r.get(column), str) and r[column].strip() for r in val_rows)
    if args.val_descriptions == "column" and not have:
        raise UserError(f"--val-descriptions column: {column!r} is missing or empty in some validation rows")
    if args.val_descriptions == "generate" or not have:
        return "generated by the adapter"
    return f"column {column}"


def val_descriptions(engine, source: str, rows: list[dict], convs: list) -> list[str]:
    """The validation rows' descriptions from `source`: the given column, or the adapter's greedy round 1
    (the engine's decoding, as `agiqa score` runs it)."""
    from agiqa.engines.base import DescribeRequest

    if source.startswith("column "):
        return [r[source.removeprefix("column ")].strip() for r in rows]
    return engine.describe([DescribeRequest(c.aspect, c.image, c.first_turn) for c in convs])
