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
    p.add_argument("--method", help="Scoring method: m3-agiqa (default) or clip-agiqa (the cheap scorer).")
    p.add_argument("--engine", choices=["hf", "vllm"], help="Engine (default hf).")
    p.add_argument("--model", help="Model folder: the MLLM for m3-agiqa, the CLIP for clip-agiqa (e.g. from "
                                   "`agiqa make-tiny-model [--method clip-agiqa]`; required, here or in --config).")
    p.add_argument("--adapters", help="Folder of per-aspect LoRA adapters (default MODEL/adapters).")
    p.add_argument("--heads", help="Folder of per-aspect heads (default MODEL/heads).")
    p.add_argument("--prompt-set", help="Prompt templates (m3agiqa, m3agiqa-agiqa3k, m3agiqa-e2e; default m3agiqa).")
    p.add_argument("--batch-size", type=int, help="Rows per engine batch (default 8 for m3-agiqa, 256 for clip-agiqa).")
    p.add_argument("--max-new-tokens", type=int, help="Round-1 description length cap (default: the model family's).")
    p.add_argument("--repetition-penalty", type=float, help="Round-1 repetition penalty (default: the model family's, "
                                                           "1.0 for Qwen2-VL; never the checkpoint's generation_config).")
    p.add_argument("--max-length", type=int, help="Scoring-pass token cap (default 512).")
    p.add_argument("--no-describe", action="store_true", help="Skip round 1 (empty description; ablation).")
    p.add_argument("--descriptions-from", metavar="COLUMN",
                   help="Skip round 1 and score the descriptions in COLUMN (e.g. the reference records' response_0; "
                        "'{aspect}' in the name picks one column per aspect): the paper's evaluation protocol (default: describe).")
    p.add_argument("--device", help="auto, cpu or cuda[:N] (default auto: cuda when there is one).")
    p.add_argument("--id-column", help="Row id column (default id).")
    p.add_argument("--image-column", help="Encoded image bytes column (default image).")
    p.add_argument("--prompt-column", help="Generation prompt column (default prompt).")
    p.add_argument("--runner", choices=["ray", "ray-data", "local"],
                   help="ray (default: agiqa's actor pool), ray-data (a Ray Data actor pool) or local (one process).")
    p.add_argument("--address", help="Ray cluster address (default RAY_ADDRESS, else a local Ray).")
    p.add_argument("--num-actors", type=int, help="Scorer actors (default: one per GPU, 1 without GPUs).")
    p.add_argument("--overwrite", action="store_true", default=None, help="Redo already committed shards (default: skip them).")
    p.add_argument("--no-progress", action="store_true", help="No progress bar (log lines instead).")
    g = p.add_argument_group("cascade (a cheap scorer in front of the main method)")
    g.add_argument("--prefilter", metavar="METHOD", help="Cheap method scoring every row first (clip-agiqa; default: no prefilter).")
    g.add_argument("--prefilter-model", help="The cheap method's model folder (a CLIP folder for clip-agiqa; required with --prefilter).")
    g.add_argument("--prefilter-heads", help="The cheap method's heads (default PREFILTER_MODEL/heads).")
    g.add_argument("--prefilter-threshold", action="append", metavar="ASPECT=VALUE",
                   help="Rows whose cheap ASPECT score is below VALUE stop there (status prefiltered). Repeatable (default: none).")
    g.add_argument("--prefilter-top-fraction", action="append", metavar="ASPECT=FRACTION",
                   help="Only the best FRACTION of the whole input by cheap ASPECT score goes on (global, not "
                        "per shard; ties by ascending id). Repeatable; rules combine with AND (default: none).")


#: Flags that set the method's fields (mapped through the chosen method's `cli_flags`).
METHOD_FLAGS = ("engine", "model", "adapters", "heads", "prompt_set", "batch_size", "max_new_tokens",
                "repetition_penalty", "max_length", "device", "describe", "descriptions_from")


def method_flags(args) -> dict:
    """The method flags given, by argparse dest (None = not given)."""
    given = {f: getattr(args, f, None) for f in METHOD_FLAGS if f != "describe"}
    given["describe"] = False if getattr(args, "no_describe", False) else None
    return {k: v for k, v in given.items() if v is not None}


def method_overrides(name: str, flags: dict) -> dict:
    """Method flags as a nested dict in method `name`'s config shape; a flag it does not take is refused."""
    from agiqa.errors import ConfigError
    from agiqa.methods.registry import method_config_class

    mapping = method_config_class(name).cli_flags
    out: dict = {"name": name}
    for flag, value in flags.items():
        if flag not in mapping:
            spelled = "--no-describe" if flag == "describe" else "--" + flag.replace("_", "-")
            raise ConfigError(f"{spelled} does not apply to method {name!r} (it takes: "
                              f"{', '.join('--' + f.replace('_', '-') for f in mapping) or 'none'})")
        node = out
        *parents, leaf = mapping[flag].split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def overrides_from_args(args) -> dict:
    """CLI flags as a nested dict in ScoreJobConfig's shape (None = not given), the method's left out
    (they depend on which method: see `method_overrides`)."""
    return {
        "input": args.input,
        "output": args.output,
        "aspects": [a.strip() for a in args.aspects.split(",") if a.strip()] if args.aspects else None,
        "overwrite": args.overwrite,
        "progress": False if args.no_progress else None,
        "columns": {"id": args.id_column, "image": args.image_column, "prompt": args.prompt_column},
        "runner": {"kind": args.runner, "address": args.address},
        "resources": {"score": {"num_actors": args.num_actors}},
    }


def load_job_config(args):
    """Validated ScoreJobConfig from --config and flags, or a ConfigError that says what is wrong."""
    from pydantic import ValidationError

    from agiqa.config import load_score_config
    from agiqa.config.base import deep_merge, read_yaml
    from agiqa.config.legacy import upgrade_score_config
    from agiqa.errors import ConfigError

    data = deep_merge(upgrade_score_config(read_yaml(args.config)), _given(overrides_from_args(args)))
    method = data.get("method") if isinstance(data.get("method"), dict) else {}
    name = args.method or method.get("name") or "m3-agiqa"  # M3-AGIQA is the default method
    data["method"] = deep_merge(method, method_overrides(name, method_flags(args)))
    data = _with_prefilter(data, args)
    try:
        return load_score_config(None, data)
    except ValidationError as e:
        lines = [f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in e.errors()]
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from None


def _with_prefilter(data: dict, args) -> dict:
    """`--prefilter*` flags merged into the config's `prefilter:` section."""
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
