"""`pretrain`: supervised pre-training of the policy on triple-barrier labels, scored out of sample.

    autoperp pretrain --datafile FILUSDT-1m-2023-04.csv.gz FILUSDT-1m-2023-05.csv.gz --epochs 3 --ablation

Prints model vs logistic regression vs class prior (log-loss, accuracy) on the last, purged and
embargoed block, whatever the result, and writes the report as JSON to ``user_data/pretrain_results/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoperp.brain import presets
from autoperp.cli import backtest_options as opt
from autoperp.cli.options import CONFIG_OPTION
from autoperp.core.errors import DataError, UsageError
from autoperp.core.time import TimeRange
from autoperp.data.readers import infer_from_name, read_file
from autoperp.learn.pretrain import PretrainConfig, PretrainReport, run_pretrain
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket

_PRESETS = {"stage1": presets.stage1, "stage2": presets.stage2}


def _flow_columns(paths: list[Path], symbol: str, ts: np.ndarray, timeframe: str) -> dict[str, np.ndarray]:
    """``taker_buy_volume`` and ``trades`` aligned to ``ts`` when every bar has them, else nothing
    (the kernel market keeps only OHLCV, so they are read from the files again)."""
    frames = []
    for p in paths:
        hints: dict[str, object] = {} if infer_from_name(Path(p)).timeframe else {"timeframe": timeframe}
        try:
            parts = read_file(Path(p), **hints)  # type: ignore[arg-type]
        except DataError:
            return {}
        for mf in parts:
            if str(mf.symbol) == symbol and {"taker_buy_volume", "trades"} <= set(mf.frame.columns):
                frames.append(mf.frame[["ts", "taker_buy_volume", "trades"]])
    if not frames:
        return {}
    df = pd.concat(frames).drop_duplicates("ts").set_index("ts").reindex(ts)
    out = {k: df[k].to_numpy(dtype=np.float64) for k in ("taker_buy_volume", "trades")}
    return out if all(np.isfinite(v).all() for v in out.values()) else {}


def _arrays(market: SimMarket) -> dict[str, np.ndarray]:
    names = {"open": L.M_OPEN, "high": L.M_HIGH, "low": L.M_LOW, "close": L.M_CLOSE, "volume": L.M_VOLUME}
    return {k: market.field(i).astype(np.float64) for k, i in names.items()}


def _table(report: PretrainReport, title: str) -> Table:
    t = Table(title=title, box=box.HEAVY_HEAD)
    for c in ("predictor", "OOS log-loss", "OOS accuracy", "epochs", "seconds", "params"):
        t.add_column(c, justify="left" if c == "predictor" else "right", no_wrap=True)
    for r in report.rows:
        t.add_row(
            escape(r.name),
            f"{r.log_loss:.4f}",
            f"{r.accuracy:.3f}",
            str(r.epochs or ""),
            f"{r.seconds:.1f}" if r.seconds else "",
            f"{r.n_params:,}" if r.n_params else "",
        )
    return t


def pretrain(
    datafile: opt.DatafileOption = None,
    timeframe: opt.TimeframeOption = "1m",
    timerange: opt.TimerangeOption = None,
    pairs: opt.PairsOption = None,
    preset: str = typer.Option("stage1", "--preset", help="Policy size: stage1 or stage2."),
    epochs: int = typer.Option(5, "--epochs", help="Most training epochs (early stopping may end sooner)."),
    max_samples: int = typer.Option(20_000, "--max-samples", help="Most decision samples (evenly thinned)."),
    stride: int = typer.Option(15, "--stride", help="Bars between decision times."),
    horizon: int = typer.Option(60, "--horizon", help="Vertical barrier, bars."),
    budget: float = typer.Option(600.0, "--budget", help="Wall-clock budget per model, seconds."),
    seed: int = typer.Option(0, "--seed", help="Seed of weights and batch order."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    ablation: bool = typer.Option(False, "--ablation", help="Also train no-ZIRA and flat-backbone variants."),
    userdir: opt.UserdirOption = None,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Pre-train the policy on triple-barrier labels; report OOS log-loss and accuracy vs baselines."""
    cfg = opt.command_config(config, userdir, timeframe)
    if preset not in _PRESETS:
        raise UsageError(f"--preset {preset!r}: known presets are {', '.join(_PRESETS)}")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device {device!r}: use cpu or cuda")
    if not datafile:
        raise UsageError("give the 1m candles with --datafile FILE")
    try:
        pcfg = PretrainConfig(
            epochs=epochs, max_samples=max_samples, stride=stride, horizon=horizon, budget_s=budget, seed=seed
        )
    except ValueError as e:
        raise UsageError(f"bad option: {' '.join(str(e).split())}") from None
    files = opt.DataFiles.of(datafile, None, None)
    files.refuse_vault()
    data = opt.load_data(cfg, opt.parse_pairs(pairs), timeframe, TimeRange.parse(timerange), None, files)
    console = Console()
    out_dir = cfg.data.user_data_dir / "pretrain_results"
    out_dir.mkdir(parents=True, exist_ok=True)
    for market in data.markets:
        arrays = {**_arrays(market), **_flow_columns(files.candles, market.symbol, market.ts, timeframe)}
        report = run_pretrain(arrays, pcfg, _PRESETS[preset](), device=device, ablation=ablation)
        title = f"Pre-training {market.symbol} {timeframe}: {len(market):,} bars, preset {preset}"
        console.print(_table(report, title))
        shares = ", ".join(f"{s:.2f}" for s in report.class_share_test)
        console.print(
            f"samples fit {report.n_fit:,} / val {report.n_val:,} / test {report.n_test:,}, purged "
            f"{report.n_purged}; test labels −1/0/+1: {shares}; modalities: {', '.join(report.modalities)}",
            highlight=False,
        )
        doc = {"symbol": market.symbol, "timeframe": timeframe, "sources": data.sources, **report.to_dict()}
        stem = f"pretrain_{market.symbol.replace('/', '').replace(':', '_')}_{time.strftime('%Y%m%d_%H%M%S')}"
        path = out_dir / f"{stem}.json"
        path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        console.print(f"results: {escape(str(path))}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("pretrain", cls=opt.BacktestCommand)(pretrain)
