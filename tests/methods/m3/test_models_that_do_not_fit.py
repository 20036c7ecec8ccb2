"""Heads and adapters that do not fit the model are refused before any weights load, in one line.

The misfits are real files: a head folder holding another aspect's head, MiniCPM-V 2.5 adapters
(the released layout, with `modules_to_save`) next to a Qwen2-VL base, and adapters of a Qwen2-VL
built with a wider language model. The check reads headers only (`agiqa.model.fit`).
"""

from __future__ import annotations

import json
import shutil

import pytest

from agiqa.errors import ConfigError
from tests.fixtures.model import job_config


def _model_copy(tiny_model_dir, tmp_path):
    """A copy of the tiny model whose adapters and heads a test may replace (links for the weights)."""
    d = tmp_path / "model"
    shutil.copytree(tiny_model_dir, d, copy_function=lambda s, t: shutil.copy2(s, t))
    return d


def _check(model_dir, aspects=("quality", "correspondence", "authenticity")):
    cfg = job_config(model_dir, "-", "-")
    cfg.method.check(tuple(aspects))


def test_the_models_own_heads_and_adapters_fit(tiny_model_dir):
    _check(tiny_model_dir)


def test_a_head_recorded_for_another_aspect_is_refused(tiny_model_dir, tmp_path):
    d = _model_copy(tiny_model_dir, tmp_path)
    shutil.rmtree(d / "heads" / "correspondence")
    shutil.copytree(d / "heads" / "quality", d / "heads" / "correspondence")
    assert json.loads((d / "heads" / "correspondence" / "head_config.json").read_text())["aspect"] == "quality"
    with pytest.raises(ConfigError, match=r"heads/correspondence was trained for aspect 'quality', not 'correspondence'"):
        _check(d)


def test_minicpmv_adapters_on_a_qwen2vl_base_are_refused(tiny_model_dir, tiny_minicpmv_dir, tmp_path):
    d = _model_copy(tiny_model_dir, tmp_path)
    shutil.rmtree(d / "adapters" / "quality")
    shutil.copytree(tiny_minicpmv_dir / "adapters" / "quality", d / "adapters" / "quality")
    with pytest.raises(ConfigError, match=r"the 'quality' adapter at .* does not fit the model .*another base model "
                                          r"\(it records base model 'openbmb/MiniCPM-Llama3-V-2_5'\)"):
        _check(d)


def test_adapters_of_a_wider_model_are_refused_naming_the_widths(tiny_model_dir, tmp_path):
    from agiqa.demo_models.tiny_model import build_tiny_model

    wide = build_tiny_model(tmp_path / "wide", seed=1, text_config={"hidden_size": 192})
    d = _model_copy(tiny_model_dir, tmp_path)
    shutil.rmtree(d / "adapters" / "authenticity")
    shutil.copytree(wide / "adapters" / "authenticity", d / "adapters" / "authenticity")
    with pytest.raises(ConfigError, match=r"'authenticity' adapter .* has input width 192, the base model's 128"):
        _check(d)


def test_the_cli_says_it_in_one_line_before_loading(tiny_model_dir, tmp_path, capsys):
    from agiqa.cli import main
    from tests.fixtures.shards import write_shard

    d = _model_copy(tiny_model_dir, tmp_path)
    shutil.rmtree(d / "heads" / "authenticity")
    shutil.copytree(d / "heads" / "quality", d / "heads" / "authenticity")
    write_shard(tmp_path / "in" / "s.parquet", ["a"])
    rc = main(["score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--model", str(d),
               "--runner", "local", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "trained for aspect 'quality', not 'authenticity'" in err[0]
    assert not (tmp_path / "out").exists()
