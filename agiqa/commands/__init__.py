"""One module per `agiqa` subcommand, each with `add_arguments(parser)` and `run(args) -> int` (its one-line
help lives in `agiqa.cli.COMMANDS`, the one place it is kept).

Modules are imported only when their subcommand runs, so `agiqa --help` stays fast.
"""


def aspects_and_prompts(aspects: str, prompt_set: str):
    """The `--aspects a,b` list checked and the prompt set looked up, or a UserError naming the bad one."""
    from agiqa.aspects import check_aspects
    from agiqa.errors import UserError
    from agiqa.model.prompts import get_prompt_set

    try:
        return check_aspects([a.strip() for a in aspects.split(",") if a.strip()]), get_prompt_set(prompt_set)
    except ValueError as e:
        raise UserError(str(e)) from None
