"""A config that fails validation reaches the user as one line, the same from every entry (CLI, `agiqa.api`,
`Scorer`): `invalid WHAT: field.path: message; ...` as a ConfigError (exit 2), never a pydantic traceback."""

import re
from pathlib import Path

import pytest

from agiqa import api
from agiqa.errors import ConfigError


def test_api_entries_given_a_dict_refuse_it_as_one_line_config_errors(tmp_path):
    cases = [
        (api.score, {"input": "a", "output": "b", "method": {"name": "clip-agiqa", "model": "m"}, "read_batch_rows": 0}),
        (api.filter, {"input": "a", "output": "b", "rules": ["quality_score >= 3"], "bogus": 1}),
        (api.filter_dry_run, {"input": "a", "output": "b", "rules": ["quality_score >= 3"], "bogus": 1}),
        (api.audit, {"input": "a", "output": "b", "examples": "many"}),
        (api.ingest, {"input": "a", "output": "b", "nonsense": True}),
    ]
    for entry, data in cases:
        with pytest.raises(ConfigError) as info:
            entry(data)
        assert type(info.value) is ConfigError, entry.__name__  # not pydantic's ValidationError
        message = str(info.value)
        assert message.startswith("invalid ") and "\n" not in message, message
        assert re.search(r"(read_batch_rows|bogus|examples|nonsense): ", message), message


def test_the_scorer_names_the_method_and_the_field():
    from agiqa.scorer import Scorer

    with pytest.raises(ConfigError, match=r"^invalid method 'clip-agiqa': batch_size: .*greater than or equal to 1"):
        Scorer("clip-agiqa", model="m", batch_size=0, setup=False)


def test_the_format_is_written_once():
    root = Path(__file__).resolve().parents[1] / "agiqa"
    catching = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "except ValidationError" in p.read_text())
    assert catching == ["schema.py"]
