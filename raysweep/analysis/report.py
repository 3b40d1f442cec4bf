"""The sweep as one self-contained HTML file, and as a notebook summary.

- :func:`build_report` / :func:`write_report`: a summary, the four figures of
  :mod:`raysweep.analysis.figures` (and a multi-objective sweep's Pareto front first, its
  other figures following the first objective) and a sortable table of the trials in one
  HTML file.
  plotly.js is inlined once, so the file opens offline (no network, no server). Above
  :data:`~raysweep.analysis.figures.MAX_DRAWN_TRIALS` trials, the figures draw that many (the
  best and a seeded random sample) and the table holds the best that many, so the file's size
  and build time stay bounded; the page says so and how to get every trial.
- :func:`repr_html`: a notebook summary (counts, best trial, best-so-far sparkline, top
  trials) that needs neither plotly nor JavaScript.

Pure: it builds text and writes only the file it is asked to write.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.analysis.display import (
    OTHER_COLOR,
    STATUS_COLORS,
    fmt,
    goal_mode,
    numbers,
    running_best,
    start_order,
    value_column,
)
from raysweep.analysis.figures import (
    DRAWN_BEST,
    MAX_DRAWN_TRIALS,
    best_figure,
    curves_figure,
    graph_objects,
    importance_figure,
    parallel_figure,
    pareto_figure,
)
from raysweep.analysis.media import MEDIA_CSS, media_section_html
from raysweep.errors import RaysweepError
from raysweep.files import write_text_atomic

if TYPE_CHECKING:
    from raysweep.analysis.tables import SweepResult

__all__ = ["build_report", "repr_html", "trials_table_html", "write_report"]

PLOT_CONFIG = {"displaylogo": False, "responsive": True}


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#222;background:#f4f5f7}
main{max-width:1400px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:6px 0 4px}h2{font-size:17px;margin:0 0 8px}
.sub{color:#555}.card{background:#fff;border:1px solid #dde;border-radius:8px;
padding:14px 16px;margin:14px 0}
.chip{display:inline-block;border-radius:10px;padding:1px 9px;margin-right:6px;color:#fff;
font-size:12px}
code{background:#f0f1f4;padding:1px 4px;border-radius:4px;font-size:12.5px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media(max-width:1000px){.grid2{grid-template-columns:1fr}}
.tablewrap{max-height:640px;overflow:auto;border:1px solid #e3e3e8;border-radius:6px}
table.trials{border-collapse:collapse;font-size:12.5px;width:100%}
table.trials th{position:sticky;top:0;background:#eef0f4;cursor:pointer;user-select:none;
text-align:left;padding:5px 8px;border-bottom:1px solid #ccd;white-space:nowrap}
table.trials th:hover{background:#e1e5ee}
table.trials th[data-dir=asc]::after{content:" \\25B2"}
table.trials th[data-dir=desc]::after{content:" \\25BC"}
table.trials td{padding:3px 8px;border-bottom:1px solid #eee;white-space:nowrap;
max-width:360px;overflow:hidden;text-overflow:ellipsis}
table.trials td.num{text-align:right;font-variant-numeric:tabular-nums}
table.trials tr:hover td{background:#f6f8fc}
"""
_NOTE_STYLE = ("background:#fff8e1;border:1px solid #f0d890;border-radius:6px;"
               "padding:6px 10px;margin:8px 0")

# Click a header to sort by it (again to reverse); numbers numerically, empty cells last.
_SORT_JS = """
document.querySelectorAll("table.trials").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("data-dir") !== "asc";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", asc ? "asc" : "desc");
      var num = th.getAttribute("data-type") === "num";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var td = row.cells[col];
        if (num) { var v = parseFloat(td.getAttribute("data-v")); return isNaN(v) ? null : v; }
        var t = td.textContent; return t === "" ? null : t;
      };
      var keyed = rows.map(function (r) { return [key(r), r]; });
      keyed.sort(function (a, b) {
        if (a[0] === null) { return b[0] === null ? 0 : 1; }
        if (b[0] === null) { return -1; }
        var c = num ? a[0] - b[0] : a[0].localeCompare(b[0], undefined, {numeric: true});
        return asc ? c : -c;
      });
      var frag = document.createDocumentFragment();
      keyed.forEach(function (k) { frag.appendChild(k[1]); });
      body.appendChild(frag);
    });
  });
});
"""


