"""Methods by name: built-ins load lazily, unknown names get a hint, new methods register themselves."""

import pytest

from agiqa.errors import ConfigError
from agiqa.methods.registry import method_config_class, method_names


def test_builtin_method_by_name_and_a_hint_for_a_typo():
    assert method_config_class("m3-agiqa").__name__ == "M3Config"
    with pytest.raises(ConfigError, match="did you mean 'm3-agiqa'"):
        method_config_class("m3_agiqa")


def test_a_registered_method_is_taken_by_the_job_config_unchanged():
    import agiqa.testing.fakes  # noqa: F401  (registers "fake")
    from agiqa.config import ScoreJobConfig

    assert "fake" in method_names()
    cfg = ScoreJobConfig(input="a", output="b", method={"name": "fake", "seconds_per_row": 0.5})
    method = cfg.method.build(tuple(cfg.aspects))
    assert method.name == "fake" and method.cfg.seconds_per_row == 0.5
    # the job config round-trips with the subclass's fields (what the CLI and Ray hand on)
    assert ScoreJobConfig.model_validate(cfg.model_dump()).method == cfg.method
