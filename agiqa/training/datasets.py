"""Loaders for the layouts the field uses, into one row shape, split and written as shards.

Every loader returns rows {id, image_path, prompt, <aspect>_mos (0-5), [<aspect>_teacher],
[<aspect>_response], [split]} (METHODS.md section 1 and 2.3):

- `agiqa3k`: `data.csv` with name, prompt, mos_quality, mos_align (0-5; align = correspondence).
- `aigciqa2023`: M3's `data.csv` with name, prompt, mos_quality, mos_authenticity,
  mos_correspondence on 0-100, divided by 20 onto 0-5.
- `aigiqa20k`: the official `info_train.csv` / `info_val.csv` / `info_test.csv` (name, prompt, mos;
  quality only); the files give the split.
- `records`: the reference's conversation records, a JSON list of {id, image, conversations
  [, response_0, response_1]}, one file per split: the teacher description is the first
  assistant turn, `response_0` the fine-tuned model's own; MOS is joined from a labels CSV by
  image file name. Reusing the reference's files is the only way to get its split (it shuffled
  with no seed).
- `parquet`: a plain table with image (bytes or a path), prompt, <aspect>_mos.

`split_rows` draws a seeded split (optionally grouped by prompt, as CLIP-AGIQA (B) does) for
rows that have none; `write_split_shards` embeds the image bytes and writes OUTPUT/<split>/.
"""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

from agiqa.storage.parquet import read_table  # not pq.read_table: see the module

FORMATS = ("agiqa3k", "aigciqa2023", "aigiqa20k", "records", "parquet")
AIGIQA20K_SPLITS = {"train": "info_train.csv", "val": "info_val.csv", "test": "info_test.csv"}


class DatasetError(ValueError):
    """The dataset's files are not what the chosen format expects; the message says what is wrong."""


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _need(rows: list[dict], path: Path, cols: list[str]) -> None:
    missing = [c for c in cols if rows and c not in rows[0]]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; found {list(rows[0])}")


def _mos(value: str, scale: float, where: str) -> float:
    try:
        return float(value) / scale
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: MOS {value!r} is not a number") from None


def load_agiqa3k(csv_path: Path, images: Path) -> list[dict]:
    rows = _read_csv(csv_path)
    _need(rows, csv_path, ["name", "prompt", "mos_quality", "mos_align"])
    return [{"id": r["name"], "image_path": str(images / r["name"]), "prompt": r["prompt"],
             "quality_mos": _mos(r["mos_quality"], 1.0, f"{csv_path}:{i + 2}"),
             "correspondence_mos": _mos(r["mos_align"], 1.0, f"{csv_path}:{i + 2}")}
            for i, r in enumerate(rows)]


def load_aigciqa2023(csv_path: Path, images: Path) -> list[dict]:
    rows = _read_csv(csv_path)
    _need(rows, csv_path, ["name", "prompt", "mos_quality", "mos_authenticity", "mos_correspondence"])
    out = []
    for i, r in enumerate(rows):
        where = f"{csv_path}:{i + 2}"
        out.append({"id": r["name"], "image_path": str(images / r["name"]), "prompt": r["prompt"],
                    **{f"{a}_mos": _mos(r[f"mos_{a}"], 20.0, where)  # 0-100 -> 0-5
                       for a in ("quality", "authenticity", "correspondence")}})
    return out


def load_aigiqa20k(root: Path, images: Path) -> list[dict]:
    out = []
    for split, name in AIGIQA20K_SPLITS.items():
        path = root / name
        if not path.is_file():
            continue
        rows = _read_csv(path)
        _need(rows, path, ["name", "prompt", "mos"])
        out += [{"id": r["name"], "image_path": str(images / r["name"]), "prompt": r["prompt"],
                 "quality_mos": _mos(r["mos"], 1.0, f"{path}:{i + 2}"), "split": split} for i, r in enumerate(rows)]
    if not out:
        raise DatasetError(f"{root}: none of {', '.join(AIGIQA20K_SPLITS.values())} found")
    return out


_QUOTED = re.compile(r"""['"](.+?)['"](?:[\s.]|$)""", re.S)


def prompt_from_first_turn(text: str) -> str | None:
    """The generation prompt quoted in a reference round-1 question (`... prompt: '{prompt}' ...`)."""
    m = _QUOTED.search(text.split("prompt", 1)[-1])
    return m.group(1).strip() if m else None


