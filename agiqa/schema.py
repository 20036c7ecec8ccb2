"""The pydantic base of every configuration model (unknown keys refused, assignments validated), and
the one way a failed validation reaches the user: a one-line `ConfigError` naming each field.

A leaf module (imports only `agiqa.errors`, itself a leaf) so that storage, engines, methods and the
job configs can all share it without importing one another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict, ValidationError

from agiqa.errors import ConfigError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def validation_error(e: ValidationError, what: str = "configuration") -> ConfigError:
    """`invalid WHAT: field.path: message; ...`: every error of `e` on one line, by its dotted field path."""
    lines = [f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in e.errors()]
    return ConfigError(f"invalid {what}: " + "; ".join(lines))


@contextmanager
def config_errors(what: str = "configuration") -> Iterator[None]:
    """Validation failing inside the block is raised as `validation_error(..., what)` (no traceback)."""
    try:
        yield
    except ValidationError as e:
        raise validation_error(e, what) from None


def validated(cls: type[BaseModel], data, what: str = "configuration"):
    """`cls.model_validate(data)`, a failure raised as one line (`validation_error`); a model passes as is."""
    if isinstance(data, cls):
        return data
    with config_errors(what):
        return cls.model_validate(data)
