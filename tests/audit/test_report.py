"""The audit report, rendered in a real browser (headless Chromium): its sections, images and numbers
are there, and the numbers equal ones computed here from the rows, independently of the code."""

import io
import json
import shutil
import statistics
import subprocess
from html.parser import HTMLParser

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agiqa.errors import ConfigError
from tests.fixtures.shards import png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCHEMA = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("generator", pa.string()),
                    ("quality_score", pa.float32()), ("quality_rating", pa.string()),
                    ("quality_description", pa.string()), ("correspondence_score", pa.float32()), ("status", pa.string()), ("error", pa.string())])


def rating(q):
    return None if q is None else ["bad", "poor", "fair", "good", "excellent"][min(int(q), 4)]


def rows_of(shift: float) -> dict[str, list[dict]]:
    """gen-a: many rows (ties); gen-b: one row; gen-c: only errors. Shards of different sizes."""
    rows = []
    for i in range(40):
        q = round(((i * 37) % 41) / 10 + shift, 2)
        q = min(q, 5.0)
        rows.append({"id": f"a{i:02d}", "generator": "gen-a", "quality_score": q, "status": "ok",
                     "prompt": f"a red cube number {i % 4}",
                     "correspondence_score": round(1 + (i % 4) * 0.8 + ((i * 13) % 5) / 10, 2)})
    rows.append({"id": "b00", "generator": "gen-b", "quality_score": 2.5, "status": "ok", "prompt": "a blue ball",
                 "correspondence_score": 4.0})
    rows += [{"id": f"c{i}", "generator": "gen-c", "quality_score": None, "status": "error", "prompt": "a cat",
              "correspondence_score": None, "error": "image too large" if i else "not an image"} for i in range(3)]
    for r in rows:
        r.setdefault("error", None)
        r["quality_rating"] = rating(r["quality_score"])
        r["quality_description"] = None if r["quality_score"] is None else f"description of {r['id']}"
    return {"one.parquet": rows[:7], "sub/two.parquet": rows[7:38], "three.parquet": rows[38:]}


def write(root, by_shard, images_root=None):
    for rel, rs in by_shard.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rs, schema=SCHEMA), root / rel)
        if images_root is not None:
            (images_root / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table({"id": [r["id"] for r in rs],
                                     "image": [png(int(r["id"][1:]) + 7, 48, 64) for r in rs]}), images_root / rel)


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.imgs, self.keys, self._key = [], [], {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "img":
            self.imgs.append(a)
        self._key = a.get("data-key")

    def handle_data(self, data):
        if self._key and data.strip():
            self.keys[self._key] = data.strip()
            self._key = None


def chromium(args, tmp_path):
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome-profile'}", "--virtual-time-budget=5000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


@pytest.fixture
def report(tmp_path):
    from agiqa.api import audit

    now, before = rows_of(0.0), rows_of(0.6)
    before["sub/two.parquet"] = before["sub/two.parquet"] + [
        {"id": "d00", "generator": "gen-d", "quality_score": 3.0, "quality_rating": "fair", "status": "ok",
         "prompt": "x", "error": None, "quality_description": "d", "correspondence_score": 3.0}]
    write(tmp_path / "scored", now, tmp_path / "images")
    write(tmp_path / "before", before)
    result = audit({"input": str(tmp_path / "scored"), "output": str(tmp_path / "report"),
                    "group_by": ["generator"], "images": str(tmp_path / "images"),
                    "compare": str(tmp_path / "before"), "examples": 3, "progress": False})
    return tmp_path, now, result


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/install.sh installs it "
                                             "as root where apt-get exists)")