def _table_columns(result: SweepResult) -> list[str]:
    trials = result.trials
    optional = ("node", "gpus", "stop_reason", "error", "runtime_s")
    return [c for c in trials.columns
            if not (c in optional and trials[c].isna().all())]


def trials_table_html(result: SweepResult, limit: int | None = None) -> str:
    """The trials as an HTML table (class ``trials``), best first, with a ``#`` column (start
    order); numeric cells carry ``data-v`` for sorting."""
    import pandas as pd

    trials = result.trials if limit is None else result.trials.head(limit)
    columns = _table_columns(result)
    numbered = start_order(result)
    numeric = {c: pd.api.types.is_numeric_dtype(trials[c]) and not
               pd.api.types.is_bool_dtype(trials[c]) for c in columns}
    esc = html.escape
    head = ['<th data-type="num">#</th>'] + [
        f'<th{" data-type=num" if numeric[c] else ""}>{esc(str(c))}</th>' for c in columns
    ]
    rows = []
    data = {c: trials[c].tolist() for c in columns}
    for i, tid in enumerate(trials["trial_id"].tolist()):
        cells = [f'<td class="num" data-v="{numbered.get(tid, 0)}">{numbered.get(tid, "")}</td>']
        for c in columns:
            v = data[c][i]
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            if numeric[c]:
                dv = "" if missing else repr(float(v))
                cells.append(f'<td class="num" data-v="{dv}">{esc(fmt(v))}</td>')
            elif c == "status":
                color = STATUS_COLORS.get(str(v), OTHER_COLOR)
                cells.append(f'<td><span class="chip" style="background:{color}">'
                             f"{esc(str(v))}</span></td>")
            else:
                text = "" if missing else str(v)
                tip = f' title="{esc(text[-600:])}"' if len(text) > 40 else ""
                if c == "error" and text.strip():  # a traceback: its last line says what
                    text = text.strip().splitlines()[-1]
                cells.append(f"<td{tip}>{esc(text[:120])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="trials"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _counts_html(result: SweepResult) -> str:
    if result.trials.empty:
        return '<span class="sub">no trials yet</span>'
    counts = result.trials["status"].astype(str).value_counts()
    return "".join(
        f'<span class="chip" style="background:{STATUS_COLORS.get(s, OTHER_COLOR)}">'
        f"{n} {html.escape(s)}</span>" for s, n in counts.items()
    )


def _summary_html(result: SweepResult) -> str:
    meta = result.meta
    esc = html.escape
    bits = [f"method <b>{esc(str(meta.get('method')))}</b>"]
    if result.metric:
        bits.append(f"metric <b>{esc(result.metric)}</b> ({esc(str(meta.get('goal')))})")
    objectives = result.objectives
    if objectives:
        bits.append("objectives " + ", ".join(
            f"<b>{esc(name)}</b> ({mode}imize)" for name, mode in objectives))
    if meta.get("early_terminate"):
        bits.append(f"early termination <b>{esc(str(meta['early_terminate']))}</b>")
    out = [f'<div class="sub">{" · ".join(bits)}</div>', f"<div>{_counts_html(result)}</div>"]
    best = result.best
    if best is not None:
        config = json.dumps(best["config"], default=str)
        out.append(
            f'<div>best <b>{esc(str(result.metric))} = {best["value"]:.6g}</b> '
            f'(trial <code>{esc(str(best["trial_id"]))}</code>, {esc(str(best["status"]))}) '
            f"<code>{esc(config[:400])}</code></div>"
        )
    if objectives and len(result.trials):
        size = int(result.trials["pareto"].astype(bool).sum())
        out.append(f"<div>Pareto front <b>{size} trial{'s' if size != 1 else ''}</b> "
                   f"(the <code>pareto</code> column; <code>raysweep results --pareto</code>)"
                   "</div>")
        for name, _ in objectives:
            one = result.best_of(name)
            if one is not None:
                out.append(f'<div>best <b>{esc(name)} = {one["value"]:.6g}</b> (trial '
                           f'<code>{esc(str(one["trial_id"]))}</code>, '
                           f'{esc(str(one["status"]))})</div>')
    return "\n".join(out)


def _left_out_html(result: SweepResult, limit: int) -> str:
    """What a report of more than ``limit`` trials leaves out, and how to get everything."""
    n = len(result.trials)
    if n <= limit:
        return ""
    path = html.escape(str(result.path))
    return (
        f'<div class="note" style="{_NOTE_STYLE}">'
        f"<b>{n:,} trials: this report shows part of them.</b> "
        f"The figures draw {limit:,} trials (the best {min(DRAWN_BEST, limit // 2):,} and a "
        f"random sample of the rest) and the table lists the best {limit:,}; the counts and the "
        f"best value above are over all {n:,}. Every trial: "
        f"<code>raysweep results {path} -o trials.csv</code> (every report: add "
        f"<code>--history</code>).</div>"
    )


def _figure_html(fig: Any, div_id: str) -> str:
    height = fig.layout.height or 450
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                           config=PLOT_CONFIG, default_height=f"{height}px"))


