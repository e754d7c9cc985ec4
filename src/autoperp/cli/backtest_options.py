"""The options `backtesting`, `evaluate` and `lookahead-analysis` share (strategy, data, costs), and what
they turn into: the strategy, the loaded markets and the :class:`SimConfig`.

Options are ``Annotated`` aliases: a command declares ``pairs: PairsOption = None`` and gets the same
flags and help text as the others. Where a command words a help text its own way it declares that option
itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError as PydanticValidationError
from typer.core import TyperCommand

from autoperp.backtest.data_source import LoadedData, load_from_files, load_from_store
from autoperp.backtest.loader import load_strategy_file
from autoperp.backtest.strategies import STRATEGIES, get_strategy, make_strategy
from autoperp.backtest.strategy import Strategy
from autoperp.backtest.vault_guard import refuse_vault_paths
from autoperp.cli.download_command import expand_multi_values
from autoperp.cli.options import app_config, split_multi
from autoperp.core.config import AppConfig
from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange
from autoperp.core.timeframes import timeframe_ms
from autoperp.core.types import MarginMode
from autoperp.data.store.parquet import ParquetStore
from autoperp.sim.config import SimConfig

StrategyOption = Annotated[
    str | None,
    typer.Option("--strategy", "-s", help="Built-in strategy, or the class to use from --strategy-path."),
]
StrategyPathOption = Annotated[
    Path | None, typer.Option("--strategy-path", help="Python file holding a strategy class.")
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Trained model id (user_data/models/<id>, from `autoperp train`) instead of a strategy.",
    ),
]
ParamsOption = Annotated[
    list[str] | None, typer.Option("--param", help="Strategy parameter KEY=VALUE (repeatable).")
]
PairsOption = Annotated[
    list[str] | None, typer.Option("--pairs", "-p", help="ccxt pairs, e.g. FIL/USDT:USDT.")
]
TimeframeOption = Annotated[str, typer.Option("--timeframe", "-i", help="Bar timeframe.")]
TimerangeOption = Annotated[
    str | None, typer.Option("--timerange", help="20230401-20230701, 20230401- or -20230701.")
]
DatafileOption = Annotated[
    list[Path] | None, typer.Option("--datafile", help="Candle files to read instead of the store.")
]
DatafileMarkOption = Annotated[
    list[Path] | None, typer.Option("--datafile-mark", help="Mark-price candle files.")
]
DatafileFundingOption = Annotated[
    list[Path] | None, typer.Option("--datafile-funding", help="Funding-rate files.")
]
ExchangeOption = Annotated[
    str | None, typer.Option("--exchange", help="Exchange id in the store (default from config).")
]
LeverageOption = Annotated[float | None, typer.Option("--leverage", help="Leverage (default 1).")]
FeeOption = Annotated[
    float | None, typer.Option("--fee", help="Taker fee, fraction of notional (default 0.0005).")
]
MarginModeOption = Annotated[
    MarginMode | None, typer.Option("--margin-mode", help="cross (default) or isolated.")
]
InitialCashOption = Annotated[
    float | None, typer.Option("--initial-cash", help="Starting wallet, USDT (default 10000).")
]
DelayBarsOption = Annotated[
    int | None, typer.Option("--delay-bars", help="Extra bars between decision and fill.")
]
NoHtmlOption = Annotated[bool, typer.Option("--no-html", help="Skip the HTML report.")]
UserdirOption = Annotated[
    Path | None,
    typer.Option("--userdir", "--user-data-dir", help="user_data directory (default from config)."),
]

#: Options that take every following value up to the next option (freqtrade's ``--pairs A B``).
MULTI_VALUE_OPTIONS = frozenset(
    {"--pairs", "-p", "--datafile", "--datafile-mark", "--datafile-funding", "--param"}
)

#: SimConfig field -> the option that sets it, for error messages.
_OPTION_OF = {
    "initial_cash": "--initial-cash",
    "leverage": "--leverage",
    "taker_fee": "--fee",
    "margin_mode": "--margin-mode",
    "delay_bars": "--delay-bars",
}

_FILE_OPTIONS = ("--datafile", "--datafile-mark", "--datafile-funding")


class BacktestCommand(TyperCommand):
    """``--pairs A B`` and ``--datafile F1 F2`` as well as repeated flags."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_values(args, MULTI_VALUE_OPTIONS))


