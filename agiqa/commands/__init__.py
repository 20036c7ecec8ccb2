"""One module per `agiqa` subcommand. Each defines `HELP`, `add_arguments(parser)` and `run(args) -> int`.

Modules are imported only when their subcommand runs, so `agiqa --help` stays fast.
"""
