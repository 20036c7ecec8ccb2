"""Acceptance check for people with the authors' real weights: agiqa's M3-AGIQA on MiniCPM-Llama3-V 2.5
scored several ways on the same N images, with the largest differences in tokens, hidden states and scores.

Two subcommands:

  compare     (agiqa's environment) score N rows of a Parquet shard folder with each engine in turn
              (`--engines hf,vllm`; one engine in memory at a time) and, with `--reference DUMP`, against
              the reference's own outputs. Every way's scoring pass is also run on the *first* way's (or
              the dump's) descriptions, so hidden states and scores are compared on identical inputs; the
              round-1 tokens are compared as each way decodes them.
  dump-reference
              (the reference's environment: strawhatboy/M3-AGIQA checked out, its conda env with
              transformers ~4.40, xlstm's CUDA backend, the hub files cached) run the reference's own
              `inference_e2e.analyze_single_image` on the same rows and save, per row and aspect, the
              description, its token ids, the 512-wide features after the predictor's `W` (hooked) and the
              raw score (hooked before the clamp) to a torch file for `compare --reference`.

Compared quantities (per aspect): round-1 token ids (rows identical, first differing position); the
scoring-pass features (hidden states after the final norm between agiqa's engines; the head's `W`
projection of them against the reference, whose `W` reads the LM head's logits: the same map up to the
fold's rounding); scores (raw head outputs, no clamp). The report is printed and written as JSON.

    python scripts/accept_minicpmv.py compare --model MINICPM --adapters ADAPTERS --heads HEADS \\
        --data SHARDS -n 16 [--engines hf,vllm] [--reference ref.pt] [--out report.json]
    python scripts/accept_minicpmv.py dump-reference --m3-agiqa REPO --data SHARDS -n 16 --out ref.pt

Defaults follow the reference's end-to-end script: its round-1 prompts (`m3agiqa-e2e`), raw prompts,
`convert("RGB")`, unclamped scores, the family's decoding (3 beams, repetition penalty 1.2, 1024 tokens;
the vllm engine has no penalty in beam search, so its tokens are expected to differ: pass
`--num-beams 1 --repetition-penalty 1.0` to compare engines on greedy text).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ASPECTS = ("quality", "correspondence", "authenticity")


def read_rows(data: str, n: int, image_column: str, prompt_column: str) -> list[tuple[bytes, str]]:
    """The first `n` rows (image bytes, prompt) of a Parquet file or shard folder, in file order."""
    import pyarrow.dataset as ds

    rows: list[tuple[bytes, str]] = []
    for batch in ds.dataset(data, format="parquet").to_batches(columns=[image_column, prompt_column]):
        for img, prompt in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            if isinstance(img, dict):  # a Hugging Face {bytes, path} struct
                img = img.get("bytes")
            rows.append((img, prompt))
            if len(rows) == n:
                return rows
    return rows


# -- compare (agiqa) ---------------------------------------------------------------------------------------

def run_way(engine_name: str, args, images, prompts, aspects, given: dict[str, list[str]] | None) -> dict:
    """One engine: its own round 1, then the scoring pass on its own descriptions and on `given` ones."""
    import torch

    from agiqa.methods.m3.config import M3Config

    engine = {"name": engine_name, "model": args.model, "adapters": args.adapters, "device": args.device,
              "dtype": args.dtype, "batch_size": args.batch_size}
    for k in ("num_beams", "repetition_penalty", "max_new_tokens"):
        if getattr(args, k) is not None:
            engine[k] = getattr(args, k)
    cfg = M3Config(engine=engine, heads=args.heads, prompt_set=args.prompt_set, clamp=False)
    method = cfg.build(aspects)
    method.setup()
    method.engine.project_with({})  # full-width states: the report compares them, then the heads' features
    try:
        convs, _ = method._conversations(images, prompts)  # the job's conversations: head limits per aspect
        tok = method.engine.tokenizer
        descriptions = method.engine.describe([_describe_request(c) for c in convs])
        out = {"descriptions": descriptions,
               "tokens": [tok.encode(d, add_special_tokens=False) for d in descriptions]}
        for label, texts in (("own", descriptions), ("given", _given_texts(convs, given))):
            if texts is None:
                continue
            hidden = method.engine.hidden_states([_scoring_request(c, d) for c, d in zip(convs, texts, strict=True)])
            scores, feats = [], []
            for c, h in zip(convs, hidden, strict=True):
                head = method.heads[c.aspect]
                scores.append(float(head.score([h], clamp=False)[0]))
                with torch.no_grad():
                    p = next(head.parameters())
                    feats.append(head.proj(h.to(p.device, p.dtype)).float().cpu())
            out[label] = {"hidden": [h.float().cpu() for h in hidden], "features": feats, "scores": scores}
        out["aspects"] = [c.aspect for c in convs]
        return out
    finally:
        method.teardown()


def _describe_request(c):
    from agiqa.engines.base import DescribeRequest

    return DescribeRequest(c.aspect, c.image, c.first_turn)


def _scoring_request(c, description: str):
    from agiqa.engines.base import ScoringRequest

    return ScoringRequest(c.aspect, c.image, c.first_turn, description, c.second_turn, c.max_length, c.max_slices)


def _given_texts(convs, given: dict[str, list[str]] | None) -> list[str] | None:
    """Per conversation (row-major, aspect inner), the given description of its row and aspect."""
    if given is None:
        return None
    k = len({c.aspect for c in convs})
    return [given[c.aspect][j // k] for j, c in enumerate(convs)]


def first_difference(a: list[int], b: list[int]) -> int | None:
    """Index of the first token where `a` and `b` differ (the shorter length if one is a prefix), None if equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compare_pair(name: str, aspects: list[str], tokens_a, tokens_b, feats_a, feats_b, scores_a, scores_b) -> dict:
    """Per aspect: identical round-1 token rows, the earliest divergence, and the largest |a - b| of the
    scoring-pass features (over rows of equal length; unequal lengths are counted) and of the scores."""
    report = {}
    for aspect in sorted(set(aspects)):
        idx = [i for i, a in enumerate(aspects) if a == aspect]
        firsts = [first_difference(tokens_a[i], tokens_b[i]) for i in idx]
        diffs = [d for d in firsts if d is not None]
        same_len = [i for i in idx if feats_a[i].shape == feats_b[i].shape]
        report[aspect] = {
            "rows": len(idx),
            "tokens_identical_rows": sum(d is None for d in firsts),
            "tokens_first_difference_min": min(diffs) if diffs else None,
            "features_shape_mismatch_rows": len(idx) - len(same_len),
            "features_max_abs_diff": max((float((feats_a[i] - feats_b[i]).abs().max()) for i in same_len),
                                         default=None),
            "scores_max_abs_diff": max(abs(scores_a[i] - scores_b[i]) for i in idx),
        }
    return {"pair": name, "aspects": report}


