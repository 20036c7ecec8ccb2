"""Bad configuration is refused before any work starts, with a message that names the field."""

import pytest
from pydantic import ValidationError

from agiqa.config import JobConfig, load_config


def test_unknown_keys_are_refused(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nengine: {model: m, batchsize: 4}\n")
    with pytest.raises(ValidationError, match="batchsize"):
        load_config(p)


def test_unknown_aspect_gets_a_hint():
    with pytest.raises(ValidationError, match="did you mean 'quality'"):
        JobConfig(input="a", output="b", aspects=["qualty"], engine={"model": "m"})


def test_flags_override_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nengine: {model: m, batch_size: 4}\n")
    cfg = load_config(p, {"engine": {"batch_size": 16, "model": None}})
    assert cfg.engine.batch_size == 16 and cfg.engine.model == "m"


def test_scoring_hash_ignores_parallelism_but_not_model():
    a = JobConfig(input="a", output="b", engine={"model": "m", "batch_size": 4})
    b = JobConfig(input="x", output="y", engine={"model": "m", "batch_size": 32})
    c = JobConfig(input="a", output="b", engine={"model": "m2"})
    assert a.scoring_hash() == b.scoring_hash() != c.scoring_hash()


def test_cli_reports_config_errors_without_traceback(tmp_path):
    import subprocess
    import sys

    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nengine: {model: m, bogus: 1}\n")
    out = subprocess.run([sys.executable, "-m", "agiqa", "score", "--config", str(p)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "engine.bogus" in out.stderr and "Traceback" not in out.stderr


def test_cli_refuses_missing_model_before_work(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "agiqa", "score", "--input", str(tmp_path), "--output",
                          str(tmp_path / "o"), "--model", str(tmp_path / "nope")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "no Hugging Face model" in out.stderr and "Traceback" not in out.stderr
