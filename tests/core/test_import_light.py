"""`import agiqa` (and its config/CLI layer) must not import heavy frameworks."""

import subprocess
import sys

HEAVY = ["torch", "transformers", "vllm", "ray", "peft", "xlstm"]


def test_import_agiqa_is_light():
    code = (
        "import sys, agiqa, agiqa.config, agiqa.cli, agiqa.aspects, agiqa.commands; "
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
