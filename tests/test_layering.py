"""The package's layering, checked from the source: what may import what, and no cycles between packages.

    commands, cli, jobs/*.py -> api -> workflows -> stages, runner
    stages -> methods, data, runner.stage        methods -> engines, model, data
    runner -> storage (never methods, engines, stages or user configs)
    selection -> errors only (pure numpy/pyarrow ranking, used by workflows and stages)
    filtering -> selection (rules, one batch decided)   audit -> storage, aspects (statistics, figures, HTML)
    everything -> aspects, errors, schema, resources
Test material (`agiqa.testing`: fakes, faults) is imported by no production module. Demo material
(`agiqa.demo_models`: tiny model builders, procedural pretraining) is imported only by itself and the
commands that build demo material (a method names its builder as a string, `tiny_model_entry`).
`import agiqa` and the CLI's help stay light (no torch, ray, ...).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "agiqa"
HEAVY = ["torch", "transformers", "vllm", "ray", "peft", "xlstm", "matplotlib"]
DEMO_MAKERS = {"agiqa.demo", "agiqa.commands.make_tiny_model", "agiqa.commands.make_demo_data"}
TINY_MODULES = ("tiny_model", "tiny_clip", "tiny_minicpmv", "tiny_qwen25", "tokenizer", "vision_pretrain",
                "clip_pretrain", "tiny_entries")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every agiqa module -> the agiqa modules it imports (at the top or inside functions)."""
    out = {}
    for path in ROOT.rglob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("agiqa")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agiqa"):
                found.add(node.module)
        out[module_name(path)] = found
    return out


def unit(module: str) -> str:
    """The layer a module belongs to: its subpackage, or itself for top-level modules."""
    parts = module.split(".")
    return ".".join(parts[:2])


def violations(allowed_from: str, forbidden: tuple[str, ...], graph) -> list[str]:
    return sorted(f"{m} imports {i}" for m, deps in graph.items() if unit(m) == allowed_from or m == allowed_from
                  for i in deps if any(i == f or i.startswith(f + ".") for f in forbidden))


def test_production_code_never_imports_test_material():
    graph = imports()
    bad = sorted(f"{m} imports {i}" for m, deps in graph.items() for i in deps
                 if i.startswith("agiqa.testing") and not m.startswith("agiqa.testing"))
    assert bad == []


def test_demo_material_is_imported_only_by_what_builds_demos():
    graph = imports()
    bad = sorted(f"{m} imports {i}" for m, deps in graph.items() for i in deps if i.startswith("agiqa.demo_models")
                 and not m.startswith("agiqa.demo_models") and m not in DEMO_MAKERS)
    assert bad == []
    # and it stands on its own: no test fakes in it, and none of it left behind in agiqa.testing
    assert not [i for m, deps in graph.items() if m.startswith("agiqa.demo_models") for i in deps
                if i.startswith("agiqa.testing")]
    assert not [n for n in TINY_MODULES if (ROOT / "testing" / f"{n}.py").exists()]
    assert all((ROOT / "demo_models" / f"{n}.py").exists() for n in TINY_MODULES)


@pytest.mark.parametrize("layer, forbidden", [
    ("agiqa.runner", ("agiqa.methods", "agiqa.engines", "agiqa.stages", "agiqa.config", "agiqa.model",
                      "agiqa.workflows", "agiqa.training", "agiqa.commands", "agiqa.api")),
    ("agiqa.storage", ("agiqa.config", "agiqa.runner", "agiqa.methods", "agiqa.engines", "agiqa.stages")),
    ("agiqa.methods", ("agiqa.runner", "agiqa.stages", "agiqa.workflows", "agiqa.commands", "agiqa.api",
                       "agiqa.config")),
    ("agiqa.engines", ("agiqa.methods", "agiqa.stages", "agiqa.runner", "agiqa.training", "agiqa.commands")),
    ("agiqa.selection", ("agiqa.runner", "agiqa.storage", "agiqa.config", "agiqa.methods", "agiqa.engines",
                         "agiqa.stages", "agiqa.workflows", "agiqa.data", "agiqa.model", "agiqa.api")),
    ("agiqa.filtering", ("agiqa.runner", "agiqa.storage", "agiqa.config", "agiqa.methods", "agiqa.engines",
                         "agiqa.stages", "agiqa.workflows", "agiqa.commands", "agiqa.api")),
    ("agiqa.audit", ("agiqa.runner", "agiqa.config", "agiqa.methods", "agiqa.engines", "agiqa.stages",
                     "agiqa.workflows", "agiqa.commands", "agiqa.api")),
    ("agiqa.stages", ("agiqa.workflows", "agiqa.commands", "agiqa.api", "agiqa.runner.local", "agiqa.runner.ray")),
    # ingest runs in the light install: storage, data and the manifest helpers, never models or Ray
    ("agiqa.ingest", ("agiqa.methods", "agiqa.engines", "agiqa.stages", "agiqa.model", "agiqa.training",
                      "agiqa.workflows", "agiqa.commands", "agiqa.api", "agiqa.runner.ray", "agiqa.runner.local")),
    ("agiqa.data", ("agiqa.runner", "agiqa.methods", "agiqa.engines", "agiqa.stages", "agiqa.workflows",
                    "agiqa.config", "agiqa.commands", "agiqa.api")),
])
def test_layers_import_only_downwards(layer, forbidden):
    assert violations(layer, forbidden, imports()) == []


def test_library_code_never_reaches_up_to_the_cli():
    graph = imports()
    top = ("agiqa.commands", "agiqa.cli")
    bad = sorted(f"{m} imports {i}" for m, deps in graph.items() if not m.startswith(top)
                 and m not in ("agiqa.__main__", "agiqa.demo") for i in deps if i.startswith(top))
    assert bad == []


def test_no_cycles_between_packages_or_modules():
    graph = imports()
    for name, key in (("package", unit), ("module", lambda m: m)):
        edges: dict[str, set[str]] = {}
        for m, deps in graph.items():
            for d in deps:
                a, b = key(m), key(d if d in graph else d.rsplit(".", 1)[0])
                if a != b and b.startswith("agiqa.") and a != "agiqa" and b != "agiqa":
                    edges.setdefault(a, set()).add(b)
        cycle = _find_cycle(edges)
        assert cycle is None, f"{name} cycle: {' -> '.join(cycle)}"


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(edges.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_import_agiqa_is_light():
    code = (
        "import sys, agiqa, agiqa.config, agiqa.cli, agiqa.aspects, agiqa.commands, agiqa.api, agiqa.runner.local, "
        "agiqa.ingest.job, agiqa.ingest.tars, agiqa.scorer, agiqa.ray_data, agiqa.ray_data_udf, agiqa.runner.ray_data; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_cli_help_is_light_and_lists_commands():
    code = (
        "import sys, io, contextlib; from agiqa.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    main([])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules]); print(buf.getvalue())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, rest = out.stdout.split("\n", 1)
    assert first == "[]"
    assert "score" in rest and "make-tiny-model" in rest
