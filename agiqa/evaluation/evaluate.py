"""Agreement between predicted scores and human (or known) MOS, per aspect: SRCC, PLCC, KRCC, RMSE."""

from __future__ import annotations

from agiqa.aspects import ASPECTS
from agiqa.evaluation.metrics import metrics


def evaluate(scored: list[dict], labels: list[dict] | None, id_column: str = "id") -> dict:
    """Metrics per aspect over rows with `status=ok`, a score and a `<aspect>_mos` label (others counted out).

    `labels`, when given, are joined to `scored` on `id_column` (scored values win).
    """
    if labels is not None:
        by_id = {r[id_column]: r for r in labels}
        scored = [{**by_id.get(r.get(id_column), {}), **r} for r in scored]
    out = {}
    for a in ASPECTS:
        if not any(f"{a}_score" in r for r in scored):
            continue
        pairs = [(r[f"{a}_score"], r.get(f"{a}_mos")) for r in scored
                 if r.get("status") in ("ok", "partial") and r.get(f"{a}_score") is not None and r.get(f"{a}_mos") is not None]
        m = metrics([p for p, _ in pairs], [y for _, y in pairs]) if pairs else {"n": 0}
        m["rows_left_out"] = len(scored) - len(pairs)
        out[a] = m
    return out


def format_table(result: dict) -> str:
    cols = ["n", "srcc", "plcc", "plcc_logistic5", "krcc", "rmse"]
    lines = [f"{'aspect':15s}" + "".join(f"{c:>15s}" for c in cols)]
    for a, m in result.items():
        cells = "".join(f"{m.get(c, float('nan')):>15.4f}" if c != "n" else f"{m.get('n', 0):>15d}" for c in cols)
        lines.append(f"{a:15s}{cells}")
    return "\n".join(lines)
