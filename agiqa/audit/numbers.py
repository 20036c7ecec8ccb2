"""The audit's numbers as plain data (JSON, CSV rows): per group and aspect, and a comparison.

An aspect whose scores carry a `<aspect>_score_source` column (a cascade's output) is reported per
source, as `<aspect>@<source>` entries (`sources` lists them): two models' scales pooled into one
distribution would describe neither. Each entry says its quantiles' error (`quantile_error`: "exact",
or the sketch's bound) and how many scores were NaN or infinite (`nonfinite`, in no other number).

A comparison flags a group's mean as `drop` when this run's mean is below the other run's by more
than the combined 95% half-width (1.96 * sqrt(se1^2 + se2^2)), `rise` when above by as much; and an
error rate as `more errors` / `fewer errors` the same way (normal approximation of two proportions).
"""

from __future__ import annotations

import math

from agiqa.aspects import RATING_WORDS
from agiqa.audit.collect import Collected
from agiqa.audit.stats import Z95, AspectStats, Example, GroupStats
from agiqa.score_source import split_key

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
WORST_PROMPTS = 10


def _r(x, nd=4):
    return None if x is None else round(float(x), nd)


def _pair(p):
    return None if p is None else [_r(p[0]), _r(p[1])]


def example_dict(e: Example) -> dict:
    return {"id": e.id, "shard": e.shard, "score": _r(e.score), "prompt": e.prompt, "scores": e.scores,
            "descriptions": e.descriptions}


def aspect_numbers(s: AspectStats, key: str | None = None) -> dict:
    rated = sum(s.ratings.values())
    words = list(RATING_WORDS) + sorted(set(s.ratings) - set(RATING_WORDS))
    aspect, source = split_key(key) if key else (None, None)
    return {
        "column": f"{aspect}_score" if aspect else None, "source": source,
        "n": s.n, "nonfinite": s.nonfinite,
        "quantile_error": s.sketch.error_bound() if s.n else None, "mean": _r(s.mean) if s.n else None, "mean_ci": _pair(s.mean_ci()), "sd": _r(s.sd) if s.n else None,
        "se": _r(s.sd / math.sqrt(s.n), 6) if s.n > 1 else None,
        "min": _r(s.min) if s.n else None, "max": _r(s.max) if s.n else None,
        "quantiles": {f"p{round(q * 100)}": _r(s.quantile(q)) for q in QUANTILES},
        "median_ci": _pair(s.quantile_ci(0.5)),
        "rating_counts": {w: s.ratings.get(w, 0) for w in words},
        "rating_shares": {w: (_r(s.ratings.get(w, 0) / rated) if rated else None) for w in words},
        "worst": [example_dict(e) for e in s.worst_examples()],
        "best": [example_dict(e) for e in s.best_examples()],
    }


def group_numbers(g: GroupStats, aspects: list[str]) -> dict:
    return {"rows": g.rows, "errors": g.errors, "error_rate": _r(g.errors / g.rows) if g.rows else None,
            "error_rate_ci": _pair(g.error_rate_ci()), "statuses": dict(sorted(g.statuses.items())),
            "error_reasons": dict(g.reasons.most_common()),
            "aspects": {a: aspect_numbers(g.aspects.get(a, AspectStats()), a) for a in aspects}}


