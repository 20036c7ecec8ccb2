"""`agiqa train-head --method m3-agiqa`: M3 heads over the MLLM's per-token states, from cached features.

The method's training entry (`M3Config.train_entry`), run by the command with its parsed arguments.
Training rows' descriptions come from the teacher (`<aspect>_teacher`), validation rows' (which pick
the best epoch) are the adapter's own, generated here or given in a column, never the teacher's.
"""

from __future__ import annotations


def run(args) -> int:
    args.epochs = 10 if args.epochs is None else args.epochs
    args.lr = 1e-3 if args.lr is None else args.lr
    args.batch_size = 8 if args.batch_size is None else args.batch_size
    return _run(args)


def _run(args) -> int:
    import logging
    import time
    from pathlib import Path

    from agiqa.engines.config import EngineConfig, decoding
    from agiqa.engines.hf import HFEngine
    from agiqa.errors import UserError
    from agiqa.model.prompts import aspects_and_prompts
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
    """The validation rows' descriptions from `source`: the given column, or the adapter's round 1
    (the engine's decoding, as `agiqa score` runs it)."""
    from agiqa.engines.base import DescribeRequest

    if source.startswith("column "):
        return [r[source.removeprefix("column ")].strip() for r in rows]
    return engine.describe([DescribeRequest(c.aspect, c.image, c.first_turn) for c in convs])
