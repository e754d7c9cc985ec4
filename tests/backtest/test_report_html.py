"""The HTML report: one offline page whose plotly figures carry the run's data and render.

Rendering is checked three ways, strongest available first: headless Chromium loads the page and
plotly draws its SVGs (skipped without a Chromium binary); Node compiles every inline script, plotly.js
included (skipped without node); and always, every ``Plotly.newPlot`` call's data and layout parse as
JSON with finite, non-empty, correctly sized traces.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from autoperp.backtest.report import figures, write_reports
from autoperp.backtest.report import html as html_report
from autoperp.backtest.report.stats import held_position, run_stats
from autoperp.backtest.run_result import BacktestRun
from tests.backtest.test_report_runs import BTC, ETH, isolated_liquidation_case, synthetic_run

_NEWPLOT = re.compile(r'Plotly\.newPlot\(\s*"([^"]+)",\s*')
_CHROMIUM = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "headless_shell",
)


def _skip_ws_comma(text: str, pos: int) -> int:
    while text[pos].isspace():
        pos += 1
    assert text[pos] == ",", text[pos : pos + 40]
    pos += 1
    while text[pos].isspace():
        pos += 1
    return pos


def plotly_calls(page: str) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """``{div id: (data, layout)}`` of every ``Plotly.newPlot`` call in ``page``, parsed as JSON."""
    dec = json.JSONDecoder()
    out = {}
    for m in _NEWPLOT.finditer(page):
        data, end = dec.raw_decode(page, m.end())
        layout, end = dec.raw_decode(page, _skip_ws_comma(page, end))
        config, _ = dec.raw_decode(page, _skip_ws_comma(page, end))
        assert isinstance(data, list) and isinstance(layout, dict) and isinstance(config, dict)
        out[m.group(1)] = (data, layout)
    return out


def values(v: Any) -> np.ndarray:
    """A trace array as plotly.js will read it (typed arrays come base64-encoded)."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]).newbyteorder("<"))
    return np.asarray(v, dtype=np.float64)


def times(v: Any) -> np.ndarray:
    """A date-axis trace array (UTC wall-clock strings) as int64 ms."""
    assert isinstance(v, list) and all(isinstance(t, str) for t in v)  # never epoch numbers: see figures.py
    return np.array(v, dtype="datetime64[ms]").astype(np.int64)


@pytest.fixture(scope="module")
def syn_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestRun, Path, str]:
    run = synthetic_run()
    paths = write_reports(run, tmp_path_factory.mktemp("report"))
    return run, paths["html"], paths["html"].read_text(encoding="utf-8")


def test_page_is_self_contained(syn_page: tuple[BacktestRun, Path, str]) -> None:
    _, path, page = syn_page
    assert path.name == "backtest-syn_run_1.html"
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)  # nothing is fetched
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", page, re.I)
    assert page.count(get_plotlyjs()) == 1  # plotly.js inline, exactly once
    assert page.index(get_plotlyjs()) < page.index("Plotly.newPlot(")


def test_every_figure_div_has_its_plot(syn_page: tuple[BacktestRun, Path, str]) -> None:
    run, _, page = syn_page
    divs = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', page)
    calls = plotly_calls(page)
    assert divs == list(calls) == ["fig-equity", "fig-position", "fig-price-0", "fig-price-1"]
    t0, t1 = int(run.ts[0]), int(run.ts[-1])
    assert calls["fig-equity"][0][0]["x"][0] == "2024-01-01T00:00"  # UTC wall clock, as the tables
    for fig_id, (data, layout) in calls.items():
        assert data, fig_id
        assert layout["xaxis"]["type"] == "date"
        for trace in data:
            x, y = times(trace["x"]), values(trace["y"])
            assert 0 < x.size == y.size <= figures.MAX_POINTS, (fig_id, trace.get("name"))
            assert np.isfinite(x).all() and np.isfinite(y).all()
            assert t0 <= x.min() and x.max() <= t1