def build_report(result: SweepResult, *, refresh_s: float | None = None,
                 link_from: str | os.PathLike[str] | None = None) -> str:
    """The whole report as one HTML document (plotly.js inlined: it opens offline).

    Args:
        result: The sweep.
        refresh_s: If given, the page reloads itself every ``refresh_s`` seconds (for a
            report rebuilt while the sweep runs).
        link_from: The folder the page will be in: links to the trials' media are relative
            to it (default: the sweep directory).

    Raises:
        RaysweepError: plotly is not installed.
    """
    graph_objects()
    from plotly.offline import get_plotlyjs

    esc = html.escape
    name = str(result.meta.get("name") or Path(result.path).name)
    plots = {
        "parallel": parallel_figure(result),
        "importance": importance_figure(result),
        "curves": curves_figure(result),
        "best": best_figure(result),
    }
    if result.objectives:
        plots["pareto"] = pareto_figure(result)
    divs = {key: _figure_html(fig, f"plot-{key}") for key, fig in plots.items()}
    front = f'<section class="card">{divs["pareto"]}</section>\n' if "pareto" in divs else ""
    refresh = (f'<meta http-equiv="refresh" content="{max(1, round(refresh_s))}">'
               if refresh_s else "")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    live = f" · refreshes every {max(1, round(refresh_s))} s" if refresh_s else ""
    n = len(result.trials)
    limit = MAX_DRAWN_TRIALS
    left_out = _left_out_html(result, limit)
    shown = f"best {limit:,} of {n:,}" if n > limit else f"{n}"
    more = (f" Every trial: <code>raysweep results {esc(str(result.path))} -o trials.csv</code>"
            if n > limit else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>raysweep: {esc(name)}</title>
<style>{_CSS}{MEDIA_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body><main>
<h1>{esc(name)}</h1>
<div class="sub"><code>{esc(str(result.path))}</code> · built {stamp}{live}</div>
<section class="card" id="summary">{_summary_html(result)}{left_out}</section>
{front}<section class="card">{divs["parallel"]}</section>
<div class="grid2">
<section class="card">{divs["importance"]}</section>
<section class="card">{divs["best"]}</section>
</div>
<section class="card">{divs["curves"]}</section>
<section class="card" id="trials"><h2>Trials ({shown})</h2>
<div class="sub">{"Pareto front first" if result.objectives else "Best first"}; click a \
column header to sort.{more}</div>
<div class="tablewrap">{trials_table_html(result, limit=limit if n > limit else None)}\
</div></section>
{media_section_html(result, link_from)}
</main>
<script type="text/javascript">{_SORT_JS}</script>
</body></html>
"""


def write_report(
    result: SweepResult, path: str | os.PathLike[str], *, refresh_s: float | None = None
) -> Path:
    """Write :func:`build_report` to ``path`` atomically (readers never see half a file).

    Returns:
        The path written.

    Raises:
        RaysweepError: the file cannot be written there (named, with the reason).
    """
    target = Path(path)
    text = build_report(result, refresh_s=refresh_s, link_from=target.parent)
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        # Not the temporary file's name that the atomic write would show.
        reason = exc.strerror or exc
        raise RaysweepError(f"cannot write the report to {target}: {reason}") from None
    return target


# -- notebook -----------------------------------------------------------------------------------


def _sparkline(x: np.ndarray, y: np.ndarray, width: int = 320,
               height: int = 70) -> str:
    """An inline SVG step line of ``y`` against ``x``."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) < 2:
        return ""
    x0, x1 = xs.min(), xs.max()
    y0, y1 = ys.min(), ys.max()
    sx = (width - 8) / ((x1 - x0) or 1)
    sy = (height - 8) / ((y1 - y0) or 1)
    px = 4 + (xs - x0) * sx
    py = height - 4 - (ys - y0) * sy
    pts = [f"{px[0]:.1f},{py[0]:.1f}"]
    for i in range(1, len(px)):  # a step line: across at the old value, then up or down
        pts.append(f"{px[i]:.1f},{py[i - 1]:.1f} {px[i]:.1f},{py[i]:.1f}")
    return (f'<svg width="{width}" height="{height}" style="background:#fafafa;'
            f'border:1px solid #eee"><polyline fill="none" stroke="#3b6fb6" stroke-width="2" '
            f'points="{" ".join(pts)}"/></svg>')


_REPR_CSS = (
    ".raysweep-result .chip{display:inline-block;border-radius:10px;padding:0 8px;"
    "margin:2px 6px 2px 0;color:#fff;font-size:12px}.raysweep-result .sub{color:#666}"
    ".raysweep-result td.num{text-align:right}"
)


def repr_html(result: SweepResult, top: int = 10) -> str:
    """A compact HTML summary for notebooks; needs neither plotly nor JavaScript."""
    esc = html.escape
    name = str(result.meta.get("name") or Path(result.path).name)
    parts = [f"<div><b>raysweep sweep {esc(name)}</b> <code>{esc(str(result.path))}</code></div>",
             _summary_html(result)]
    col, label = value_column(result, result.metric)
    if col is not None and len(result.trials):
        numbered = start_order(result)
        x = np.array([numbered[t] for t in result.trials["trial_id"]], dtype=float)
        y = numbers(result.trials[col])
        order = np.argsort(x, kind="stable")
        spark = _sparkline(x[order], running_best(y[order], goal_mode(result)))
        if spark:
            parts.append(f'<div class="sub">best so far ({esc(label)}) by trial number</div>'
                         + spark)
    if len(result.trials):
        more = len(result.trials) - top
        parts.append(trials_table_html(result, limit=top).replace(
            '<table class="trials">', '<table class="trials" style="font-size:12px">'))
        if more > 0:
            parts.append(f'<div class="sub">… {more} more trials: <code>.trials</code>; plots: '
                         "<code>.plot_parallel()</code>, <code>.plot_importance()</code>, "
                         "<code>.plot_curves()</code>, <code>.plot_best()</code>, "
                         "<code>.report()</code></div>")
    return f'<div class="raysweep-result"><style>{_REPR_CSS}</style>' + "\n".join(parts) + "</div>"
