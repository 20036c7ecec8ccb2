"""The `agiqa` command line: a thin dispatcher over `agiqa.commands.<name>` modules."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from agiqa.errors import AgiqaError

#: subcommand -> (module under agiqa.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "score": ("score", "Score Parquet shards of image-prompt pairs (local folder or s3://)."),
    "ingest": ("ingest", "Images + CSV/JSONL/Parquet table, WebDataset/img2dataset tars or Hugging Face Parquet -> agiqa shards."),
    "make-tiny-model": ("make_tiny_model", "Build a tiny random-weight Qwen2-VL with per-aspect LoRA adapters and M3 heads."),
    "make-demo-data": ("make_demo_data", "Write procedural image-prompt shards whose true MOS is known."),
    "merge-adapter": ("merge_adapter", "Merge a LoRA adapter into its base model (for vLLM)."),
    "import-reference-head": ("import_reference_head", "Import an M3-AGIQA Lightning head checkpoint, folding W with the base model's LM head."),
    "prepare-data": ("prepare_data", "Convert AGIQA-3K / AIGCIQA2023 / AIGIQA-20K / reference records / Parquet into split shards."),
    "finetune": ("finetune", "Distil the describer: LoRA on two-round teacher conversations, one adapter per aspect."),
    "train-head": ("train_head", "Train one M3 head per aspect on MOS labels (features cached once, epochs from the cache)."),
    "filter": ("filter", "Split scored shards into keep/drop sets by rules (thresholds, global top fractions)."),
    "audit": ("audit", "Report on scored outputs per group: distributions, intervals, errors, best/worst examples (HTML)."),
    "eval": ("eval", "SRCC/PLCC/KRCC/RMSE per aspect for a scored output or a held-out split."),
    "summary": ("summary", "Merge the per-rank summaries of a job run as N drivers (--rank/--world-size) into one."),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default: argparse's "(default: X)" unless the help already
    names one or says the option is required (many defaults are "from --config, else the method's",
    which X=None would not say)."""

    def _get_help_string(self, action):
        help_ = action.help or ""
        named = "default" in help_.lower() or "required" in help_.lower() or action.required
        if named or action.default is argparse.SUPPRESS or not action.option_strings:
            return help_
        if action.default is None:
            return help_ + " (default: not set)"
        return help_ + " (default: %(default)s)"


def _load(name: str):
    module, _ = COMMANDS[name]
    return importlib.import_module(f"agiqa.commands.{module}")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser, with the arguments of only the subcommand named in `argv` (the others' modules stay
    unimported: `agiqa eval` must not pay for torch). `build_parser([name])` gives one command's parser."""
    from agiqa import __version__

    parser = argparse.ArgumentParser(prog="agiqa", description="Score AI-generated images at scale (M3-AGIQA).",
                                     formatter_class=HelpFormatter, allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"agiqa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen in COMMANDS:
        _import_user_modules(argv)
    for name, (_, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_, formatter_class=HelpFormatter, allow_abbrev=False)
        if name == chosen:  # import only the module that runs
            _load(name).add_arguments(p)
            parser.chosen = p
    return parser


def _import_user_modules(argv: list[str]) -> None:
    """Import the modules named by `--import MODULE` before the subcommand's arguments are added, so the
    methods they register bring their flags and names into the parser and its help."""
    from agiqa.methods.registry import import_method_modules

    modules = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--import"]
    import_method_modules(modules + [a.partition("=")[2] for a in argv if a.startswith("--import=")], "--import")


def refuse_unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Name an unknown `--option` of the chosen command before argparse parses: with `allow_abbrev=False`
    argparse reports a required option missing first (`agiqa eval --scor x`: "required: --scored"),
    which hides the typo. Tokens after `--` are values, never options."""
    import difflib

    sub = getattr(parser, "chosen", None)
    if sub is None:
        return
    known = [o for o in sub._option_string_actions if o.startswith("--")]
    for token in argv[argv.index(sub.prog.split()[-1]) + 1:]:
        if token == "--":
            return
        if not token.startswith("--"):
            continue
        flag = token.split("=", 1)[0]
        if flag not in known:
            near = difflib.get_close_matches(flag, known, n=1, cutoff=0.6) or [o for o in known if o.startswith(flag)]
            sub.error(f"unknown option {flag}" + (f" (did you mean {near[0]}?)" if near else ""))


def main(argv: list[str] | None = None) -> int:
    from agiqa import signals
    from agiqa.quiet import quiet_libraries

    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_libraries()  # before any library is imported
    try:
        parser = build_parser(argv)
    except AgiqaError as e:  # an `--import` that cannot be imported
        print(f"agiqa: error: {e}", file=sys.stderr)
        return 2
    refuse_unknown_options(parser, argv)
    args = parser.parse_args(argv)
    if args.command is None:
        build_parser([]).print_help()
        return 2
    try:
        with signals.handled():
            return int(_load(args.command).run(args) or 0)
    except signals.JobInterrupted as e:
        print(f"agiqa {args.command}: {e.line()}", file=sys.stderr, flush=True)
        return signals.exit_code(e)
    except KeyboardInterrupt as e:
        name = signal.Signals(signals.signum_of(e)).name
        print(f"agiqa {args.command}: interrupted by {name}", file=sys.stderr, flush=True)
        return signals.exit_code(e)
    except AgiqaError as e:
        print(f"agiqa {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