def test_figures_carry_the_run(syn_page: tuple[BacktestRun, Path, str]) -> None:
    run, _, page = syn_page
    calls = plotly_calls(page)
    equity, _ = calls["fig-equity"]
    names = [t.get("name") for t in equity if t.get("showlegend", True) is not False]
    assert names == ["portfolio", BTC, ETH]
    portfolio = values(equity[0]["y"])
    assert portfolio[-1] == pytest.approx(run.equity[-1]) and portfolio.max() == pytest.approx(
        run.equity.max()
    )
    drawdown = values(equity[1]["y"])
    assert drawdown.min() == pytest.approx(-100 * run_stats(run).portfolio.max_drawdown)
    price, _ = calls["fig-price-0"]
    kinds = {t["name"]: t for t in price}
    assert {"close", "buy", "sell", "force close"} <= set(kinds)
    log = run.pairs[0].result.trades
    buys = log[(log["kind"] == "fill") & (log["qty"] > 0)]
    np.testing.assert_allclose(values(kinds["buy"]["y"]), buys["price"])
    np.testing.assert_array_equal(times(kinds["buy"]["x"]), buys["ts"])
    position, _ = calls["fig-position"]
    assert [t["name"] for t in position] == [BTC, ETH]
    res = run.pairs[0].result
    at = np.searchsorted(res.ts, times(position[0]["x"]))
    expected = held_position(res)[at] * res.mark[at] / res.equity[at]  # signed notional / equity
    np.testing.assert_allclose(values(position[0]["y"]), expected)
    assert (expected > 0).any() and (expected < 0).any()


def test_tables_and_metadata_are_in_the_page(syn_page: tuple[BacktestRun, Path, str]) -> None:
    run, _, page = syn_page
    stats = run_stats(run)
    for key in ("pairs", "summary", "monthly", "exit_reasons", "meta", "trips"):
        assert f'id="table-{key}"' in page
    assert "BACKTESTING REPORT" in page and "SUMMARY METRICS" in page and "MONTHLY BREAKDOWN" in page
    assert f"{stats.portfolio.total_return * 100:,.2f}%" in page
    assert "synthetic seed 3" in page and "&quot;leverage&quot;: 1.0" in page  # data sources, config
    assert "&quot;window&quot;: 24" in page  # strategy parameters
    assert "a run note" in page


def test_liquidations_are_marked(tmp_path: Path) -> None:
    _, run = isolated_liquidation_case()
    page = write_reports(run, tmp_path)["html"].read_text(encoding="utf-8")
    price, _ = plotly_calls(page)["fig-price-0"]
    liq = next(t for t in price if t["name"] == "liquidation")
    log = run.pairs[0].result.trades
    assert values(liq["y"]).tolist() == pytest.approx(log.loc[log["kind"] == "liquidation", "price"].tolist())
    assert liq["marker"]["symbol"] == "x"
    assert "fig-equity" in page and len(re.findall(r'class="plotly-graph-div"', page)) == 3


def test_fills_beyond_the_cap_are_thinned_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    run = synthetic_run()
    monkeypatch.setattr(figures, "MAX_FILLS", 10)
    monkeypatch.setattr(html_report, "MAX_PAIR_FIGURES", 1)
    page = html_report.render_html(run, run_stats(run))
    calls = plotly_calls(page)
    assert "fig-price-1" not in calls  # one price chart only
    markers = [t for t in calls["fig-price-0"][0] if t["name"] != "close"]
    assert sum(len(t["x"]) for t in markers) == 10
    assert "force close" in [t["name"] for t in markers]  # force-closes and liquidations are never dropped
    fills = int((run.pairs[0].result.trades["kind"] == "fill").sum())
    assert f"shows 9 of {fills:,} fills" in page
    assert "charts show the first 1 of 2 pairs" in page


def test_inline_scripts_compile_in_node(syn_page: tuple[BacktestRun, Path, str], tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: inline scripts not compiled")
    checker = tmp_path / "check.js"
    checker.write_text(
        "const html = require('fs').readFileSync(process.argv[2], 'utf8');\n"
        "const re = /<script[^>]*>([\\s\\S]*?)<\\/script>/g; let m, n = 0;\n"
        "while ((m = re.exec(html)) !== null) { new Function(m[1]); n++; }\n"
        "console.log(n);\n"
    )
    out = subprocess.run([node, str(checker), str(syn_page[1])], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) == 2 + 4  # PlotlyConfig, plotly.js, one per figure


def test_page_renders_in_headless_chromium(syn_page: tuple[BacktestRun, Path, str]) -> None:
    browser = next((b for b in map(shutil.which, _CHROMIUM) if b), None)
    if browser is None:
        pytest.skip("no Chromium binary (chromium, google-chrome, headless_shell) on PATH")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", "--dump-dom",
           syn_page[1].as_uri()]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    # plotly replaces each empty div with its SVG layers; a failed plot leaves the div without them
    for fig_id in ("fig-equity", "fig-position", "fig-price-0", "fig-price-1"):
        start = dom.index(f'id="{fig_id}"')
        assert "main-svg" in dom[start : start + 20_000], fig_id
    assert dom.count('class="scatterlayer') >= 4
