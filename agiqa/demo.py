"""`make demo`: the whole job on the embedded default, offline, on a laptop.

Each step is a real `agiqa` command, printed before it runs, so the demo doubles as a tutorial:
build a tiny model, write procedural image-prompt shards whose true MOS is known (a training set
and a held-out test set), distil one LoRA describer per aspect on the teacher descriptions
(`finetune`), train one M3 head per aspect (`train-head`), score the held-out set on a local Ray
with the trained adapters and heads (all three aspects), and evaluate the scores against the
known MOS. Trained adapters and heads are kept: a rerun skips training (delete WORKDIR/adapters
and WORKDIR/heads to train again) and skips the shards already scored.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from agiqa.aspects import ASPECTS

TIMES: list[tuple[str, float]] = []  # (first word of the command, seconds), for the summary


def step(title: str, args: list[str]) -> None:
    cmd = ["agiqa", *args]
    print(f"\n== {title}\n$ {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "agiqa", *args])
    if res.returncode != 0:
        sys.exit(f"demo: step failed ({title}), exit code {res.returncode}")
    TIMES.append((args[0], time.perf_counter() - t0))


def epoch_groups(value: str, flag: str, aspects: tuple[str, ...] | list[str] = ASPECTS) -> list[tuple[str, list[str]]]:
    """`3` (every aspect) or `quality=3,correspondence=12,authenticity=3` -> [(epochs, [aspects])], one
    `finetune --aspects` call per epoch count, in aspect order (shared with bench_learnability)."""
    if "=" not in value:
        return [(value, list(aspects))]
    given = dict(part.split("=", 1) for part in value.split(","))
    if set(given) != set(aspects):
        sys.exit(f"demo: {flag} {value!r} must name every aspect once ({', '.join(aspects)})")
    return [(n, [a for a in aspects if given[a] == n]) for n in dict.fromkeys(given[a] for a in aspects)]


def summary(work: Path, total: float) -> None:
    """The figures a reader looks for: the time of each step and the held-out SRCC per aspect."""
    print("\n== summary")
    for name, seconds in TIMES:
        print(f"  {name:<16} {seconds:6.0f} s")
    print(f"  {'total':<16} {total:6.0f} s ({total / 60:.1f} min)")
    metrics = json.loads((work / "eval.json").read_text())
    print("  held-out SRCC vs the known MOS: " + ", ".join(
        f"{a} {metrics[a]['srcc']:.2f}" for a in ASPECTS if metrics.get(a, {}).get("n")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", default="demo-output")
    ap.add_argument("--rows", type=int, default=48, help="Held-out rows to score.")
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--train-rows", type=int, default=600)
    ap.add_argument("--ft-epochs", default="quality=2,correspondence=12,authenticity=2",
                    help="finetune --epochs, one number or per aspect: correspondence needs the describer to "
                         "compare prompt and image word by word and gets the most; quality and authenticity heads "
                         "read the image tokens directly (docs/training.md, 'Learnability')")
    ap.add_argument("--head-epochs", default="4", help="train-head --epochs (the heads peak by their 2nd-3rd epoch here)")
    ap.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                    help="finetune --lora-targets: attention + MLP (the attribute-by-attribute comparison "
                         "correspondence needs is not learnt with attention alone; docs/training.md)")
    ap.add_argument("--no-train", action="store_true", help="Score with the tiny model's random adapters and heads.")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    work = Path(args.workdir)
    model, train, data, scored = work / "model", work / "train", work / "data", work / "scored"
    adapters, heads = work / "adapters", work / "heads"
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not (model / "agiqa_model.json").is_file():
        step("build a tiny model (Qwen2-VL + LoRA per aspect + M3 heads): random weights, the vision tower "
             "pretrained on procedural images", ["make-tiny-model", str(model), "--pretrain-vision"])
    if not data.is_dir():
        step("write held-out procedural shards with known MOS", ["make-demo-data", str(data), "--rows",
                                                                 str(args.rows), "--shards", str(args.shards),
                                                                 "--seed", "0"])
    trained: list[str] = []
    if not args.no_train:
        if not train.is_dir():
            step("write a training set (other seed) with MOS and teacher descriptions",
                 ["make-demo-data", str(train), "--rows", str(args.train_rows), "--shards", "2", "--seed", "11"])
        for n, group in epoch_groups(args.ft_epochs, "--ft-epochs"):
            if all((adapters / a / "adapter_config.json").is_file() for a in group):
                continue
            step(f"distil the describer: one LoRA adapter per aspect on the teacher's conversations "
                 f"({', '.join(group)}: {n} epochs)",
                 ["finetune", "--data", str(train), "--model", str(model), "--output", str(adapters),
                  "--aspects", ",".join(group), "--epochs", n, "--lr", "2e-3", "--lora-targets", args.lora_targets])
        if not (heads / "authenticity" / "head.safetensors").is_file():
            step("train one M3 head per aspect on the MOS (teacher descriptions; the best epoch picked on the "
                 "adapter's own descriptions of the validation rows)",
                 ["train-head", "--data", str(train), "--model", str(model), "--adapters", str(adapters),
                  "--output", str(heads), "--epochs", args.head_epochs, "--max-new-tokens", "40"])
        trained = ["--adapters", str(adapters), "--heads", str(heads)]
    step("score the held-out set, all three aspects, on a local Ray",
         ["score", "--input", str(data), "--output", str(scored), "--model", str(model), *trained,
          "--max-new-tokens", "40", "--batch-size", "8"])
    step("compare with the known MOS", ["eval", "--scored", str(scored), "--labels", str(data),
                                        "--json", str(work / "eval.json")])
    summary(work, time.perf_counter() - started)
    print(f"\nScored shards are in {scored}/ (Parquet); rerun `make demo` to see committed shards skipped.")
    if trained:
        print("The tiny model's language model is random and its vision tower had a minute of pretraining on "
              "procedural images;\nwith the defaults expect held-out SRCC about 0.94 / 0.84 / 0.86 "
              "(docs/training.md, 'The demo').")
    return 0


if __name__ == "__main__":
    sys.exit(main())
