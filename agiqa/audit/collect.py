"""Per-group statistics of scored rows, a batch at a time (`batch_stats`), mergeable (`Collected`):
memory depends on groups, bins and `k`, not on rows. Each shard's are computed by the audit's partial
pass (`agiqa.stages.audit`) and merged in shard order by its reduce (`agiqa.workflows.audit_steps`);
thumbnails are fetched afterwards for the shown rows only.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from agiqa.audit.stats import AspectStats, Example, GroupStats
from agiqa.errors import DataError
from agiqa.score_source import source_column, stat_key

NULL_GROUP = "(null)"
DESCRIPTION_CHARS = 600


@dataclass
class AuditSpec:
    group_by: list[str]
    aspects: list[str]
    id_column: str = "id"
    prompt_column: str | None = "prompt"
    status_column: str | None = "status"
    reason_column: str | None = "error_code"  # or "error"
    examples: int = 4  # best and worst rows shown per group and aspect
    max_groups: int = 1000
    max_prompts: int = 200_000  # distinct prompts tracked for the worst-prompts table
    batch_rows: int = 65536

    def columns(self, available: list[str]) -> list[str]:
        want = [self.id_column, *self.group_by, self.prompt_column, self.status_column, self.reason_column]
        for a in self.aspects:
            want += [f"{a}_score", source_column(f"{a}_score"), f"{a}_rating", f"{a}_description"]
        return [c for c in dict.fromkeys(want) if c and c in available]


@dataclass
class Collected:
    groups: dict[str, GroupStats] = field(default_factory=dict)
    #: (source or None, prompt) -> [sum, n] of correspondence scores (per source: scales never mix)
    prompts: dict[tuple, list] = field(default_factory=dict)
    prompts_truncated: bool = False
    shards: int = 0

    def merge(self, o: Collected, spec: AuditSpec) -> None:
        for g, s in o.groups.items():
            if g not in self.groups:
                if len(self.groups) >= spec.max_groups:
                    raise DataError(f"group-by {'+'.join(spec.group_by)} has more than {spec.max_groups} distinct "
                                    "values; group by a coarser column (or raise max_groups)")
                self.groups[g] = GroupStats()
            self.groups[g].merge(s, spec.examples)
        for p, (total, n) in o.prompts.items():
            if p in self.prompts:
                self.prompts[p][0] += total
                self.prompts[p][1] += n
            elif len(self.prompts) < spec.max_prompts:
                self.prompts[p] = [total, n]
            else:
                self.prompts_truncated = True
        self.prompts_truncated |= o.prompts_truncated
        self.shards += o.shards

    def overall(self, k: int) -> GroupStats:
        out = GroupStats()
        for s in self.groups.values():
            out.merge(s, k)
        return out


def _group_keys(t: pa.Table, group_by: list[str]) -> np.ndarray:
    if not group_by:
        return np.full(t.num_rows, "(all rows)", dtype=object)
    parts = [np.asarray([NULL_GROUP if v is None else str(v) for v in t.column(c).to_pylist()], dtype=object)
             for c in group_by]
    keys = parts[0]
    for p in parts[1:]:
        keys = keys + " / " + p
    return keys


def _floats(t: pa.Table, col: str) -> np.ndarray:
    return np.asarray(pc.fill_null(t.column(col).cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False))


def batch_stats(t: pa.Table, spec: AuditSpec, rel: str) -> Collected:
    """Statistics of one batch of scored rows."""
    out = Collected()
    names = t.column_names
    keys = _group_keys(t, spec.group_by)
    ids = np.asarray([str(v) for v in t.column(spec.id_column).to_pylist()])
    status = (np.asarray(t.column(spec.status_column).to_pylist(), dtype=object)
              if spec.status_column in names else np.full(t.num_rows, "ok", dtype=object))
    reasons = (np.asarray(t.column(spec.reason_column).to_pylist(), dtype=object)
               if spec.reason_column in names else np.full(t.num_rows, None, dtype=object))
    prompts = t.column(spec.prompt_column).to_pylist() if spec.prompt_column in names else [None] * t.num_rows
    scores = {a: _floats(t, f"{a}_score") for a in spec.aspects if f"{a}_score" in names}
    present = {a: np.asarray(t.column(f"{a}_score").is_valid()) for a in scores}  # null is absent; NaN is not
    sources = {a: np.asarray(t.column(source_column(f"{a}_score")).to_pylist(), dtype=object)
               for a in scores if source_column(f"{a}_score") in names}
    ratings = {a: np.asarray(t.column(f"{a}_rating").to_pylist(), dtype=object)
               for a in spec.aspects if f"{a}_rating" in names}
    descr = {a: t.column(f"{a}_description") for a in spec.aspects if f"{a}_description" in names}

    def example(i: int, a: str) -> Example:
        return Example(float(scores[a][i]), str(ids[i]), rel, prompts[i],
                       {b: (round(float(v[i]), 4) if np.isfinite(v[i]) else None) for b, v in scores.items()},
                       {b: (d[i].as_py() or "")[:DESCRIPTION_CHARS] for b, d in descr.items()})

    for g in np.unique(keys):
        m = keys == g
        gs = out.groups.setdefault(str(g), GroupStats())
        gs.rows += int(m.sum())
        gs.statuses.update(Counter(status[m].tolist()))
        err = m & (status == "error")
        gs.add_reasons(Counter("(no reason)" if r is None else str(r) for r in reasons[err].tolist()))
        for a, v, key, sel in _by_source(scores, present, sources, m):
            st: AspectStats = gs.aspect(key)
            st.add(v[sel & present[a]])  # counts NaN/inf apart (`nonfinite`)
            ok = sel & np.isfinite(v)
            if a in ratings:
                st.ratings.update(Counter(r for r in ratings[a][ok].tolist() if r is not None))
            rows = np.flatnonzero(ok)
            if not len(rows):
                continue
            k = spec.examples
            low = rows[np.lexsort((ids[rows], v[rows]))[:k]]
            high = rows[np.lexsort((ids[rows], -v[rows]))[:k]]
            for i in dict.fromkeys([*low.tolist(), *high.tolist()]):
                st.offer(example(i, a), k)
    if "correspondence" in scores and spec.prompt_column in names:
        v = scores["correspondence"]
        src = sources.get("correspondence", np.full(t.num_rows, None, dtype=object))
        ok = np.isfinite(v)
        pt = pa.table({"s": pa.array(src[ok].tolist(), pa.string()),
                       "p": t.column(spec.prompt_column).filter(pa.array(ok)), "v": v[ok]})
        agg = pt.group_by(["s", "p"]).aggregate([("v", "sum"), ("v", "count")])
        for sc, p, total, n in zip(agg.column("s").to_pylist(), agg.column("p").to_pylist(),
                                   agg.column("v_sum").to_pylist(), agg.column("v_count").to_pylist(), strict=True):
            if p is not None:
                out.prompts[(sc, p)] = [total, n]
    return out


def _by_source(scores: dict, present: dict, sources: dict, rows: np.ndarray):
    """(aspect, values, statistics key, row mask) per aspect, split by `<aspect>_score_source` where the
    column exists: a cascade's two methods' scores are on different scales and are never pooled."""
    for a, v in scores.items():
        if a not in sources:
            yield a, v, a, rows
            continue
        src = sources[a]
        scored = rows & present[a]
        for s in sorted({x for x in src[scored].tolist() if x is not None}):
            yield a, v, stat_key(a, s), scored & (src == s)
        unknown = scored & np.array([x is None for x in src], dtype=bool)
        if unknown.any():  # a score without a source: kept apart under the bare aspect
            yield a, v, a, unknown


def thumbnails(store, root: str, wanted: dict[str, set[str]], id_column: str, image_column: str,
               size: int = 192, storage_cfg=None) -> tuple[dict[tuple[str, str], str], list[str]]:
    """((shard, id) -> base64 JPEG thumbnail, why some or all are missing), reading only the shards
    that hold shown rows. Each image goes through the scorer's own reading and normalising
    (`ImageSource`: bytes, `{bytes, path}` structs, paths relative to the shard; `decode_image`:
    EXIF rotation, transparency on white, 16-bit rescaled), so a thumbnail shows what the model saw."""
    from collections import Counter

    from agiqa.data.config import ImageLimits
    from agiqa.data.images import BadRow, decode_image
    from agiqa.data.sources import ImageSource
    from agiqa.storage.uri import join

    source, limits = ImageSource(storage_cfg), ImageLimits().for_method(False)
    out: dict[tuple[str, str], str] = {}
    problems: Counter = Counter()
    for rel, ids in sorted(wanted.items()):
        uri = join(root, rel)
        try:
            f = store.open_read(uri)
        except Exception as e:
            problems[f"shard {rel} cannot be read under {root} ({type(e).__name__})"] += len(ids)
            continue
        with f:
            pf = pq.ParquetFile(f)
            if image_column not in pf.schema_arrow.names:
                problems[f"{root} has no {image_column!r} column (give --images: the shards scoring read)"] += len(ids)
                continue
            for b in pf.iter_batches(batch_size=1024, columns=[id_column, image_column]):
                keep = pc.is_in(b.column(0).cast(pa.string()), pa.array(sorted(ids)))
                for rid, cell in zip(b.column(0).filter(keep).to_pylist(), b.column(1).filter(keep).to_pylist(),
                                     strict=True):
                    try:
                        im = decode_image(source.load(cell, uri), limits)
                    except BadRow as e:
                        problems[e.code] += 1
                        continue
                    im.thumbnail((size, size))
                    buf = io.BytesIO()
                    im.save(buf, "JPEG", quality=80)
                    out[(rel, str(rid))] = base64.b64encode(buf.getvalue()).decode()
    return out, [f"{n} x {why}" for why, n in problems.most_common()]