def test_report_renders_in_chromium_with_its_sections_images_and_numbers(report):
    tmp_path, now, result = report
    page = tmp_path / "report" / "report.html"
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html  # self-contained
    shot = tmp_path / "shot.png"
    out = chromium(["--window-size=1280,3000", f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert shot.exists(), out.stderr[-2000:]
    from PIL import Image

    im = Image.open(shot).convert("RGB")
    assert im.size == (1280, 3000) and len(set(im.resize((160, 375)).get_flattened_data())) > 50  # drawn, not blank
    # A copy that records, in the DOM, whether each image decoded (the report itself has no script).
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", "<script>window.addEventListener('load', () => { for (const i of "
                                  "document.images) i.setAttribute('data-w', i.naturalWidth); });</script></body>"))
    dom = chromium(["--dump-dom", probe.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = Dom()
    parsed.feed(dom.stdout)
    assert parsed.sections == ["summary", "aspect-quality", "aspect-correspondence", "errors", "examples", "worst-prompts", "compare"]
    figures = [i for i in parsed.imgs if i["src"].startswith("data:image/png")]
    thumbs = [i for i in parsed.imgs if i["src"].startswith("data:image/jpeg")]
    assert len(figures) == 4 and all(int(i["data-w"]) > 100 for i in figures)
    every = [r for rs in now.values() for r in rs]
    gen_a = [r for r in every if r["generator"] == "gen-a"]
    shown = {"b00"}
    for asp in ("quality", "correspondence"):
        shown |= {r["id"] for r in sorted(gen_a, key=lambda r: (r[f"{asp}_score"], r["id"]))[:3]}
        shown |= {r["id"] for r in sorted(gen_a, key=lambda r: (-r[f"{asp}_score"], r["id"]))[:3]}
    # per aspect: 3 worst + 3 best of gen-a, and gen-b's single row in both lists; gen-c has no scored rows
    assert len(thumbs) == 16 and all(int(i["data-w"]) == 64 for i in thumbs)  # 64x48 images, decoded
    assert {i["alt"] for i in thumbs} == shown
    a = [r["quality_score"] for r in gen_a]
    k = parsed.keys
    assert float(k["gen-a|quality|mean"]) == pytest.approx(statistics.mean(a), abs=1e-3)
    assert float(k["gen-a|quality|sd"]) == pytest.approx(statistics.stdev(a), abs=1e-3)
    assert float(k["gen-a|quality|p50"]) == pytest.approx(statistics.median(a), abs=0.005)  # half a bin width
    assert int(k["(all)||rows"]) == len(every) and int(k["(all)||errors"]) == 3
    assert k["gen-b|quality|mean"] == "2.500" and k["gen-b|quality|n"] == "1"
    assert k["gen-c|quality|n"] == "0" and k["gen-c||error_rate"] == "1.000"
    assert k["gen-d|quality|n"] == "0"  # only in the other run: an empty group, rendered
    shares = {w: sum(1 for r in every if r["quality_rating"] == w) / 41 for w in ("fair", "good")}
    assert float(k["(all)|quality|share_fair"]) == pytest.approx(shares["fair"], abs=0.005)
    assert k["gen-a|quality|flag"] == "drop"  # 0.6 lower than before, far beyond the interval
    assert "gen-b|quality|flag" not in k  # one row each: no interval, no flag
    prompt_means = {}
    for r in every:
        if r["correspondence_score"] is not None:
            prompt_means.setdefault(r["prompt"], []).append(r["correspondence_score"])
    worst = min(prompt_means, key=lambda p: (statistics.mean(prompt_means[p]), p))
    assert float(k["prompt|0|mean"]) == pytest.approx(statistics.mean(prompt_means[worst]), abs=1e-3)
    assert worst in dom.stdout


def test_numbers_are_written_as_json_and_csv(report):
    tmp_path, now, result = report
    numbers = json.loads((tmp_path / "report" / "audit.json").read_text())
    every = [r for rs in now.values() for r in rs]
    a = [r["quality_score"] for r in every if r["generator"] == "gen-a"]
    g = numbers["groups"]["gen-a"]["aspects"]["quality"]
    assert g["n"] == len(a) and g["mean"] == pytest.approx(statistics.mean(a), abs=1e-4)
    lo, hi = g["mean_ci"]
    half = 1.959964 * statistics.stdev(a) / len(a) ** 0.5
    assert (lo, hi) == (pytest.approx(statistics.mean(a) - half, abs=1e-3), pytest.approx(statistics.mean(a) + half, abs=1e-3))
    assert [e["id"] for e in g["worst"]] == [r["id"] for r in sorted(
        (r for r in every if r["generator"] == "gen-a"), key=lambda r: (r["quality_score"], r["id"]))[:3]]
    assert numbers["groups"]["gen-c"]["error_reasons"] == {"image too large": 2, "not an image": 1}
    csv_text = (tmp_path / "report" / "groups.csv").read_text().splitlines()
    assert csv_text[0].startswith("group,aspect,rows,errors") and len(csv_text) == 1 + 2 * 5  # (all) + 4 groups, 2 aspects
    assert sorted(p.name for p in (tmp_path / "report" / "figures").iterdir()) == [
        "correspondence_box.png", "correspondence_hist.png", "quality_box.png", "quality_hist.png"]
    assert Image_ok(tmp_path / "report" / "figures" / "quality_hist.png")


def Image_ok(path) -> bool:
    from PIL import Image

    return Image.open(io.BytesIO(path.read_bytes())).size[0] > 100


def test_unknown_group_by_column_is_refused_before_any_work(tmp_path):
    from agiqa.api import audit

    write(tmp_path / "scored", rows_of(0.0))
    with pytest.raises(ConfigError, match="unknown group-by column.*model_version"):
        audit({"input": str(tmp_path / "scored"), "output": str(tmp_path / "r"), "group_by": ["model_version"]})
    with pytest.raises(ConfigError, match="authenticity_score"):
        audit({"input": str(tmp_path / "scored"), "output": str(tmp_path / "r"), "aspects": ["authenticity"]})
    assert not (tmp_path / "r").exists()


def test_cli_audit_writes_the_report_and_refuses_unknown_columns_in_one_line(tmp_path):
    import sys

    write(tmp_path / "scored", rows_of(0.0))
    base = [sys.executable, "-m", "agiqa", "audit", "--input", str(tmp_path / "scored"), "--output",
            str(tmp_path / "r")]
    bad = subprocess.run(base + ["--group-by", "generator,model_version"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "model_version" in bad.stderr
    ok = subprocess.run(base + ["--group-by", "generator", "--no-progress"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "44 rows, 3 group(s)" in ok.stdout and (tmp_path / "r" / "report.html").exists()