def command_config(config: Path | None, userdir: Path | None, timeframe: str) -> AppConfig:
    """The config with ``--userdir`` applied; an unknown ``--timeframe`` is refused before any work."""
    cfg = app_config(config)
    if userdir is not None:
        cfg.data.user_data_dir = userdir
    timeframe_ms(timeframe)
    return cfg


def _param_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["fast=10", "slow=50"]`` as ``{"fast": 10, "slow": 50}`` (numbers and true/false parsed)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param '{item}': use KEY=VALUE, e.g. --param fast=10")
        out[key.strip()] = _param_value(value.strip())
    return out


def resolve_strategy(name: str | None, path: Path | None, params: list[str] | None) -> Strategy:
    """A built-in strategy by ``name``, or the class ``name`` (optional) in the file ``path``, built with
    the ``--param KEY=VALUE`` items ``params``."""
    kwargs = parse_params(params or [])
    if path is not None:
        cls = load_strategy_file(path, name)
        return make_strategy(cls, f"{path}: {cls.name or cls.__name__}", **kwargs)
    if not name:
        raise UsageError(
            f"give --strategy NAME (built-in: {', '.join(sorted(STRATEGIES))}) or --strategy-path FILE"
        )
    return get_strategy(name, **kwargs)


def sim_config(
    *,
    base: SimConfig | None = None,
    leverage: float | None,
    fee: float | None,
    margin_mode: MarginMode | None,
    initial_cash: float | None,
    delay_bars: int | None,
) -> SimConfig:
    """SimConfig from the cost options that were given (the others keep ``base``'s values, or the
    defaults); a bad value is one line naming its option."""
    given = {
        "initial_cash": initial_cash,
        "leverage": leverage,
        "taker_fee": fee,
        "margin_mode": margin_mode,
        "delay_bars": delay_bars,
    }
    try:
        kept = base.model_dump() if base is not None else {}
        return SimConfig(**{**kept, **{k: v for k, v in given.items() if v is not None}})
    except PydanticValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        raise UsageError(f"{_OPTION_OF.get(field, field)} {err.get('input')!r}: {err['msg']}") from None


@dataclass(frozen=True)
class DataFiles:
    """``--datafile``, ``--datafile-mark`` and ``--datafile-funding``: read instead of the store."""

    candles: list[Path]
    mark: list[Path]
    funding: list[Path]

    @classmethod
    def of(cls, candles: list[Path] | None, mark: list[Path] | None, funding: list[Path] | None) -> DataFiles:
        return cls(list(candles or []), list(mark or []), list(funding or []))

    def any(self) -> bool:
        return bool(self.candles or self.mark or self.funding)

    def refuse_vault(self) -> None:
        """:class:`UsageError` naming the option of the first file inside the vault."""
        for paths, option in zip((self.candles, self.mark, self.funding), _FILE_OPTIONS, strict=True):
            refuse_vault_paths(paths, option)


def parse_pairs(pairs: list[str] | None) -> list[Symbol]:
    """``--pairs`` values (repeated, or several after one flag, or comma-separated) as symbols."""
    return [Symbol.parse(p) for p in split_multi(pairs)]


def load_data(
    cfg: AppConfig,
    symbols: list[Symbol],
    timeframe: str,
    timerange: TimeRange,
    exchange: str | None,
    files: DataFiles,
) -> LoadedData:
    """From the files when any are given, else from the store of ``exchange`` (default from config)."""
    if files.candles:
        return load_from_files(
            files.candles,
            timeframe,
            timerange,
            symbols=symbols,
            mark_files=files.mark,
            funding_files=files.funding,
            validation=cfg.validation,
        )
    if files.mark or files.funding:
        raise UsageError("--datafile-mark/--datafile-funding need the candles too: add --datafile FILE")
    if not symbols:
        raise UsageError("give --pairs (e.g. --pairs BTC/USDT:USDT), or --datafile FILE")
    store = ParquetStore(cfg.data.data_dir)
    return load_from_store(store, exchange or cfg.data.exchange, symbols, timeframe, timerange)
