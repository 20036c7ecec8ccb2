"""Rules parse into a canonical spelling, and bad rules are refused with the rule named."""

import pytest

from agiqa.errors import ConfigError
from agiqa.filtering.rules import (
    KeepRule,
    TopFractionRule,
    parse_keep,
    parse_rule,
    parse_rules,
    parse_top_fraction,
)


def test_rules_parse_to_their_canonical_text():
    assert parse_keep(" quality_score>=3 ") == KeepRule("quality_score", ">=", 3.0)
    assert parse_keep("quality_score >= 3").text == "quality_score >= 3"
    assert parse_keep("x != -0.5").text == "x != -0.5"
    assert parse_top_fraction("quality_score=0.2") == TopFractionRule("quality_score", 0.2)
    assert parse_rule("top_fraction quality_score=0.2").text == "top_fraction quality_score=0.2"
    assert parse_rule("top_fraction quality_score = 1").text == "top_fraction quality_score=1"


@pytest.mark.parametrize("text, match", [
    ("quality_score => 3", "'quality_score => 3'"), ("quality_score >= high", "'high' is not a number"),
    ("quality_score >= nan", "finite"), ("quality_score", "COLUMN OP NUMBER"),
])
def test_bad_keep_rules_are_named(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_keep(text)


@pytest.mark.parametrize("text, match", [("quality_score=1.5", r"\[0, 1\]"), ("quality_score", "COLUMN=FRACTION"),
                                         ("quality_score=-0.1", r"\[0, 1\]")])
def test_bad_top_fractions_are_named(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_top_fraction(text)


def test_a_rule_given_twice_is_refused():
    with pytest.raises(ConfigError, match="twice"):
        parse_rules(["q >= 1", "q>=1"])
