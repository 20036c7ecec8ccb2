"""`agiqa score`: score Parquet shards from a folder or s3:// prefix and write scored shards.

Flags override the YAML given with `--config`; the merged tree is validated once (unknown keys
refused) before anything starts. By default the job runs on Ray (a local Ray when no address is
given); `--runner local` runs it in this process.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--config", help="YAML job config (see jobs/score.example.yaml); flags override it (default: none, flags only).")
    p.add_argument("--input", help="Input root: folder or s3://bucket/prefix of *.parquet shards (required, here or in --config).")
    p.add_argument("--output", help="Output root for scored shards, same relative names (required, here or in --config).")
    p.add_argument("--aspects", help="Comma-separated: quality,correspondence,authenticity (default: all).")
    from agiqa.commands.method_flags import add_import_argument, add_method_flags, method_choice_help

    p.add_argument("--method", help=f"Scoring method: {method_choice_help()}.")
    add_import_argument(p)
    add_method_flags(p.add_argument_group("method settings (each applies to the methods it names)"))
    p.add_argument("--id-column", help="Row id column (default id).")
    p.add_argument("--image-column", help="Encoded image bytes column (default image).")
    p.add_argument("--prompt-column", help="Generation prompt column (default prompt).")
    p.add_argument("--runner", choices=["ray", "ray-data", "local"],
                   help="ray (default: agiqa's actor pool), ray-data (a Ray Data actor pool) or local (one process).")
    p.add_argument("--address", help="Ray cluster address (default RAY_ADDRESS, else a local Ray).")
    p.add_argument("--num-actors", type=int, help="Scorer actors (default: one per GPU, 1 without GPUs).")
    p.add_argument("--overwrite", action="store_true", default=None, help="Redo already committed shards (default: skip them).")
    p.add_argument("--no-progress", action="store_true", help="No progress bar (log lines instead).")
    from agiqa.commands.ranks import add_rank_arguments

    add_rank_arguments(p)
    g = p.add_argument_group("cascade (a cheap scorer in front of the main method)")
    g.add_argument("--prefilter", metavar="METHOD", help="Cheap method scoring every row first (clip-agiqa; default: no prefilter).")
    g.add_argument("--prefilter-model", help="The cheap method's model folder (a CLIP folder for clip-agiqa; required with --prefilter).")
    g.add_argument("--prefilter-heads", help="The cheap method's heads (default PREFILTER_MODEL/heads).")
    g.add_argument("--prefilter-threshold", action="append", metavar="ASPECT=VALUE",
                   help="Rows whose cheap ASPECT score is below VALUE stop there (status prefiltered). Repeatable (default: none).")
    g.add_argument("--prefilter-top-fraction", action="append", metavar="ASPECT=FRACTION",
                   help="Only the best FRACTION of the whole input by cheap ASPECT score goes on (global, not "
                        "per shard; ties by ascending id). Repeatable; rules combine with AND (default: none).")


def overrides_from_args(args) -> dict:
    """CLI flags as a nested dict in ScoreJobConfig's shape (None = not given), the method's left out
    (they depend on which method: see `method_overrides`)."""
    from agiqa.commands.ranks import rank_overrides

    return {
        "input": args.input,
        "output": args.output,
        "aspects": [a.strip() for a in args.aspects.split(",") if a.strip()] if args.aspects else None,
        "overwrite": args.overwrite,
        "progress": False if args.no_progress else None,
        "columns": {"id": args.id_column, "image": args.image_column, "prompt": args.prompt_column},
        "runner": {"kind": args.runner, "address": args.address, **rank_overrides(args)},
        "resources": {"score": {"num_actors": args.num_actors}},
    }


def load_job_config(args):
    """Validated ScoreJobConfig from --config and flags, or a ConfigError that says what is wrong."""
    from agiqa.commands.method_flags import method_flags, method_overrides
    from agiqa.config import load_score_config
    from agiqa.config.base import deep_merge, read_yaml
    from agiqa.methods.registry import DEFAULT_METHOD, import_method_modules
    from agiqa.schema import config_errors

    data = deep_merge(read_yaml(args.config), _given(overrides_from_args(args)))  # old spellings: see config.legacy
    if getattr(args, "imports", None):
        data["imports"] = [*(data.get("imports") or []), *args.imports]
    import_method_modules(data.get("imports"), "imports")  # a YAML's own methods, before their flags are mapped
    method = data.get("method") if isinstance(data.get("method"), dict) else {}
    name = args.method or method.get("name") or DEFAULT_METHOD
    data["method"] = deep_merge(method, method_overrides(name, method_flags(args)))
    data = _with_prefilter(data, args)
    with config_errors():
        return load_score_config(None, data)


def _with_prefilter(data: dict, args) -> dict:
    """`--prefilter*` flags merged into the config's `prefilter:` section."""
    from agiqa.commands.method_flags import method_overrides
    from agiqa.config.base import deep_merge
    from agiqa.errors import ConfigError

    rules = {"thresholds": _pairs(getattr(args, "prefilter_threshold", None), "--prefilter-threshold"),
             "top_fraction": _pairs(getattr(args, "prefilter_top_fraction", None), "--prefilter-top-fraction")}
    flags = {"model": getattr(args, "prefilter_model", None), "heads": getattr(args, "prefilter_heads", None)}
    flags = {k: v for k, v in flags.items() if v is not None}
    given = {k: v for k, v in rules.items() if v}
    section = data.get("prefilter") if isinstance(data.get("prefilter"), dict) else None
    name = getattr(args, "prefilter", None)
    if section is None and name is None:
        if given or flags:
            raise ConfigError("--prefilter-* options need --prefilter METHOD (e.g. --prefilter clip-agiqa)")
        return data
    section = dict(section or {})
    method = section.get("method") if isinstance(section.get("method"), dict) else {}
    name = name or method.get("name") or section.get("method")
    if not isinstance(name, str):
        raise ConfigError("prefilter.method needs a name (e.g. clip-agiqa)")
    section["method"] = deep_merge(method, method_overrides(name, flags))
    return {**data, "prefilter": deep_merge(section, given)}


def _pairs(items: list[str] | None, flag: str) -> dict[str, float]:
    from agiqa.errors import ConfigError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: expected ASPECT=NUMBER, e.g. quality=2.5") from None
    return out


def _given(flags: dict) -> dict:
    """Only the flags given: None values and sections left empty are dropped."""
    out = {}
    for k, v in flags.items():
        if isinstance(v, dict):
            v = _given(v)
        if v is not None and v != {}:
            out[k] = v
    return out


def run(args) -> int:
    import logging

    from agiqa.api import score

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("transformers", "httpx", "urllib3", "botocore", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    summary = score(load_job_config(args))
    print(summary.table(), flush=True)
    return 1 if summary.shards_failed or summary.all_rows_failed else 0
