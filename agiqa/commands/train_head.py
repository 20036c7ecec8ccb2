"""`agiqa train-head`: one M3 head per aspect on MOS labels, from cached MLLM features.

Training descriptions come from the teacher (`<aspect>_teacher` column), as in the reference;
scoring later uses the adapted model's own descriptions. Input: Parquet shards with `image`,
`prompt`, `<aspect>_mos` and `<aspect>_teacher` (e.g. from `agiqa make-demo-data`).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="Folder of Parquet shards with image, prompt, <aspect>_mos, "
                                                 "<aspect>_teacher.")
    p.add_argument("--model", required=True, help="Model folder (adapters in MODEL/adapters unless --adapters).")
    p.add_argument("--adapters", help="Per-aspect adapters folder.")
    p.add_argument("--init-heads", help="Heads whose config (and weights) to start from (default MODEL/heads).")
    p.add_argument("--output", required=True, help="Folder to write <aspect>/ heads to.")
    p.add_argument("--aspects", default="quality,correspondence,authenticity")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--prompt-set", default="m3agiqa")
    p.add_argument("--cache", help="Feature cache folder (default OUTPUT/.feature-cache).")
    p.add_argument("--no-description", action="store_true",
                   help="Empty assistant turn (round 1 skipped): the ablation; score with --no-describe.")


def run(args) -> int:
    import logging
    from pathlib import Path

    from agiqa.commands import aspects_and_prompts
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.errors import UserError
    from agiqa.model.head import M3Head
    from agiqa.training.features import cache_key, cached_features, compute_features
    from agiqa.training.head_trainer import train_head
    from agiqa.training.rows import decoded_rows, training_subset

    logging.getLogger("transformers").setLevel(logging.ERROR)
    aspects, prompts = aspects_and_prompts(args.aspects, args.prompt_set)
    need = [f"{a}_mos" for a in aspects] + ([] if args.no_description else [f"{a}_teacher" for a in aspects])
    good = decoded_rows(args.data, need)
    ecfg = EngineConfig(model=args.model, adapters=args.adapters, max_length=args.max_length,
                        batch_size=args.batch_size)
    engine = HFEngine(ecfg, aspects)
    init = Path(args.init_heads or Path(args.model) / "heads")
    cache = args.cache or str(Path(args.output) / ".feature-cache")
    good, train_idx, val_idx = training_subset(good, args.val_fraction, args.seed)
    for aspect in aspects:
        ids = [str(r.get("id", i)) for i, (r, _) in enumerate(good)]
        descs = ["" if args.no_description else r[f"{aspect}_teacher"] or "" for r, _ in good]
        key = cache_key(str(args.model), str(engine.adapters.get(aspect)), aspect, args.prompt_set,
                        args.max_length, ids, descs)
        feats, hit = cached_features(cache, key, lambda a=aspect, d=descs: compute_features(
            engine, prompts, a, [im for _, im in good], [r["prompt"] for r, _ in good], d, args.batch_size))
        y = [float(r[f"{aspect}_mos"]) for r, _ in good]
        head = M3Head.load(init / aspect) if (init / aspect / "head_config.json").is_file() else None
        if head is None:
            raise UserError(f"no head config to start from at {init / aspect} (give --init-heads)")
        head.config.aspect = aspect
        hist = train_head(head, [feats[i] for i in train_idx], [y[i] for i in train_idx], epochs=args.epochs,
                          lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                          val=([feats[i] for i in val_idx], [y[i] for i in val_idx]) if val_idx else None)
        head.config.notes = {**head.config.notes, "trained_on": str(args.data), "epochs": args.epochs,
                             "best_epoch": hist["best_epoch"], "val_srcc": hist["val_srcc"][-1:],
                             "descriptions": "none (round 1 skipped)" if args.no_description else "teacher"}
        head.save(Path(args.output) / aspect)
        best = max((s for s in hist["val_srcc"] if s == s), default=float("nan"))
        print(f"{aspect}: features {'from cache' if hit else 'computed'}; loss {hist['loss'][0]:.3f} -> "
              f"{hist['loss'][-1]:.3f}; best val SRCC {best:.3f} (epoch {hist['best_epoch']}); "
              f"wrote {Path(args.output) / aspect}")
    return 0