def compare(args) -> dict:
    from agiqa.data.config import ImageLimits
    from agiqa.data.images import clean_prompt, decode_image

    limits = ImageLimits(raw_prompts=not args.clean_prompts, reference_rgb=not args.clean_prompts)
    rows = read_rows(args.data, args.n, args.image_column, args.prompt_column)
    images = [decode_image(b, limits) for b, _ in rows]
    prompts = [clean_prompt(p, limits) for _, p in rows]
    aspects = tuple(args.aspects.split(","))
    reference = _load_reference(args.reference, aspects, len(rows)) if args.reference else None
    engines = [e for e in args.engines.split(",") if e]
    ways: dict[str, dict] = {}
    given = reference["descriptions"] if reference else None
    for e in engines:
        if given is None and ways:  # the first way's descriptions feed the others' scoring passes
            first = ways[engines[0]]
            given = {a: [d for d, asp in zip(first["descriptions"], first["aspects"], strict=True) if asp == a]
                     for a in aspects}
        ways[e] = run_way(e, args, images, prompts, aspects, given)
    pairs = []
    base = ways[engines[0]]
    on = "the reference's" if reference else f"{engines[0]}'s"
    base_pass = base["given"] if reference else base["own"]
    for e in engines[1:]:
        w = ways[e]
        pairs.append(compare_pair(f"{engines[0]} vs {e} (scoring pass on {on} descriptions)", base["aspects"],
                                  base["tokens"], w["tokens"], base_pass["hidden"], w["given"]["hidden"],
                                  base_pass["scores"], w["given"]["scores"]))
    if reference:
        for e in engines:
            w = ways[e]
            order = _reference_order(w["aspects"], aspects)
            pairs.append(compare_pair(f"reference vs {e} (scoring pass on the reference's descriptions)",
                                      w["aspects"], [reference["tokens"][i] for i in order], w["tokens"],
                                      [reference["features"][i] for i in order], w["given"]["features"],
                                      [reference["scores"][i] for i in order], w["given"]["scores"]))
    return {"rows": len(rows), "aspects": list(aspects), "engines": engines,
            "reference": str(args.reference) if args.reference else None, "comparisons": pairs}