def report_keys(c: Collected, aspects: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """The statistics reported, in aspect order: an aspect, or one `<aspect>@<source>` per source seen
    (a cascade's column); and aspect -> its sources, for the aspects split."""
    seen = {k for g in c.groups.values() for k in g.aspects}
    keys, sources = [], {}
    for a in aspects:
        split = sorted(k for k in seen if split_key(k)[0] == a and split_key(k)[1] is not None)
        if split:
            sources[a] = [split_key(k)[1] for k in split]
        keys += ([a] if a in seen or not split else []) + split
    return keys, sources


def audit_numbers(c: Collected, group_by: list[str], aspects: list[str], k: int, groups: list[str] | None = None,
                  keys: list[str] | None = None) -> dict:
    """`keys`: the statistics to report (default `report_keys`; a comparison passes this run's to the other)."""
    names = sorted(set(c.groups) | set(groups or []))
    found, sources = report_keys(c, aspects)
    keys = keys if keys is not None else found
    worst = sorted(((total / n, n, p, src) for (src, p), (total, n) in c.prompts.items()),
                   key=lambda x: (x[3] or "", x[0], x[2]))  # worst first within each source
    per_source: dict = {}
    for m, n, p, src in worst:
        if len(per_source.setdefault(src, [])) < WORST_PROMPTS:
            per_source[src].append({"prompt": p, "mean": _r(m), "n": n, "source": src})
    return {
        "group_by": group_by, "aspects": keys, "sources": sources, "shards": c.shards,
        "rows": sum(g.rows for g in c.groups.values()),
        "overall": group_numbers(c.overall(k), keys),
        "groups": {g: group_numbers(c.groups.get(g, GroupStats()), keys) for g in names},
        "worst_prompts": [e for src in sorted(per_source, key=lambda x: x or "") for e in per_source[src]],
        "prompts_truncated": c.prompts_truncated,
    }


def compare_numbers(now: dict, other: dict) -> list[dict]:
    """One row per group (both runs' union) and aspect, with flags for differences beyond the intervals."""
    out = []
    for g in sorted(set(now["groups"]) | set(other["groups"])):
        a_now, a_old = now["groups"].get(g), other["groups"].get(g)
        row_base = {"group": g}
        for a in now["aspects"]:
            x = (a_now or {}).get("aspects", {}).get(a, {})
            y = (a_old or {}).get("aspects", {}).get(a, {})
            row = {**row_base, "aspect": a, "mean": x.get("mean"), "other_mean": y.get("mean"),
                   "n": x.get("n", 0), "other_n": y.get("n", 0), "diff": None, "half_width": None, "flag": None}
            if x.get("mean") is not None and y.get("mean") is not None:
                row["diff"] = _r(x["mean"] - y["mean"])
                if x.get("se") is not None and y.get("se") is not None:
                    hw = Z95 * math.sqrt(x["se"] ** 2 + y["se"] ** 2)
                    row["half_width"] = _r(hw)
                    if row["diff"] < -hw:
                        row["flag"] = "drop"
                    elif row["diff"] > hw:
                        row["flag"] = "rise"
            out.append(row)
        er = {"group": g, "aspect": "error_rate", "mean": (a_now or {}).get("error_rate"),
              "other_mean": (a_old or {}).get("error_rate"), "n": (a_now or {}).get("rows", 0),
              "other_n": (a_old or {}).get("rows", 0), "diff": None, "half_width": None, "flag": None}
        if er["mean"] is not None and er["other_mean"] is not None:
            p1, p2, n1, n2 = er["mean"], er["other_mean"], er["n"], er["other_n"]
            er["diff"] = _r(p1 - p2)
            hw = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
            er["half_width"] = _r(hw)
            if p1 - p2 > hw and hw > 0 or (hw == 0 and p1 > p2):
                er["flag"] = "more errors"
            elif p2 - p1 > hw and hw > 0 or (hw == 0 and p2 > p1):
                er["flag"] = "fewer errors"
        out.append(er)
    return out


CSV_FIELDS = ["group", "aspect", "rows", "errors", "error_rate", "n", "mean", "mean_ci_low", "mean_ci_high", "sd",
              "min", "p10", "p25", "p50", "p75", "p90", "max", *[f"share_{w}" for w in RATING_WORDS], "source",
              "nonfinite", "quantile_error"]


def csv_rows(numbers: dict) -> list[dict]:
    rows = []
    for g, gn in [("(all)", numbers["overall"]), *numbers["groups"].items()]:
        for a, an in gn["aspects"].items():
            ci = an["mean_ci"] or [None, None]
            rows.append({"group": g, "aspect": a, "rows": gn["rows"], "errors": gn["errors"],
                         "error_rate": gn["error_rate"], "n": an["n"], "mean": an["mean"], "mean_ci_low": ci[0],
                         "mean_ci_high": ci[1], "sd": an["sd"], "min": an["min"], **an["quantiles"], "max": an["max"],
                         **{f"share_{w}": an["rating_shares"].get(w) for w in RATING_WORDS},
                         "source": an["source"], "nonfinite": an["nonfinite"], "quantile_error": an["quantile_error"]})
    return rows
