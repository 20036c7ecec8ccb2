"""The audit report as one self-contained HTML file: inline CSS, figures as base64 PNG, thumbnails as
base64 JPEG, no script and nothing fetched from the network. Numbers carry `data-key` attributes
(`GROUP|ASPECT|FIELD`) so tools and tests can read them back from the page."""

from __future__ import annotations

import base64
from html import escape

from agiqa.audit.sketch import ALPHA, EXACT_MAX, TINY
from agiqa.score_source import split_key

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.flag-drop,.flag-more{background:#fdd;font-weight:bold}
.flag-rise,.flag-fewer{background:#dfd}.muted{color:#888}.ex{display:inline-block;vertical-align:top;width:220px;
margin:4px;padding:6px;border:1px solid #ddd;border-radius:4px;font-size:12px}.ex img{max-width:208px;display:block}
.ex .d{color:#555;max-height:90px;overflow:hidden}figure{margin:8px 0}
"""


def _num(x, nd: int = 3) -> str:
    if x is None:
        return '<span class="muted">–</span>'
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return escape(str(x))


def _cell(key: str, x, nd: int = 3) -> str:
    return f'<td data-key="{escape(key)}">{_num(x, nd)}</td>'


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _aspect_table(numbers: dict, a: str) -> str:
    head = ("<tr><th class=l>group</th><th>rows</th><th>scored</th><th>mean</th><th>95% CI</th><th>sd</th>"
            "<th>p10</th><th>p25</th><th>median</th><th>median 95% CI</th><th>p75</th><th>p90</th>"
            + "".join(f"<th>{escape(w)}</th>" for w in numbers["overall"]["aspects"][a]["rating_shares"]) + "</tr>")
    rows = []
    for g, gn in [("(all)", numbers["overall"]), *numbers["groups"].items()]:
        an = gn["aspects"][a]
        ci = an["mean_ci"]
        mci = an["median_ci"]
        k = f"{g}|{a}|"
        rows.append(
            f"<tr><td class=l>{escape(g)}</td>{_cell(k + 'rows', gn['rows'])}{_cell(k + 'n', an['n'])}"
            f"{_cell(k + 'mean', an['mean'])}<td>{'–' if ci is None else f'{ci[0]:.3f} – {ci[1]:.3f}'}</td>"
            f"{_cell(k + 'sd', an['sd'])}" + "".join(_cell(k + q, an["quantiles"][q]) for q in ("p10", "p25"))
            + _cell(k + "p50", an["quantiles"]["p50"])
            + f"<td>{'–' if mci is None else f'{mci[0]:.2f} – {mci[1]:.2f}'}</td>"
            + "".join(_cell(k + q, an["quantiles"][q]) for q in ("p75", "p90"))
            + "".join(_cell(f"{k}share_{w}", s, 2) for w, s in an["rating_shares"].items()) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _example(e: dict, thumbs: dict, aspect: str) -> str:
    t = thumbs.get((e["shard"], e["id"]))
    img = (f'<img alt="{escape(e["id"])}" src="data:image/jpeg;base64,{t}">' if t
           else '<div class="muted">(no image)</div>')
    scores = ", ".join(f"{escape(a)} {_num(v, 2)}" for a, v in e["scores"].items())
    descr = escape(e["descriptions"].get(split_key(aspect)[0], ""))
    return (f'<div class="ex" data-id="{escape(e["id"])}">{img}<b>{escape(aspect)} {e["score"]:.3f}</b><br>'
            f"{scores}<br><i>{escape(e['prompt'] or '')}</i><div class=d>{descr}</div>"
            f'<span class="muted">{escape(e["id"])}</span></div>')


def _sources_note(numbers: dict) -> str:
    """Says which aspects mix methods (a cascade's output) and that their numbers are kept apart."""
    if not numbers.get("sources"):
        return ""
    items = "; ".join(f"{escape(a)}: {', '.join(escape(s) for s in srcs)}" for a, srcs in numbers["sources"].items())
    return (f'<p id="sources">Scores from more than one method (<code>&lt;aspect&gt;_score_source</code>), on '
            f"scales that need not agree, are reported per source, never pooled: {items}.</p>")


def render(numbers: dict, figs: dict[str, bytes], thumbs: dict, title: str, compare: list[dict] | None = None,
           other: str | None = None) -> str:
    aspects = numbers["aspects"]
    ov = numbers["overall"]
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>",
             f'<section id="summary"><h2>Summary</h2><p><span data-key="(all)||rows">{ov["rows"]}</span> rows in '
             f'{numbers["shards"]} shard(s), grouped by {escape(" + ".join(numbers["group_by"]))} into '
             f'<span data-key="(all)||groups">{len(numbers["groups"])}</span> group(s); '
             f'<span data-key="(all)||errors">{ov["errors"]}</span> rows with status=error. Quantiles are exact '
             f"for up to {EXACT_MAX} scores per group, else within {ALPHA:g} &times; |value| + {TINY:g} of the exact "
             "ones (each table row's <code>quantile_error</code> in audit.json says which); intervals are 95%."
             "</p>" + _sources_note(numbers) + "</section>"]
    for a in aspects:
        aspect, source = split_key(a)
        whose = f' <span class="muted">(scores from {escape(source)} only)</span>' if source else ""
        parts.append(f'<section id="aspect-{escape(a)}"><h2>{escape(aspect)}{whose}</h2>')
        for kind in ("hist", "box"):
            if f"{a}_{kind}" in figs:
                parts.append(f"<figure>{_img(figs[f'{a}_{kind}'], f'{a} {kind}')}</figure>")
        parts.append(_aspect_table(numbers, a) + "</section>")
    err_rows = "".join(
        f"<tr><td class=l>{escape(g)}</td>{_cell(f'{g}||rows', gn['rows'])}{_cell(f'{g}||errors', gn['errors'])}"
        f"{_cell(f'{g}||error_rate', gn['error_rate'])}<td class=l>"
        + escape("; ".join(f"{r}: {n}" for r, n in list(gn["error_reasons"].items())[:8])) + "</td></tr>"
        for g, gn in [("(all)", ov), *numbers["groups"].items()])
    parts.append('<section id="errors"><h2>Errors</h2><table><tr><th class=l>group</th><th>rows</th><th>errors</th>'
                 f"<th>error rate</th><th class=l>reasons</th></tr>{err_rows}</table></section>")
    parts.append('<section id="examples"><h2>Worst and best examples</h2>')
    for g, gn in numbers["groups"].items():
        for a in aspects:
            an = gn["aspects"][a]
            if not an["n"]:
                parts.append(f'<p class="muted">{escape(g)} / {escape(a)}: no scored rows</p>')
                continue
            for which in ("worst", "best"):
                parts.append(f"<h3>{escape(g)}: {which} on {escape(a)}</h3><div>"
                             + "".join(_example(e, thumbs, a) for e in an[which]) + "</div>")
    parts.append("</section>")
    if numbers["worst_prompts"]:
        rows = "".join(f"<tr><td class=l>{escape(p['prompt'])}</td>{_cell(f'prompt|{i}|mean', p['mean'])}"
                       f"<td>{p['n']}</td><td class=l>{escape(p.get('source') or '')}</td></tr>"
                       for i, p in enumerate(numbers["worst_prompts"]))
        note = " (the first distinct prompts only: the cap was reached)" if numbers["prompts_truncated"] else ""
        parts.append('<section id="worst-prompts"><h2>Prompts that score worst on correspondence</h2>'
                     f"<p>{note}</p><table><tr><th class=l>prompt</th><th>mean</th><th>rows</th><th class=l>source</th>"
                     f"</tr>{rows}</table>"
                     "</section>")
    if compare is not None:
        rows = []
        for r in compare:
            cls = f' class="flag-{r["flag"].split()[0]}"' if r["flag"] else ""
            rows.append(f"<tr{cls}><td class=l>{escape(r['group'])}</td><td class=l>{escape(r['aspect'])}</td>"
                        f"{_cell(r['group'] + '|' + r['aspect'] + '|other_mean', r['other_mean'])}"
                        f"{_cell(r['group'] + '|' + r['aspect'] + '|now_mean', r['mean'])}"
                        f"{_cell(r['group'] + '|' + r['aspect'] + '|diff', r['diff'])}<td>{_num(r['half_width'])}</td>"
                        f"<td class=l data-key=\"{escape(r['group'] + '|' + r['aspect'] + '|flag')}\">"
                        f"{escape(r['flag'] or '')}</td></tr>")
        parts.append(f'<section id="compare"><h2>Compared with {escape(other or "")}</h2><p>Flagged: a change '
                     "beyond the combined 95% interval.</p><table><tr><th class=l>group</th><th class=l>aspect</th>"
                     "<th>other</th><th>this run</th><th>difference</th><th>± interval</th><th class=l>flag</th></tr>"
                     + "".join(rows) + "</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)
