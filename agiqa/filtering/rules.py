"""Filter rules, parsed from the text a user writes, each with a canonical spelling.

    quality_score >= 3                a column, a comparison (>=, >, <=, <, ==, !=), a number
    top_fraction quality_score=0.2    the best 20% of the whole dataset on that column (higher is better)

`--keep "quality_score >= 3"` and `--top-fraction quality_score=0.2` on the command line are the
same rules. Rules combine with AND, in the order given; a dropped row's `reason` is the canonical
text of the first rule it failed (`status=error` and `null <column>` come before any rule).
Each rule is decided on its own over the whole dataset: a top fraction is of every row that has a
value (and no error), not of the rows the other rules keep.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

from agiqa.errors import ConfigError

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
       "!=": operator.ne}
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_COMPARE = re.compile(rf"^\s*({_NAME})\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
_TOP = re.compile(rf"^\s*({_NAME})\s*=\s*(\S+)\s*$")
TOP_PREFIX = "top_fraction "


def _number(text: str, rule: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"rule {rule!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"rule {rule!r}: the number must be finite, got {text!r}")
    return v


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


@dataclass(frozen=True)
class KeepRule:
    """Keep rows whose `column` compares true against `value`."""

    column: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.column} {self.op} {_fmt(self.value)}"


@dataclass(frozen=True)
class TopFractionRule:
    """Keep the best `fraction` of all rows on `column` (higher is better; see agiqa.selection)."""

    column: str
    fraction: float

    @property
    def text(self) -> str:
        return f"{TOP_PREFIX}{self.column}={_fmt(self.fraction)}"


Rule = KeepRule | TopFractionRule


def parse_keep(text: str) -> KeepRule:
    m = _COMPARE.match(text)
    if not m:
        raise ConfigError(f"keep rule {text!r} is not 'COLUMN OP NUMBER' (OP one of {', '.join(OPS)}), "
                          "e.g. 'quality_score >= 3'")
    return KeepRule(m.group(1), m.group(2), _number(m.group(3), text))


def parse_top_fraction(text: str) -> TopFractionRule:
    m = _TOP.match(text)
    if not m:
        raise ConfigError(f"top-fraction rule {text!r} is not 'COLUMN=FRACTION', e.g. 'quality_score=0.2'")
    frac = _number(m.group(2), text)
    if not 0.0 <= frac <= 1.0:
        raise ConfigError(f"top-fraction rule {text!r}: the fraction must be in [0, 1], got {m.group(2)}")
    return TopFractionRule(m.group(1), frac)


def parse_rule(text: str) -> Rule:
    """One rule from its canonical text (a config's `rules:` entry)."""
    if not isinstance(text, str):
        raise ConfigError(f"rule {text!r} is not text")
    if text.strip().startswith(TOP_PREFIX.strip()):
        return parse_top_fraction(text.strip()[len(TOP_PREFIX.strip()):])
    return parse_keep(text)


def parse_rules(texts: list[str]) -> list[Rule]:
    rules = [parse_rule(t) for t in texts]
    seen = set()
    for r in rules:
        if r.text in seen:
            raise ConfigError(f"rule {r.text!r} is given twice")
        seen.add(r.text)
    return rules
