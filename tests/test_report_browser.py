"""The report of a real sweep, rendered in headless Chromium.

A small function sweep runs on the shared test Ray (random search, hyperband, a failing
corner of the space); its report is opened in Debian's ``chromium`` with a probe script put
first in the page. The probe records JavaScript errors (``error`` events, unhandled
rejections, ``console.error``), then, after the page loaded, checks that every plot drew
(plotly's SVG layer, traces, and a canvas for the WebGL ones), sorts the trials table by
clicking a header, and writes its verdict into ``document.title``, which ``--dump-dom``
prints. A screenshot is saved next to the report (and copied to ``tests/_artifacts/`` when
``RAYSWEEP_KEEP_SCREENSHOTS`` is set).

Chromium missing skips the test, unless ``RAYSWEEP_REQUIRE_BROWSER`` is set (``.ci/run`` sets
it, after installing Chromium): then it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium as find_chromium

import raysweep

pytestmark = [pytest.mark.ray, pytest.mark.slow]

pytest.importorskip("plotly")

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
PLOTS = ("plot-parallel", "plot-importance", "plot-best", "plot-curves")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebGL (parcoords, scattergl) on the CPU: SwiftShader, for this trusted local file.
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
]

# Runs before plotly.js. Verdict in document.title: "OK plots=4 ..." or "ERR ...".
PROBE = """
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push("error: " + (e.message || (e.target && e.target.src) || e.type));
}, true);
window.addEventListener("unhandledrejection", function (e) {
  window.__errors.push("rejection: " + e.reason);
});
(function () {
  var orig = console.error;
  console.error = function () {
    window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return orig.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  setTimeout(function () {
    var drawn = [], bad = [];
    document.querySelectorAll(".js-plotly-plot").forEach(function (d) {
      var data = d._fullData || [];
      var gl = data.some(function (t) { return /gl$|^parcoords$/.test(t.type); });
      var canvases = Array.prototype.filter.call(d.querySelectorAll("canvas"),
        function (c) { return c.width > 0 && c.height > 0; }).length;
      var ok = d.querySelector(".main-svg") && data.length > 0 && (!gl || canvases > 0);
      (ok ? drawn : bad).push(d.id);
    });
    var sort = "none";
    var table = document.querySelector("table.trials");
    if (table) {
      var th = table.tHead.rows[0].cells[0];
      var first = function () { return table.tBodies[0].rows[0].cells[0].textContent; };
      th.click(); var up = first(); th.click(); var down = first();
      sort = up + "/" + down;
    }
    var webgl = !!document.createElement("canvas").getContext("webgl");
    var failed = window.__errors.length || bad.length || !webgl;
    document.title = (failed ? "ERR" : "OK") + " plots=" + drawn.length +
      " drawn=" + drawn.join(",") + " bad=" + bad.join(",") + " webgl=" + webgl +
      " sort=" + sort + " errors=" + window.__errors.join(" | ");
  }, 2000);
});
"""


def _run_chromium(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="rs-chromium-") as profile:
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--virtual-time-budget=20000", *args],
            capture_output=True, text=True, timeout=180, check=False,
        )


def _sweep() -> dict[str, Any]:
    return {
        "method": "random",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
            "noise": {"distribution": "uniform", "min": 0, "max": 1},
            "optimizer": {"values": ["adam", "sgd"]},
            "model": {"parameters": {"width": {"values": [16, 32, 64]}}},
        },
        "raysweep": {"seed": 0},
    }


def test_report_of_a_real_sweep_renders_in_chromium(tmp_path: Path) -> None:
    chromium = find_chromium()

    # Defined here so that Ray pickles it by value: workers cannot import this test module.
    def train(config: dict[str, Any]) -> None:
        import math

        lr, opt = config["lr"], config["optimizer"]
        if opt == "sgd" and lr > 0.06:
            raise ValueError(f"diverged at lr={lr:.3g}")
        # val_loss depends on lr (best near 3e-3) and on the optimizer; `noise` and the
        # width are never used.
        base = (math.log10(lr) + 2.5) ** 2 + (0.3 if opt == "sgd" else 0.0)
        for step in range(1, 9):
            raysweep.log({"val_loss": base + 1.0 / step, "step_time": 0.01 * step})

    result = raysweep.run(_sweep(), function=train, count=16, storage=tmp_path / "results",
                          name="browser")
    trials = result.trials
    assert len(trials) == 16
    statuses = set(trials["status"])
    assert "finished" in statuses and statuses & {"stopped", "failed"}

    # The parameter that drives the metric ranks above the one that is pure noise.
    importance = result.importance().groupby("parameter")["importance"].sum()
    assert importance["lr"] > importance["noise"]

    report = result.report(tmp_path / "report.html")
    html = report.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("<head>", f"<head><script>{PROBE}</script>", 1),
                      encoding="utf-8")

    dom = _run_chromium(chromium, "--dump-dom", probed.as_uri())
    match = re.search(r"<title>((?:OK|ERR) [^<]*)</title>", dom.stdout)
    assert match, f"no verdict from the page; chromium said:\n{dom.stderr[-3000:]}"
    verdict = match.group(1)
    assert verdict.startswith("OK "), verdict
    assert "plots=4 " in verdict, verdict
    assert all(p in verdict for p in PLOTS), verdict
    assert " sort=1/16 " in verdict, verdict  # '#' ascending, then descending

    shot = tmp_path / "report.png"
    _run_chromium(chromium, "--window-size=1400,3000", f"--screenshot={shot}", report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000
    if os.environ.get("RAYSWEEP_KEEP_SCREENSHOTS"):
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "report.png")
        shutil.copy(report, ARTIFACTS / "report.html")
