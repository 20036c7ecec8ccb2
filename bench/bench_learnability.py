"""Learnability: can the whole M3-AGIQA recipe learn a MOS it is shown, on CPU, in minutes?

Runs the real commands end to end on the procedural dataset whose true MOS is known
(agiqa/data/learnability.py), on the tiny random-weight model:

    make-tiny-model [--pretrain-vision] -> make-demo-data (train, test) -> finetune (LoRA per aspect)
    -> train-head (teacher descriptions; val: the adapter's own) -> score test (the adapted model describes) -> eval

and the ablation: a head trained and scored with round 1 skipped (empty description). Prints
per-stage wall time and SRCC/PLCC per aspect for both, and writes them as JSON.

    python bench/bench_learnability.py [--workdir DIR] [--train-rows 1200] [--test-rows 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agiqa.demo import epoch_groups


def agiqa(*args: str) -> float:
    t0 = time.perf_counter()
    print("$ agiqa " + " ".join(args), flush=True)
    res = subprocess.run([sys.executable, "-m", "agiqa", *args], capture_output=True, text=True)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln and "it/s]" not in ln and "s/it]" not in ln]
    print("\n".join("    " + ln for ln in lines[-8:]), flush=True)
    if res.returncode != 0:
        sys.exit(f"bench: `agiqa {args[0]}` failed ({res.returncode})")
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/agiqa-learnability")
    ap.add_argument("--train-rows", type=int, default=1200)
    ap.add_argument("--test-rows", type=int, default=100)
    ap.add_argument("--ft-epochs", default="quality=6,correspondence=12,authenticity=6",
                    help="finetune --epochs: one number, or per aspect as `make demo` takes it "
                         "(quality=6,correspondence=12,authenticity=6, the default)")
    ap.add_argument("--ft-lr", default="2e-3")
    ap.add_argument("--head-epochs", default="6")
    ap.add_argument("--head-lr", default="1e-3")
    ap.add_argument("--head-batch-size", default="32", help="train-head --batch-size")
    ap.add_argument("--max-new-tokens", default="40")
    ap.add_argument("--aspects", default="quality,correspondence,authenticity")
    ap.add_argument("--skip-ablation", action="store_true")
    ap.add_argument("--pretrain-rows", default="24000", help="make-tiny-model --pretrain-rows (when it builds the model)")
    ap.add_argument("--pretrain-epochs", default="6", help="make-tiny-model --pretrain-epochs")
    ap.add_argument("--seed", default="0", help="Training seed (finetune and train-head); the data seeds stay fixed, "
                                                "so runs with different seeds measure training's spread.")
    ap.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                    help="finetune --lora-targets (attention + MLP: the comparison correspondence needs)")
    ap.add_argument("--tune-vision", action="store_true", help="finetune --tune-vision (see docs/training.md)")
    ap.add_argument("--random-vision", action="store_true",
                    help="keep the tiny model's vision tower random (no make-tiny-model --pretrain-vision)")
    args = ap.parse_args()
    w = Path(args.workdir)
    model, train, test = w / "model", w / "train", w / "test"
    adapters, heads, heads_nd = w / "adapters", w / "heads", w / "heads-no-desc"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t: dict[str, float] = {}
    t["make"] = 0.0
    if not model.is_dir():
        t["make"] += agiqa("make-tiny-model", str(model), *([] if args.random_vision else [
            "--pretrain-vision", "--pretrain-rows", args.pretrain_rows, "--pretrain-epochs", args.pretrain_epochs]))
    if not train.is_dir():
        t["make"] += agiqa("make-demo-data", str(train), "--rows", str(args.train_rows), "--shards", "4", "--seed",
                           "11")
    if not test.is_dir():
        t["make"] += agiqa("make-demo-data", str(test), "--rows", str(args.test_rows), "--shards", "2", "--seed",
                           "12")
    t["finetune"] = 0.0
    for n, group in epoch_groups(args.ft_epochs, "--ft-epochs", args.aspects.split(",")):
        t["finetune"] += agiqa("finetune", "--data", str(train), "--model", str(model), "--output", str(adapters),
                               "--aspects", ",".join(group), "--epochs", n, "--lr", args.ft_lr, "--seed", args.seed,
                               "--lora-targets", args.lora_targets, *(["--tune-vision"] if args.tune_vision else []))
    t["train_head"] = agiqa("train-head", "--data", str(train), "--model", str(model), "--adapters", str(adapters),
                            "--output", str(heads), "--aspects", args.aspects, "--epochs", args.head_epochs,
                            "--lr", args.head_lr, "--batch-size", args.head_batch_size,
                            "--max-new-tokens", args.max_new_tokens, "--seed", args.seed)
    common = ["--input", str(test), "--model", str(model), "--adapters", str(adapters), "--aspects", args.aspects,
              "--runner", "local", "--no-progress", "--overwrite", "--max-new-tokens", args.max_new_tokens]
    t["score"] = agiqa("score", *common, "--output", str(w / "scored"), "--heads", str(heads))
    t["eval"] = agiqa("eval", "--scored", str(w / "scored"), "--labels", str(test), "--json", str(w / "eval.json"))
    result = {"settings": vars(args), "seconds": t, "m3": json.loads((w / "eval.json").read_text())}
    if not args.skip_ablation:
        t["ablation"] = agiqa("train-head", "--data", str(train), "--model", str(model), "--adapters", str(adapters),
                              "--output", str(heads_nd), "--aspects", args.aspects, "--epochs", args.head_epochs,
                              "--lr", args.head_lr, "--batch-size", args.head_batch_size, "--no-description")
        t["ablation"] += agiqa("score", *common, "--output", str(w / "scored-no-desc"), "--heads", str(heads_nd),
                               "--no-describe")
        t["ablation"] += agiqa("eval", "--scored", str(w / "scored-no-desc"), "--labels", str(test), "--json",
                               str(w / "eval-no-desc.json"))
        result["no_description"] = json.loads((w / "eval-no-desc.json").read_text())
    main_s = sum(v for k, v in t.items() if k != "ablation")
    print(f"\nwall seconds: {json.dumps({k: round(v, 1) for k, v in t.items()})}; recipe total {main_s:.0f}s")
    print(f"{'aspect':16}{'SRCC (M3)':>11}{'PLCC (M3)':>11}{'SRCC (no desc)':>16}{'PLCC (no desc)':>16}")
    for a in args.aspects.split(","):
        m = result["m3"].get(a, {})
        n = result.get("no_description", {}).get(a, {})
        print(f"{a:16}{m.get('srcc', float('nan')):>11.3f}{m.get('plcc', float('nan')):>11.3f}"
              f"{n.get('srcc', float('nan')):>16.3f}{n.get('plcc', float('nan')):>16.3f}")
    (w / "learnability.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {w / 'learnability.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