def load_records(files: dict[str, Path], aspect: str) -> list[dict]:
    """Reference conversation records, one JSON list per split, for one aspect."""
    out = []
    for split, path in files.items():
        try:
            recs = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise DatasetError(f"{path}: not a readable JSON list ({e})") from None
        if not isinstance(recs, list):
            raise DatasetError(f"{path}: expected a JSON list of records, got {type(recs).__name__}")
        for k, rec in enumerate(recs):
            conv = rec.get("conversations") or []
            if "image" not in rec or len(conv) < 2:
                raise DatasetError(f"{path}[{k}]: a record needs 'image' and at least two conversation turns")
            first = conv[0].get("content", "")
            row = {"id": str(rec.get("id", k)), "image_path": rec["image"], "split": split,
                   "prompt": prompt_from_first_turn(first.removeprefix("<image>\n")) or "",
                   f"{aspect}_teacher": conv[1].get("content", "")}
            if len(conv) >= 4:
                row[f"{aspect}_rating"] = conv[3].get("content", "")
            if "response_0" in rec:
                row[f"{aspect}_response"] = rec["response_0"]
            out.append(row)
    return out


def join_labels(rows: list[dict], labels: list[dict]) -> list[dict]:
    """Add the labels' `<aspect>_mos` to `rows`, matched by image file name."""
    by_name = {Path(r["image_path"]).name: r for r in labels}
    out = []
    for r in rows:
        lab = by_name.get(Path(r["image_path"]).name, {})
        out.append({**{k: v for k, v in lab.items() if k.endswith("_mos")}, **r})
    return out


def load_parquet(path: Path) -> list[dict]:

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise DatasetError(f"{path}: no .parquet files")
    rows = []
    for f in files:
        for i, r in enumerate(read_table(f).to_pylist()):
            if "image" not in r or "prompt" not in r:
                raise DatasetError(f"{f}: needs 'image' and 'prompt' columns")
            img = r.pop("image")
            r.setdefault("id", f"{f.stem}-{i}")
            r["image_path" if isinstance(img, str) else "image_bytes"] = img
            rows.append(r)
    return rows


def remap(rows: list[dict], mappings: list[tuple[str, str]]) -> list[dict]:
    """Replace image path prefixes (the reference's records hold its authors' absolute paths)."""
    for r in rows:
        p = r.get("image_path")
        for old, new in mappings:
            if p is not None and p.startswith(old):
                r["image_path"] = new + p[len(old):]
                break
    return rows


def split_rows(rows: list[dict], fractions: dict[str, float], seed: int, by: str | None = None) -> list[dict]:
    """Give rows without a `split` one, deterministically: seeded shuffle, then cut by `fractions`.

    `by="prompt"` keeps all images of one prompt in the same split (no prompt leaks into test).
    """
    todo = [r for r in rows if not r.get("split")]
    if not todo:
        return rows
    total = sum(fractions.values())
    keys = sorted({r[by] for r in todo}) if by else list(range(len(todo)))
    random.Random(seed).shuffle(keys)
    cuts, acc = [], 0.0
    for name, frac in fractions.items():
        acc += frac / total
        cuts.append((name, int(round(acc * len(keys)))))
    assign, start = {}, 0
    for name, end in cuts:
        for k in keys[start:end]:
            assign[k] = name
        start = end
    for i, r in enumerate(todo):
        r["split"] = assign[r[by] if by else i]
    return rows


def write_split_shards(rows: list[dict], out: Path, shard_rows: int = 1000) -> dict:
    """Embed each image's bytes and write OUTPUT/<split>/part-NNNNN.parquet; returns a report.

    A row whose image cannot be read is left out and listed in the report with the reason, so a
    bad path never stops the conversion and never goes unnoticed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    report: dict = {"rows": {}, "missing": []}
    by_split: dict[str, list[dict]] = {}
    for r in rows:
        r = dict(r)
        data = r.pop("image_bytes", None)
        if data is None:
            try:
                data = Path(r["image_path"]).read_bytes()
            except OSError as e:
                report["missing"].append({"id": r["id"], "image_path": r.get("image_path"), "reason": str(e)})
                continue
        r["image"] = data
        r["id"] = str(r["id"])
        by_split.setdefault(r.get("split") or "all", []).append(r)
    columns = list(dict.fromkeys(k for recs in by_split.values() for r in recs for k in r))
    for split, recs in by_split.items():
        recs = [{c: r.get(c) for c in columns} for r in recs]  # one schema even where a label is absent
        d = out / split
        d.mkdir(parents=True, exist_ok=True)
        for n, s in enumerate(range(0, len(recs), shard_rows)):
            pq.write_table(pa.Table.from_pylist(recs[s:s + shard_rows]), d / f"part-{n:05d}.parquet",
                           row_group_size=64)
        report["rows"][split] = len(recs)
    (out / "_prepare_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
