"""The batched RL environment: N trading accounts stepped through the sim kernel in one numba call.

This is the PPO hot path (DESIGN.md §5). Each env holds one account on one market series of a
:class:`~autoperp.learn.feature_table.FeatureTable`; an action is a target position as a fraction of
``max_leverage`` (exposure in units of equity), filled at the next bar's open by the same kernel the
backtests use. See :mod:`autoperp.learn.vec_env_kernel` for the per-step order of work and
:mod:`autoperp.learn.reward` for the reward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from numba import get_num_threads

from autoperp.core.errors import ValidationError
from autoperp.core.types import MarginBracket
from autoperp.learn import vec_env_kernel as K
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.episode_stats import EpisodeStats
from autoperp.learn.feature_table import FeatureTable, build_feature_table, concat_tables
from autoperp.learn.scenario_series import scenario_series
from autoperp.sim import layout as L
from autoperp.sim.brackets import bracket_table, pack_brackets
from autoperp.sim.config import pack_params
from autoperp.sim.kernel import MAX_EVENTS_PER_BAR
from autoperp.sim.market import SimMarket
from autoperp.sim.result import trade_log_frame

__all__ = ["VecObs", "VecTradingEnv"]

#: Below this many envs one thread steps them all: the pool's wake-up costs more than the work.
PARALLEL_MIN_ENVS = 64


@dataclass
class VecObs:
    """One observation per env. Buffers owned by the env, overwritten by the next step: copy to keep."""

    series: np.ndarray  # (N,) int64 series index into the FeatureTable
    bar: np.ndarray  # (N,) int64 decision bar (its close is "now")
    account: np.ndarray  # (N, 4) float32: exposure / max_leverage, uPnL / equity, margin ratio, funding_eta
    window: np.ndarray | None  # (N, window, F) float32 when obs == "window"


def _bars_per_step(config: EnvConfig, markets: Sequence[SimMarket]) -> int:
    ks = set()
    for i, m in enumerate(markets):
        if m.timeframe:
            ks.add(config.bars_per_step(m.timeframe))
        else:
            bar_ms = int(np.median(np.diff(m.ts)))
            step_ms = config.bars_per_step("1m") * 60_000
            if step_ms % bar_ms:
                raise ValidationError(
                    f"learn/vec_env.py: market {i}: bars are {bar_ms} ms apart, not a divisor of the "
                    f"decision interval {config.decision_interval}",
                    field="decision_interval",
                )
            ks.add(step_ms // bar_ms)
    if len(ks) != 1:
        raise ValidationError(
            f"learn/vec_env.py: markets of different timeframes give {sorted(ks)} bars per decision; "
            "use one timeframe",
            field="markets",
        )
    return ks.pop()


class VecTradingEnv:
    """N envs over ``markets`` (with features ``table``), auto-resetting, stepped by one numba call.

    ``start_range=(lo, hi)`` keeps episodes inside bars [lo, hi) (train/validation splits): starts are
    drawn from [max(lo, warm-up), hi − 1 − k] and an episode's last bar is at most hi − 1.
    ``sequential=True`` makes env i walk series i mod S from the first usable bar to the end once, in
    consecutive episodes of ``episode_steps`` (evaluation); afterwards ``finished[i]`` is True and its
    steps are no-ops with reward 0 and neither flag set. Scenario series (``config.scenarios``) are
    built at construction and appended to ``self.markets``/``self.table`` (give ``self.table`` to the
    policy's gather). ``frames[i]`` may carry ``taker_buy_volume``/``trades`` for scenario flow features.
    """

    def __init__(
        self,
        markets: Sequence[SimMarket],
        table: FeatureTable,
        config: EnvConfig,
        n_envs: int,
        seed: int = 0,
        brackets: tuple[MarginBracket, ...] | Sequence[tuple[MarginBracket, ...]] | None = None,
        start_range: tuple[int, int] | None = None,
        *,
        sequential: bool = False,
        frames: Sequence[Mapping[str, np.ndarray]] | None = None,
        record_trades: bool = False,
        auto_reset: bool = True,
    ) -> None:
        if n_envs < 1:
            raise ValidationError(f"learn/vec_env.py: n_envs must be ≥ 1, got {n_envs}", field="n_envs")
        if record_trades and n_envs != 1:
            raise ValidationError("learn/vec_env.py: record_trades needs n_envs=1", field="record_trades")
        if len(markets) != table.n_series:
            raise ValidationError(
                f"learn/vec_env.py: {len(markets)} markets but the table has {table.n_series} series",
                field="table",
            )
        for i, m in enumerate(markets):
            if len(m) != int(table.n_bars[i]):
                raise ValidationError(
                    f"learn/vec_env.py: market {i} has {len(m)} bars, its table series {table.n_bars[i]}",
                    field="table",
                )
        self.config = config
        self.num_envs = n_envs
        self.k = _bars_per_step(config, markets)
        self.n_real = len(markets)
        markets = list(markets)
        self._brackets = self._bracket_tables(markets, brackets)
        if config.scenarios:
            if table.spec is None:
                raise ValidationError(
                    "learn/vec_env.py: scenarios need a table built by build_feature_table (it keeps its spec)",
                    field="scenarios",
                )
            extra, extra_frames = scenario_series(markets, frames, config.scenarios, seed)
            table = concat_tables(table, build_feature_table(extra, extra_frames, table.spec))
            markets += extra
            # a scenario series (markets outer, names inner) keeps its source market's brackets
            self._brackets += [b for b in self._brackets for _ in config.scenarios]
        self.markets = markets
        self.table = table
        self._pack_markets(markets)
        self._plan_starts(start_range)
        self._alloc(n_envs, record_trades)
        self.auto_reset = auto_reset
        self.sequential = sequential
        self._seed = seed
        self._cfg_i[K.C_AUTO_RESET] = 1 if auto_reset else 0
        self._cfg_i[K.C_SEQUENTIAL] = 1 if sequential else 0
        n_threads = get_num_threads()
        self._n_blocks = min(n_envs, 4 * n_threads)
        self._kernel = K.step_parallel if n_envs >= PARALLEL_MIN_ENVS and n_threads > 1 else K.step_serial
        K.seed_rngs(self._rng, seed)
        self._reset_all()

    # ----------------------------------------------------------------------------------------- setup

    @staticmethod
    def _bracket_tables(
        markets: Sequence[SimMarket],
        brackets: tuple[MarginBracket, ...] | Sequence[tuple[MarginBracket, ...]] | None,
    ) -> list[tuple[MarginBracket, ...]]:
        if brackets is None:
            return [bracket_table(m.symbol) if m.symbol else bracket_table("BTC/USDT:USDT") for m in markets]
        if len(brackets) and isinstance(brackets[0], MarginBracket):
            return [tuple(brackets)] * len(markets)  # type: ignore[arg-type]
        tables = [tuple(cast(tuple[MarginBracket, ...], t)) for t in brackets]
        if len(tables) != len(markets):
            raise ValidationError(
                f"learn/vec_env.py: {len(tables)} bracket tables for {len(markets)} markets", field="brackets"
            )
        return tables

    def _pack_markets(self, markets: Sequence[SimMarket]) -> None:
        s = len(markets)
        n_max = max(len(m) for m in markets)
        self._data = np.full((s, n_max, L.N_MARKET), np.nan)  # bar-major, see vec_env_kernel
        self._ts = np.zeros((s, n_max), dtype=np.int64)
        for i, m in enumerate(markets):
            self._data[i, : len(m), :] = m.data.T
            self._ts[i, : len(m)] = m.ts
        self._n_bars = np.array([len(m) for m in markets], dtype=np.int64)
        self._params = np.stack([pack_params(self.config.sim, b) for b in self._brackets])
        packed = [pack_brackets(b) for b in self._brackets]
        k = max(p.shape[0] for p in packed)
        self._bk = np.empty((s, k, 5))
        for i, p in enumerate(packed):
            self._bk[i, : p.shape[0]] = p
            self._bk[i, p.shape[0] :] = p[-1]
        self._nan_t = np.full(n_max, np.nan)
        self._eta = np.ascontiguousarray(self.table.funding_eta)
        if self.config.obs == "window":
            cols = list(self.table.group(self.config.window_group))
            self._wtab = np.ascontiguousarray(self.table.bars[:, :, cols])
            self.window_size = self.config.window
        else:
            self._wtab = np.zeros((s, 1, 0), dtype=np.float32)
            self.window_size = 0

    def _plan_starts(self, start_range: tuple[int, int] | None) -> None:
        lo, hi = start_range if start_range is not None else (0, int(self._n_bars.max()))
        if lo < 0 or hi <= lo:
            raise ValidationError(
                f"learn/vec_env.py: start_range {start_range} is empty", field="start_range"
            )
        warm = max(self.table.warmup, self.config.window - 1 if self.config.obs == "window" else 0)
        self._start_lo = np.maximum(lo, warm) * np.ones(len(self._n_bars), dtype=np.int64)
        self._end_cap = np.minimum(hi, self._n_bars) - 1
        # a start needs one whole step after it
        counts = np.maximum(self._end_cap - self.k - self._start_lo + 1, 0)
        if counts[: self.n_real].sum() == 0:
            raise ValidationError(
                f"learn/vec_env.py: no usable start bar: bars {lo}..{hi}, warm-up {warm} bars, "
                f"{self.k} bars per step, series lengths {self._n_bars[: self.n_real].tolist()}",
                field="start_range",
            )
        if len(counts) > self.n_real and counts[self.n_real :].sum() == 0:
            raise ValidationError(
                "learn/vec_env.py: the scenario series have no usable start bar", field="scenarios"
            )
        self._cum = np.cumsum(counts).astype(np.int64)
        self._cfg_i = np.zeros(K.N_CFG_I, dtype=np.int64)
        self._cfg_i[K.C_K] = self.k
        self._cfg_i[K.C_STEPS] = self.config.episode_steps
        self._cfg_i[K.C_DISCRETE] = 1 if self.config.action == "discrete" else 0
        self._cfg_i[K.C_NBINS] = self.config.n_bins
        self._cfg_i[K.C_RING] = self.config.sim.delay_bars + 1
        self._cfg_i[K.C_N_REAL] = self.n_real
        self._cfg_f = np.zeros(K.N_CFG_F)
        self._cfg_f[K.G_MAX_LEV] = self.config.max_leverage
        self._cfg_f[K.G_LAMBDA] = self.config.reward.lambda_dd
        self._cfg_f[K.G_KAPPA] = self.config.reward.kappa_dsr
        self._cfg_f[K.G_ETA] = self.config.reward.dsr_eta
        self._cfg_f[K.G_SCEN_PROB] = self.config.scenario_prob
        self._cfg_f[K.G_CASH] = self.config.sim.initial_cash

    def _alloc(self, n: int, record: bool) -> None:
        self._envi = np.zeros((n, K.N_ENVI), dtype=np.int64)
        self._envf = np.zeros((n, K.N_ENVF))
        self.state = np.zeros((n, L.N_STATE))
        self._pending = np.full((n, self.config.sim.delay_bars + 1), np.nan)
        self._rng = np.zeros(n, dtype=np.uint64)
        self._evn = np.zeros((n, 1), dtype=np.int64)  # one trade-log row counter per env
        rows = 256 if record else 0
        self._ev_i = np.zeros((rows, L.N_EVENT_INT), dtype=np.int64)
        self._ev_f = np.zeros((rows, L.N_EVENT_FLOAT))
        self._record = record
        self._empty = np.empty(0)
        self._reward = np.zeros(n, dtype=np.float32)
        self.reward_parts = np.zeros(
            (n, 3)
        )  # float64 [Δ log equity, −drawdown penalty, κ·DSR] of the last step
        self._term = np.zeros(n, dtype=bool)
        self._trunc = np.zeros(n, dtype=bool)
        self._stats = np.full((K.N_STATS, n), np.nan)
        self._liq = np.zeros(n, dtype=bool)
        self._n_steps = np.zeros(n, dtype=np.int64)
        self._obs = VecObs(
            series=np.zeros(n, dtype=np.int64),
            bar=np.zeros(n, dtype=np.int64),
            account=np.zeros((n, 4), dtype=np.float32),
            window=np.zeros((n, self.window_size, self._wtab.shape[2]), dtype=np.float32)
            if self.window_size
            else None,
        )
        self._window_buf = (
            self._obs.window if self._obs.window is not None else np.zeros((n, 0, 0), np.float32)
        )
        self._episode = EpisodeStats(
            return_=self._stats[K.T_RETURN],
            sharpe=self._stats[K.T_SHARPE],
            calmar=self._stats[K.T_CALMAR],
            consistency=self._stats[K.T_CONSIST],
            liquidated=self._liq,
            n_steps=self._n_steps,
            final_equity=self._stats[K.T_FINAL],
        )

    # ----------------------------------------------------------------------------------------- API

    @property
    def finished(self) -> np.ndarray:
        """(N,) bool: sequential mode, the env has walked its series to the end."""
        return np.asarray(self._envi[:, K.I_FINISHED] != 0)

    @property
    def episode_end(self) -> np.ndarray:
        """(N,) int64: the last bar (force-close) of each env's current episode."""
        return np.asarray(self._envi[:, K.I_END])

    def _reset_all(self) -> None:
        self._evn[:] = 0
        K.reset_envs(self._envi, self._envf, self.state, self._pending, self._rng, self._data, self._params,
                     self._bk, self._eta, self._wtab, self._cfg_i, self._cfg_f, self._start_lo, self._end_cap,
                     self._cum, self._obs.series, self._obs.bar, self._obs.account, self._window_buf)  # fmt: skip

    def reset(self, seed: int | None = None) -> VecObs:
        """Start a new episode in every env; ``seed`` re-seeds the start draws (reproducible runs)."""
        if seed is not None:
            self._seed = seed
            K.seed_rngs(self._rng, seed)
        self._reset_all()
        return self._obs

    def _check_actions(self, actions: np.ndarray) -> np.ndarray:
        a = actions if isinstance(actions, np.ndarray) else np.asarray(actions, dtype=np.float64)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a.reshape(-1)
        if a.shape != (self.num_envs,):
            raise ValidationError(
                f"learn/vec_env.py: actions must have shape ({self.num_envs},), got {np.shape(actions)}",
                field="actions",
            )
        if a.dtype != np.float64:
            # one kernel signature: every further dtype would be another multi-second numba compile
            a = a.astype(np.float64)
        bad = K.bad_action(a, self._cfg_i)
        if bad >= 0:
            what = "a bin index" if self.config.action == "discrete" else "a finite number"
            raise ValidationError(
                f"learn/vec_env.py: env {bad}: action {a[bad]!r} is not {what}; it was rejected, nothing was stepped",
                field="actions",
            )
        return a

    def step(self, actions: np.ndarray) -> tuple[VecObs, np.ndarray, np.ndarray, np.ndarray, EpisodeStats]:
        """Apply one action per env; returns (obs, reward, terminated, truncated, episode stats).

        Continuous actions outside [-1, 1] are clipped; NaN/±inf raise ValidationError naming the env.
        """
        a = self._check_actions(actions)
        if self._record and self._ev_i.shape[0] - int(self._evn[0, 0]) < (self.k + 2) * MAX_EVENTS_PER_BAR:
            self._grow_log()
        self._kernel(self._n_blocks, a, self._envi, self._envf, self.state, self._pending, self._rng, self._data,
                     self._ts, self._nan_t, self._params, self._bk, self._eta, self._wtab, self._cfg_i, self._cfg_f,
                     self._start_lo, self._end_cap, self._cum, self._evn, self._ev_i, self._ev_f, self._empty,
                     self._reward, self.reward_parts, self._term, self._trunc, self._stats, self._liq,
                     self._n_steps, self._obs.series, self._obs.bar, self._obs.account, self._window_buf)  # fmt: skip
        return self._obs, self._reward, self._term, self._trunc, self._episode

    # ----------------------------------------------------------------------------------------- trade log

    def _grow_log(self) -> None:
        rows = max(256, 2 * self._ev_i.shape[0], (self.k + 2) * MAX_EVENTS_PER_BAR * 2)
        n = int(self._evn[0, 0])
        self._ev_i = np.concatenate((self._ev_i[:n], np.zeros((rows, L.N_EVENT_INT), dtype=np.int64)))
        self._ev_f = np.concatenate((self._ev_f[:n], np.zeros((rows, L.N_EVENT_FLOAT))))

    def clear_trades(self) -> None:
        """Forget the recorded trade log (record_trades mode)."""
        self._evn[:] = 0

    def trades(self) -> pd.DataFrame:
        """The recorded trade log (record_trades mode) as the sim's trade-log DataFrame."""
        return trade_log_frame(self._ev_i, self._ev_f, int(self._evn[0, 0]))
