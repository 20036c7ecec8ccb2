"""One module per `agiqa` subcommand, each with `add_arguments(parser)` and `run(args) -> int` (its one-line
help lives in `agiqa.cli.COMMANDS`, the one place it is kept).

Modules are imported only when their subcommand runs, so `agiqa --help` stays fast.
"""