def _load_reference(path: str, aspects: tuple[str, ...], n: int) -> dict:
    """A `dump-reference` file: per aspect, n rows of description, tokens, features [L, 512], raw score."""
    import torch

    dump = torch.load(path, map_location="cpu", weights_only=True)
    missing = [a for a in aspects if a not in dump]
    if missing or any(len(dump[a]["descriptions"]) < n for a in aspects):
        raise SystemExit(f"{path}: the dump lacks aspects {missing} or has fewer than {n} rows; rerun "
                         "dump-reference with the same --data, -n and --aspects")
    flat: dict[str, list] = {"tokens": [], "features": [], "scores": []}
    for a in aspects:  # aspect-major here; _reference_order maps to the ways' row-major order
        flat["tokens"] += [list(t) for t in dump[a]["tokens"][:n]]
        flat["features"] += [f.float() for f in dump[a]["features"][:n]]
        flat["scores"] += [float(s) for s in dump[a]["scores"][:n]]
    flat["descriptions"] = {a: list(dump[a]["descriptions"][:n]) for a in aspects}
    flat["n"] = n
    return flat


def _reference_order(way_aspects: list[str], aspects: tuple[str, ...]) -> list[int]:
    """Index into the aspect-major reference lists for each row-major (row, aspect) conversation."""
    k = len(aspects)
    n = len(way_aspects) // k
    return [aspects.index(a) * n + j // k for j, a in enumerate(way_aspects)]


def print_report(report: dict) -> None:
    print(f"{report['rows']} rows, aspects {', '.join(report['aspects'])}")
    for pair in report["comparisons"]:
        print(f"\n{pair['pair']}")
        print(f"  {'aspect':<15}{'same tokens':>13}{'1st diff':>10}{'max |feat|':>13}{'max |score|':>13}")
        for a, r in pair["aspects"].items():
            feat = "n/a" if r["features_max_abs_diff"] is None else f"{r['features_max_abs_diff']:.2e}"
            first = "-" if r["tokens_first_difference_min"] is None else str(r["tokens_first_difference_min"])
            extra = f"  ({r['features_shape_mismatch_rows']} rows of other lengths)" if r[
                "features_shape_mismatch_rows"] else ""
            print(f"  {a:<15}{r['tokens_identical_rows']:>7}/{r['rows']:<5}{first:>10}{feat:>13}"
                  f"{r['scores_max_abs_diff']:>13.2e}{extra}")


# -- dump-reference (the reference's environment) ----------------------------------------------------------

def dump_reference(args) -> None:
    """Run the reference's own end-to-end path per aspect and save what `compare --reference` reads."""
    import tempfile

    import torch

    sys.path.insert(0, str(Path(args.m3_agiqa).resolve()))
    import inference_e2e as ref  # the reference's module, run as it is

    rows = read_rows(args.data, args.n, args.image_column, args.prompt_column)
    out = {}
    seen: dict[str, torch.Tensor] = {}  # what the hooks capture for the row being scored
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (data, _) in enumerate(rows):
            p = Path(tmp) / f"{i:06d}.img"
            p.write_bytes(data)
            paths.append(str(p))
        for aspect in args.aspects.split(","):
            mllm, tokenizer = ref.load_mllm_model("openbmb/MiniCPM-Llama3-V-2_5",
                                                  ref.get_mllm_checkpoint_for_aspect(aspect))
            config = ref.normalize_config_for_consistency(ref.load_config(ref.get_config_path_for_aspect(aspect)),
                                                          aspect)
            predictor = ref.load_predictor_model(config, args.predictor_checkpoint, aspect, mllm)
            hooks = [predictor.model.W.register_forward_hook(lambda m, i, o: seen.__setitem__("W", o.detach())),
                     predictor.model.fc.register_forward_hook(lambda m, i, o: seen.__setitem__("fc", o.detach()))]
            rec = {"descriptions": [], "tokens": [], "features": [], "scores": []}
            for path, (_, prompt) in zip(paths, rows, strict=True):
                seen.clear()
                r = ref.analyze_single_image(mllm, tokenizer, predictor, config, path, prompt, aspect)
                if "W" not in seen:
                    raise SystemExit(f"the reference did not score {path} ({aspect}): {r}")
                rec["descriptions"].append(r["description"])
                rec["tokens"].append(tokenizer.encode(r["description"], add_special_tokens=False))
                rec["features"].append(seen["W"][0].float().cpu())
                rec["scores"].append(float(seen["fc"].reshape(-1)[0]))
            for h in hooks:
                h.remove()
            out[aspect] = rec
            del mllm, predictor
            torch.cuda.empty_cache()
    torch.save(out, args.out)
    print(f"wrote {args.out}: {len(rows)} rows x {len(out)} aspects")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("compare", "dump-reference"):
        p = sub.add_parser(name)
        p.add_argument("--data", required=True, help="Parquet file or shard folder (agiqa's input layout)")
        p.add_argument("-n", type=int, default=16, help="rows to score (the first N, in file order)")
        p.add_argument("--aspects", default=",".join(ASPECTS))
        p.add_argument("--image-column", default="image")
        p.add_argument("--prompt-column", default="prompt")
    c = sub.choices["compare"]
    c.add_argument("--model", required=True)
    c.add_argument("--adapters")
    c.add_argument("--heads")
    c.add_argument("--engines", default="hf,vllm")
    c.add_argument("--reference", help="a dump-reference file")
    c.add_argument("--prompt-set", default="m3agiqa-e2e")
    c.add_argument("--clean-prompts", action="store_true", help="agiqa's prompt/image cleaning, not the reference's")
    c.add_argument("--device", default="auto")
    c.add_argument("--dtype", default="auto")
    c.add_argument("--batch-size", type=int, default=4)
    c.add_argument("--num-beams", type=int)
    c.add_argument("--repetition-penalty", type=float)
    c.add_argument("--max-new-tokens", type=int)
    c.add_argument("--out", help="write the report as JSON here")
    d = sub.choices["dump-reference"]
    d.add_argument("--m3-agiqa", required=True, help="a checkout of strawhatboy/M3-AGIQA")
    d.add_argument("--predictor-checkpoint", default="strawhat/m3-agiqa-predictor-checkpoints")
    d.add_argument("--out", required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cmd == "dump-reference":
        dump_reference(args)
        return 0
    report = compare(args)
    print_report(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
