"""`make demo`: the whole job on the embedded default, offline, on a laptop.

Each step is a real `agiqa` command, printed before it runs, so the demo doubles as a tutorial:
build a tiny model, write procedural image-prompt shards whose true MOS is known, score them on
a local Ray (all three aspects), and evaluate the scores against the known MOS.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path


def step(title: str, args: list[str]) -> None:
    cmd = ["agiqa", *args]
    print(f"\n== {title}\n$ {shlex.join(cmd)}", flush=True)
    res = subprocess.run([sys.executable, "-m", "agiqa", *args])
    if res.returncode != 0:
        sys.exit(f"demo: step failed ({title}), exit code {res.returncode}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default="demo-output")
    ap.add_argument("--rows", type=int, default=48)
    ap.add_argument("--shards", type=int, default=3)
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    model, data, scored = work / "model", work / "data", work / "scored"
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not (model / "agiqa_model.json").is_file():
        step("build a tiny random-weight model (Qwen2-VL + LoRA per aspect + M3 heads)",
             ["make-tiny-model", str(model)])
    if not data.is_dir():
        step("write procedural shards with known MOS", ["make-demo-data", str(data), "--rows", str(args.rows),
                                                        "--shards", str(args.shards), "--seed", "0"])
    step("score all three aspects on a local Ray", ["score", "--input", str(data), "--output", str(scored),
                                                    "--model", str(model), "--max-new-tokens", "24",
                                                    "--batch-size", "8"])
    step("compare with the known MOS", ["eval", "--scored", str(scored), "--labels", str(data)])
    print(f"\nScored shards are in {scored}/ (Parquet); rerun `make demo` to see committed shards skipped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
