"""The CLI's manners: --version, a default named for every option, no abbreviations, strict JSON,
clean piped logs, pickled weights refused in one line."""

import argparse
import json
import math
import re
import subprocess
import sys

import pytest

from agiqa.cli import COMMANDS, HelpFormatter, build_parser


def agiqa(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "agiqa", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_version():
    import agiqa as pkg

    out = agiqa("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"agiqa {pkg.__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_shows_its_default_and_none_is_abbreviated(command):
    """Each option's help names its default (or says it is required)."""
    parser = build_parser([command])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    assert parser.allow_abbrev is False and sub.allow_abbrev is False
    fmt = HelpFormatter(command)
    missing = [a.option_strings[0] for a in sub._actions
               if a.option_strings and a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
               and not a.required and not re.search("default|required", fmt._get_help_string(a) or "", re.I)]
    assert missing == []
    sub.format_help()  # every "%(default)s" expands


def test_an_abbreviated_option_is_refused():
    with pytest.raises(SystemExit) as e:
        build_parser(["eval"]).parse_args(["eval", "--scor", "x"])
    assert e.value.code == 2


def test_eval_json_is_strict_json_with_null_for_undefined_metrics(tmp_path):
    """A constant score column has no rank correlation (NaN): the file says null, and parses strictly."""
    from tests.fixtures.shards import write_shard

    write_shard(tmp_path / "scored" / "s.parquet", [1, 2, 3], quality_score=[2.0, 2.0, 2.0],
                quality_mos=[1.0, 2.0, 3.0], status=["ok"] * 3)
    out = agiqa("eval", "--scored", tmp_path / "scored", "--json", tmp_path / "m.json")
    assert out.returncode == 0, out.stderr

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    metrics = json.loads((tmp_path / "m.json").read_text(), parse_constant=refuse)
    assert metrics["quality"]["srcc"] is None and metrics["quality"]["n"] == 3
    assert math.isfinite(metrics["quality"]["rmse"])


def test_a_piped_log_has_no_library_progress_bars(tmp_path):
    """make-tiny-model saves through transformers, whose "Writing model shards" tqdm bar a pipe would get."""
    out = agiqa("make-tiny-model", tmp_path / "m")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "\r" not in out.stderr and "it/s" not in out.stderr and "%|" not in out.stderr, out.stderr[-1000:]
