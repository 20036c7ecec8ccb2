"""`agiqa prepare-data`: turn a public AGIQA dataset's own layout into split Parquet shards.

The output (OUTPUT/train/, OUTPUT/val/, OUTPUT/test/ with image bytes, prompt, `<aspect>_mos` on
0-5, teacher descriptions where the layout has them, and a `split` column) is what `finetune`,
`train-head`, `score` and `eval` read. Rows whose image file is missing are left out and listed
in OUTPUT/_prepare_report.json. Loaders: agiqa/training/datasets.py.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    from agiqa.training.datasets import FORMATS

    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--root", help="Dataset folder (holds data.csv, or the AIGIQA-20K info_*.csv files).")
    p.add_argument("--csv", help="The labels CSV, if not ROOT/data.csv (agiqa3k, aigciqa2023; labels for records).")
    p.add_argument("--images", help="Image folder (default ROOT, or ROOT/images when that exists).")
    p.add_argument("--records", action="append", default=[], metavar="SPLIT=FILE",
                   help="A reference conversation-records JSON for one split (repeat: train=..., test=...).")
    p.add_argument("--aspect", help="The aspect the records describe (records only).")
    p.add_argument("--labels-format", default="aigciqa2023", choices=("agiqa3k", "aigciqa2023"),
                   help="Layout of --csv when joining MOS onto records (default aigciqa2023).")
    p.add_argument("--parquet", help="Parquet file or folder (format parquet).")
    p.add_argument("--remap", action="append", default=[], metavar="OLD=NEW",
                   help="Replace an image path prefix (repeatable); the reference records hold absolute paths.")
    p.add_argument("--split", default="train=0.7,val=0.1,test=0.2",
                   help="Fractions for rows without an official split (default train=0.7,val=0.1,test=0.2).")
    p.add_argument("--split-by", choices=("row", "prompt"), default="row",
                   help="`prompt` keeps all images of one prompt in one split (no prompt leaks into test).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-rows", type=int, default=1000)
    p.add_argument("--output", required=True, help="Folder to write <split>/part-*.parquet to.")


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    from agiqa.errors import UserError

    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UserError(f"{what} {item!r}: expected KEY=VALUE")
        out.append((key.strip(), value.strip()))
    return out


def _fractions(text: str) -> dict[str, float]:
    from agiqa.errors import UserError

    try:
        fr = {k: float(v) for k, v in _pairs(text.split(","), "--split")}
    except ValueError:
        raise UserError(f"--split {text!r}: fractions must be numbers, e.g. train=0.8,val=0.1,test=0.1") from None
    if any(v < 0 for v in fr.values()) or sum(fr.values()) <= 0:
        raise UserError(f"--split {text!r}: fractions must be non-negative and not all zero")
    return fr


def load(args) -> list[dict]:
    """The rows of the dataset the arguments name, before splitting."""
    from pathlib import Path

    from agiqa.aspects import check_aspects
    from agiqa.errors import UserError
    from agiqa.training import datasets as D

    root = Path(args.root) if args.root else None
    csv_path = Path(args.csv) if args.csv else (root / "data.csv" if root else None)
    images = Path(args.images) if args.images else (
        root / "images" if root and (root / "images").is_dir() else root)
    if args.format in ("agiqa3k", "aigciqa2023", "aigiqa20k") and (root is None and csv_path is None):
        raise UserError(f"--format {args.format} needs --root (or --csv and --images)")
    if args.format == "agiqa3k":
        return D.load_agiqa3k(csv_path, images or csv_path.parent)
    if args.format == "aigciqa2023":
        return D.load_aigciqa2023(csv_path, images or csv_path.parent)
    if args.format == "aigiqa20k":
        if root is None:
            raise UserError("--format aigiqa20k needs --root (the folder with info_train.csv, ...)")
        return D.load_aigiqa20k(root, images or root)
    if args.format == "parquet":
        if not args.parquet:
            raise UserError("--format parquet needs --parquet FILE_OR_FOLDER")
        return D.load_parquet(Path(args.parquet))
    # records
    if not args.records or not args.aspect:
        raise UserError("--format records needs --aspect and at least one --records SPLIT=FILE")
    try:
        (aspect,) = check_aspects([args.aspect])
    except ValueError as e:
        raise UserError(str(e)) from None
    rows = D.load_records({k: Path(v) for k, v in _pairs(args.records, "--records")}, aspect)
    if csv_path is not None:
        loader = D.load_agiqa3k if args.labels_format == "agiqa3k" else D.load_aigciqa2023
        rows = D.join_labels(rows, loader(csv_path, images or csv_path.parent))
    return rows


def run(args) -> int:
    from pathlib import Path

    from agiqa.errors import UserError
    from agiqa.training import datasets as D

    fractions = _fractions(args.split)
    remaps = _pairs(args.remap, "--remap")
    if args.shard_rows < 1:
        raise UserError("--shard-rows must be at least 1")
    try:
        rows = D.remap(load(args), remaps)
        rows = D.split_rows(rows, fractions, args.seed, by="prompt" if args.split_by == "prompt" else None)
        report = D.write_split_shards(rows, Path(args.output), args.shard_rows)
    except D.DatasetError as e:
        raise UserError(str(e)) from None
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report["rows"].items()))
    print(f"wrote {sum(report['rows'].values())} rows to {args.output} ({counts})")
    if report["missing"]:
        print(f"{len(report['missing'])} row(s) left out: image not readable (first: "
              f"{report['missing'][0]['image_path']}); see {Path(args.output) / '_prepare_report.json'}")
    return 0
