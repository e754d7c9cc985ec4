"""RL speed: our batched trading env against gym-anytrading and SB3's DummyVecEnv, and our PPO against
SB3's PPO, on one machine, in one process, on the same data.

Data: the real Binance USD-M FILUSDT 1m months (``$AUTOPERP_SHARED`` or ``../shared``, then
``data/real/binance_um_1m_monthly_isda``; two contiguous series, 2023-04→06 and 2023-08→11, July is
missing at the source) with their taker-buy volume and trade counts; the synthetic generator when the
files are absent (or with ``--synthetic``).

1. Agreement first: our ``obs="window"`` observation is gym-anytrading's ``StocksEnv`` observation made
   scale-free: the same (10, 2) float32 window of the same bars of the same closes, with 100·log(p_t /
   p_t−1) for its diff column and 100·log(p_t / EMA_32(p)_t) for its price column (both must match what
   gym-anytrading's own window implies to 1e-3 percent); our gymnasium ``TradingEnv`` must hand SB3 the
   feature table's window rows; the policy-side gather must return the table's rows at each env's bar.
2. Env steps/s (random actions drawn before the clock starts, for every engine): ours at 1, 64, 1,024
   and 8,192 envs with the window observation; with ``obs="indices"`` alone, and with the gather that
   materialises the policy's Observation tensors for the batch; gym-anytrading's ``StocksEnv`` (one env
   stepped in a Python loop, as its users do); SB3 ``DummyVecEnv`` over our ``TradingEnv`` wrapped in
   SB3's ``Monitor`` (as ``make_vec_env`` does), 1 and 8 envs. Each figure is the median of ``--repeat``
   timed runs after a warm-up.
3. PPO training throughput (env steps/s including the updates), CPU, the same ``--torch-threads`` for
   both: ``train_ppo`` with ``presets.stage1_rl`` (256 envs × 32 steps per update, the PPOConfig
   defaults) on our vec env for ``--ppo-steps`` env steps, against SB3 PPO (``MlpPolicy``, every SB3
   default) on our ``TradingEnv`` through ``DummyVecEnv`` with 1 and 8 envs for ``--sb3-steps``; each
   after a short warm-up run that pays the one-off costs (numba compile, torch's first passes). The ratio
   uses the faster SB3 figure. Our time is split into rollouts and updates (from ``train_ppo``'s own
   per-update timings), and one rollout step into env step, gather and policy forward, timed alone.

Peers come from the ``bench`` extra (``pip install -e .[bench]``); they are never imported by the package.
Last line: JSON {"vec_env_steps_per_s_8192": a, "ratio_vs_gym_anytrading": b, "ppo_steps_per_s": c,
"ratio_vs_sb3_ppo": d}.
"""

from __future__ import annotations

import os

# OpenMP's default spin-wait makes every parallel region (numba's omp layer, torch's intra-op pool) wait
# for a descheduled partner thread on a machine shared with other work: an empty numba prange region took
# 16 ms on the 2-core dev box under load, 9 µs with PASSIVE. Both our engine and SB3's torch get the same
# setting; set OMP_WAIT_POLICY yourself to measure another. (Before the imports: libgomp reads it once.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numba
import numpy as np
import pandas as pd
import torch

from autoperp.brain.observation import Observation
from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.brain.presets import stage1_rl
from autoperp.data.synthetic import generate_series
from autoperp.learn.env import TradingEnv
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import FeatureTable, TableSpec, build_feature_table
from autoperp.learn.gather import ObservationGather
from autoperp.learn.ppo import TrainResult, train_ppo
from autoperp.learn.ppo_config import PPOConfig
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.sim import build_market
from autoperp.sim.market import SimMarket

WINDOW = 10  # gym-anytrading's usual window_size, and EnvConfig.window's default
REPO = Path(__file__).resolve().parents[1]
FIL_MONTHS = (("04", "05", "06"), ("08", "09", "10", "11"))


@dataclass
class BenchData:
    """Markets for our envs, their extra candle columns (flow), and where they came from."""

    markets: list[SimMarket]
    frames: list[dict[str, np.ndarray]]
    source: str
    notes: list[str] = field(default_factory=list)


def shared_dir() -> Path:
    """``$AUTOPERP_SHARED`` or ``../shared`` beside the checkout (as tests/conftest.py)."""
    return Path(os.environ.get("AUTOPERP_SHARED", REPO.parent / "shared")).resolve()


def _market_from_frame(df: pd.DataFrame, symbol: str) -> tuple[SimMarket, dict[str, np.ndarray]]:
    candles = df[["ts", "open", "high", "low", "close", "volume"]]
    market = build_market(candles, symbol=symbol, timeframe="1m")
    extra = {
        "taker_buy_volume": df["taker_buy_volume"].to_numpy(np.float64),
        "trades": df["trades"].to_numpy(np.float64),
    }
    return market, extra


def load_data(synthetic: bool, synthetic_bars: int) -> BenchData:
    """Real FILUSDT months when present (see the module docstring), else two synthetic series."""
    folder = shared_dir() / "data" / "real" / "binance_um_1m_monthly_isda"
    paths = [[folder / f"FILUSDT-1m-2023-{m}.csv.gz" for m in months] for months in FIL_MONTHS]
    if not synthetic and all(p.is_file() for part in paths for p in part):
        markets, frames = [], []
        for part in paths:
            df = pd.concat([pd.read_csv(p) for p in part], ignore_index=True)
            df = df.rename(columns={"open_time": "ts", "count": "trades"})
            m, f = _market_from_frame(df, "FILUSDT")
            markets.append(m)
            frames.append(f)
        rows = sum(len(m) for m in markets)
        return BenchData(markets, frames, f"real Binance FILUSDT 1m, {len(markets)} series, {rows:,} bars")
    markets, frames = [], []
    for seed in (7, 8):
        s = generate_series(synthetic_bars, symbol="SYN/USDT:USDT", seed=seed)
        m, f = _market_from_frame(s.candles.frame, "SYNUSDT")
        markets.append(m)
        frames.append(f)
    why = "--synthetic" if synthetic else f"real files not found under {folder}"
    return BenchData(markets, frames, f"synthetic 1m, 2 series × {synthetic_bars:,} bars ({why})")


@numba.njit(parallel=True)
def _touch(x: np.ndarray) -> None:
    for i in numba.prange(x.shape[0]):
        x[i] += 1.0


def median_rate(fn: Callable[[], int], repeat: int) -> tuple[float, float]:
    """(median, best) of ``repeat`` runs of ``fn`` (which returns the env steps it made), in steps/s."""
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        steps = fn()
        rates.append(steps / (time.perf_counter() - t0))
    return float(np.median(rates)), float(np.max(rates))


def _finite(x: float, digits: int) -> float | None:
    """``x`` rounded, or None (JSON null) when it was not measured."""
    if not np.isfinite(x):
        return None
    return round(x) if digits == 0 else round(x, digits)


def calls_per_s(fn: Callable[[int], object], calls: int, repeat: int) -> float:
    """Median calls/s of ``calls`` consecutive ``fn(i)`` over ``repeat`` runs (after one warm call)."""
    fn(0)

    def go() -> int:
        for i in range(calls):
            fn(i)
        return calls

    return median_rate(go, repeat)[0]


def _calibrate(step: Callable[[np.ndarray], object], bank: np.ndarray, seconds: float) -> int:
    """Step calls per timed run so that one run lasts about ``seconds`` (after three warm calls)."""
    for i in range(3):
        step(bank[i])
    t0 = time.perf_counter()
    for i in range(5):
        step(bank[i])
    per_call = (time.perf_counter() - t0) / 5
    return max(5, int(seconds / max(per_call, 1e-9)))


# ---------------------------------------------------------------------------------------------- peers


def anytrading_env(close: np.ndarray) -> Any:
    """gym-anytrading's StocksEnv over ``close``: its tick index equals our bar index."""
    from gym_anytrading.envs import StocksEnv  # bench extra

    df = pd.DataFrame({"Close": close.astype(np.float64)})
    return StocksEnv(df=df, window_size=WINDOW, frame_bound=(WINDOW, len(close)))


def anytrading_runner(close: np.ndarray, steps: int) -> Callable[[], int]:
    """One StocksEnv stepped ``steps`` times in a Python loop, resetting at the data end."""
    env = anytrading_env(close)
    actions = np.random.default_rng(0).integers(0, 2, steps).tolist()
    env.reset(seed=0)

    def go() -> int:
        step, reset = env.step, env.reset
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()
        return steps

    return go


def _factories(make_env: Callable[[int], Any], n_envs: int) -> list[Callable[[], Any]]:
    """DummyVecEnv's env constructors: env i is seeded with i."""
    return [partial(make_env, i) for i in range(n_envs)]


def sb3_vec_runner(make_env: Callable[[int], Any], n_envs: int, seconds: float) -> Callable[[], int]:
    """SB3 ``DummyVecEnv`` over ``n_envs`` of our gymnasium envs, random Box actions drawn beforehand."""
    from stable_baselines3.common.vec_env import DummyVecEnv  # bench extra

    venv = DummyVecEnv(_factories(make_env, n_envs))
    venv.seed(0)
    venv.reset()
    bank = np.random.default_rng(0).uniform(-1, 1, (64, n_envs, 1)).astype(np.float32)
    calls = _calibrate(venv.step, bank, seconds)

    def go() -> int:
        step = venv.step
        for i in range(calls):
            step(bank[i & 63])
        return calls * n_envs

    return go


def sb3_ppo_rate(make_env: Callable[[int], Any], n_envs: int, steps: int) -> tuple[float, int]:
    """(env steps/s, steps made) of SB3 PPO with every default (MlpPolicy, n_steps 2048, batch 64,
    10 epochs) learning for ``steps`` env steps on ``n_envs`` envs, after a small warm-up run."""
    from stable_baselines3 import PPO  # bench extra
    from stable_baselines3.common.vec_env import DummyVecEnv  # bench extra

    def venv() -> DummyVecEnv:
        return DummyVecEnv(_factories(make_env, n_envs))

    # warm-up only pays one-off costs (numba compile of the env, torch's first autograd pass)
    PPO("MlpPolicy", venv(), n_steps=64, batch_size=64, n_epochs=1, device="cpu", seed=1).learn(64 * n_envs)
    model = PPO("MlpPolicy", venv(), device="cpu", seed=0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    dt = time.perf_counter() - t0
    return model.num_timesteps / dt, int(model.num_timesteps)


# ---------------------------------------------------------------------------------------------- ours


def env_config(obs: Literal["indices", "window"]) -> EnvConfig:
    return EnvConfig(obs=obs, window=WINDOW, window_group="raw")


def vec_runner(
    env: VecTradingEnv, seconds: float, gather: ObservationGather | None = None
) -> Callable[[], int]:
    """Our VecTradingEnv stepped with random actions; with ``gather``, each step's Observation tensors
    are also materialised for the whole batch (what PPO's policy forward needs)."""
    n = env.num_envs
    bank = np.random.default_rng(0).uniform(-1, 1, (64, n)).astype(np.float32)
    env.reset(seed=0)

    def step(a: np.ndarray) -> object:
        obs = env.step(a)[0]
        if gather is None:
            return obs
        return gather(*(torch.from_numpy(x) for x in (obs.series, obs.bar, obs.account)))

    calls = _calibrate(step, bank, seconds)

    def go() -> int:
        for i in range(calls):
            step(bank[i & 63])
        return calls * n

    return go


# ---------------------------------------------------------------------------------------------- agreement


def check_window_agreement(env: VecTradingEnv, table: FeatureTable, close: np.ndarray) -> str:
    """Our window observation against gym-anytrading's at the same bars of series 0.

    The "raw" group is the scale-free form of gym-anytrading's (price, diff) pair: close_diff =
    100·log(p_t / p_{t−1}) from its price and diff columns, close = 100·log(p_t / EMA_fast(p)_t); both
    clipped to ±10. Exits non-zero when a value differs by more than 1e-3 (percent units, float32).
    """
    at = anytrading_env(close)
    sf = np.asarray(at.signal_features, dtype=np.float64)
    price, diff = sf[:, 0], sf[:, 1]
    prev = np.r_[price[0], price[:-1]]
    want_diff = np.clip(100.0 * np.log1p(diff / prev), -10, 10)
    assert table.spec is not None
    ema = np.empty_like(price)
    acc, alpha = price[0], 2.0 / (table.spec.fast_window + 1.0)
    for i, p in enumerate(price):
        acc += alpha * (p - acc)
        ema[i] = acc
    want_close = np.clip(100.0 * np.log(price / ema), -10, 10)
    checked, worst = 0, 0.0
    bank = np.random.default_rng(1).uniform(-1, 1, (40, env.num_envs)).astype(np.float32)
    obs = env.reset(seed=1)
    for t in range(40):
        assert obs.window is not None
        for i in np.flatnonzero(obs.series == 0)[:64]:
            b = int(obs.bar[i])
            rows = slice(b - WINDOW + 1, b + 1)
            got = obs.window[i]
            if got.shape != (WINDOW, 2) or got.dtype != np.float32:
                sys.exit(
                    f"window observation is {got.dtype} {got.shape}; gym-anytrading's is float32 ({WINDOW}, 2)"
                )
            at._current_tick = b  # its own slicing, not a copy of it
            if not np.array_equal(at._get_observation(), sf[rows].astype(np.float32)):
                sys.exit(f"gym-anytrading's window at tick {b} is not its rows {rows}")
            err = max(np.abs(got[:, 1] - want_diff[rows]).max(), np.abs(got[:, 0] - want_close[rows]).max())
            worst = max(worst, float(err))
            checked += 1
        obs = env.step(bank[t])[0]
    if checked == 0 or worst > 1e-3:
        sys.exit(f"window observations disagree with gym-anytrading's: {checked} checked, worst {worst:.2e}")
    return (
        f"{checked} windows agree with gym-anytrading's (price, diff) at the same bars, worst {worst:.1e} %"
    )


def check_gym_env(env: TradingEnv, table: FeatureTable) -> str:
    """Our gymnasium TradingEnv hands SB3 the table's window rows followed by the 4 account values."""
    raw = list(table.group("raw"))
    obs, info = env.reset(seed=3)
    series = int(info["series"])  # an episode stays on its series; step infos carry the bar only
    worst = 0.0
    for t in range(200):
        b = int(info["bar"])
        want = table.bars[series, b - WINDOW + 1 : b + 1][:, raw].reshape(-1)
        if obs.shape != (WINDOW * 2 + 4,) or obs.dtype != np.float32:
            sys.exit(
                f"TradingEnv observation is {obs.dtype} {obs.shape}, expected float32 ({WINDOW * 2 + 4},)"
            )
        worst = max(worst, float(np.abs(obs[: WINDOW * 2] - want).max()))
        obs, _, term, trunc, info = env.step(np.array([0.5 if t % 7 < 3 else -0.5], np.float32))
        if term or trunc:
            obs, info = env.reset()
            series = int(info["series"])
    if worst != 0.0:
        sys.exit(f"TradingEnv's window differs from the feature table by {worst:.2e}")
    return "TradingEnv: 200 observations equal the table's window rows"


def check_gather(
    gather: ObservationGather, env: VecTradingEnv, table: FeatureTable, config: PolicyConfig
) -> str:
    """The gather's fast window, regime, alt and account rows equal the table's at each env's bar."""
    obs = env.reset(seed=2)
    o: Observation = gather(*(torch.from_numpy(x) for x in (obs.series, obs.bar, obs.account)))
    g, w = table.groups, config.fast_window
    rows = min(env.num_envs, 64)
    for i in range(rows):
        s, b = int(obs.series[i]), int(obs.bar[i])
        ok = o.fast is not None and np.array_equal(
            o.fast[i].numpy(), table.bars[s, b - w + 1 : b + 1][:, list(g["price"])]
        )
        ok &= np.array_equal(o.regime[i].numpy(), table.bars[s, b, list(g["regime"])])
        ok &= o.alt is None or np.array_equal(o.alt[i].numpy(), table.bars[s, b, list(g["alt"])])
        ok &= o.account is None or np.array_equal(o.account[i].numpy(), obs.account[i])
        if not ok:
            sys.exit(f"gather row {i} (series {s}, bar {b}) differs from the feature table")
    return f"gather: {rows} rows equal the table's fast/regime/alt rows and the env's account"


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--synthetic", action="store_true", help="the synthetic generator even if real data exists"
    )
    ap.add_argument("--synthetic-bars", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--env-seconds", type=float, default=0.5, help="length of one timed env run (s)")
    ap.add_argument("--envs", type=int, nargs="+", default=[1, 64, 1024, 8192])
    ap.add_argument("--anytrading-steps", type=int, default=200_000)
    ap.add_argument("--ppo-steps", type=int, default=32_768)
    ap.add_argument("--ppo-envs", type=int, default=256)
    ap.add_argument("--sb3-steps", type=int, default=16_384)
    ap.add_argument("--sb3-envs", type=int, nargs="+", default=[1, 8])
    ap.add_argument(
        "--torch-threads", type=int, default=1,
        help="torch threads for both PPOs: on a shared machine a second OpenMP thread waits on a descheduled "
        "partner (SB3 PPO ran 16× slower at 2 threads than at 1 on the 2-core dev box under load)",
    )  # fmt: skip
    ap.add_argument("--skip-ppo", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.torch_threads)

    data = load_data(args.synthetic, args.synthetic_bars)
    print(f"data       {data.source}")
    _touch(np.zeros(4))  # starts numba's pool: its threading layer is known after a first parallel call
    print(f"threads    torch {torch.get_num_threads()}, numba {numba.get_num_threads()} ({numba.threading_layer()}), "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, {os.cpu_count()} cores")  # fmt: skip
    close0 = data.markets[0].field(3)
    t0 = time.perf_counter()
    table = build_feature_table(data.markets, data.frames, TableSpec())
    print(
        f"table      {table.bars.shape} float32, warm-up {table.warmup} bars, built in {time.perf_counter() - t0:.1f} s"
    )
    win_cfg, idx_cfg = env_config("window"), env_config("indices")
    pcfg = stage1_rl()

    def make_sb3(i: int) -> Any:
        # SB3's make_vec_env wraps every env in Monitor (episode reward/length in info["episode"], which
        # SB3's logger reads), so its users' envs carry it
        from stable_baselines3.common.monitor import Monitor  # bench extra

        return Monitor(TradingEnv(data.markets, table, win_cfg, seed=i))

    # 1. agreement
    probe = VecTradingEnv(data.markets, table, win_cfg, 256, seed=0)
    print("agreement  " + check_window_agreement(probe, table, close0))
    print("           " + check_gym_env(TradingEnv(data.markets, table, win_cfg, seed=0), table))
    probe = VecTradingEnv(data.markets, table, idx_cfg, 256, seed=0)
    print("           " + check_gather(ObservationGather(table, pcfg), probe, table, pcfg))
    del probe

    # 2. env steps/s
    at_med, at_best = median_rate(anytrading_runner(close0, args.anytrading_steps), args.repeat)
    print(
        f"gym-anytrading StocksEnv, 1 env in a Python loop   {at_med / 1e6:8.3f} M steps/s (best {at_best / 1e6:.3f} M)"
    )
    rates: dict[str, dict[int, float]] = {"window": {}, "indices": {}, "indices+gather": {}}
    for n in args.envs:
        for kind in rates:
            env = VecTradingEnv(data.markets, table, win_cfg if kind == "window" else idx_cfg, n, seed=0)
            gather = ObservationGather(table, pcfg) if kind == "indices+gather" else None
            rates[kind][n] = median_rate(vec_runner(env, args.env_seconds, gather), args.repeat)[0]
            del env
        line = "  ".join(f"{k} {v[n] / 1e6:7.3f} M" for k, v in rates.items())
        print(f"ours {n:5d} envs: {line} steps/s")
    sb3_env: dict[int, float] = {}
    for n in args.sb3_envs:
        sb3_env[n] = median_rate(sb3_vec_runner(make_sb3, n, args.env_seconds), args.repeat)[0]
        print(f"SB3 DummyVecEnv × {n} of our TradingEnv (Monitor)   {sb3_env[n] / 1e6:8.3f} M steps/s")
    top = max(args.envs)
    vec_top = rates["window"][top]
    print(f"ours at {top} envs (window) = {vec_top / at_med:,.1f}× gym-anytrading, "
          f"{vec_top / max(sb3_env.values()):,.1f}× the faster SB3 DummyVecEnv")  # fmt: skip

    ppo_rate = ratio = float("nan")
    if not args.skip_ppo:
        ppo_rate, ratio = ppo_section(args, data, table, idx_cfg, pcfg, make_sb3)

    top_rate = rates["window"].get(8192, float("nan"))
    print(json.dumps({
        "vec_env_steps_per_s_8192": _finite(top_rate, 0),
        "ratio_vs_gym_anytrading": _finite(top_rate / at_med, 1),
        "ppo_steps_per_s": _finite(ppo_rate, 1),
        "ratio_vs_sb3_ppo": _finite(ratio, 2),
    }))  # fmt: skip


def ppo_section(
    args: argparse.Namespace,
    data: BenchData,
    table: FeatureTable,
    idx_cfg: EnvConfig,
    pcfg: PolicyConfig,
    make_sb3: Callable[[int], Any],
) -> tuple[float, float]:
    """Ours vs SB3 PPO (see the module docstring); prints where our time goes. Returns (ours, ratio)."""
    n = args.ppo_envs

    def run(steps: int, seed: int, n_steps: int) -> tuple[TrainResult, PPOConfig]:
        env = VecTradingEnv(data.markets, table, idx_cfg, n, seed=seed)
        cfg = PPOConfig(
            total_steps=steps, n_envs=n, n_steps=n_steps, seed=seed, torch_threads=args.torch_threads
        )
        return train_ppo(Policy(pcfg), env, ObservationGather(table, pcfg), cfg, progress=False), cfg

    run(n * 2, 1, 2)  # warm-up: one short update (numba compile, torch's first passes)
    res, cfg = run(args.ppo_steps, 0, PPOConfig().n_steps)
    ours = res.steps_per_s
    total = sum(cfg.batch_size / h["steps_per_s"] for h in res.history)
    roll = sum(cfg.batch_size / h["rollout_steps_per_s"] for h in res.history)
    print(f"ours PPO   {ours:8.1f} env steps/s ({res.env_steps} steps = {res.updates} updates of {n} envs × "
          f"{cfg.n_steps} steps, {res.seconds:.1f} s): rollouts {roll:.1f} s ({roll / total:.0%}), updates "
          f"{total - roll:.1f} s ({1 - roll / total:.0%}; {cfg.epochs} epochs × {cfg.minibatches} minibatches, "
          "each replaying its envs' steps with gradients)")  # fmt: skip

    # one rollout step, piece by piece at the same batch: env step, gather, policy forward
    env = VecTradingEnv(data.markets, table, idx_cfg, n, seed=0)
    gather = ObservationGather(table, pcfg)
    policy = Policy(pcfg).eval()
    bank = np.random.default_rng(0).uniform(-1, 1, (64, n)).astype(np.float32)
    obs = env.reset(seed=0)
    t_env = calls_per_s(lambda i: env.step(bank[i & 63]), 32, args.repeat)
    s, b, a = (torch.from_numpy(x.copy()) for x in (obs.series, obs.bar, obs.account))
    t_gather = calls_per_s(lambda _: gather(s, b, a), 32, args.repeat)
    o = gather(s, b, a)
    carry = policy.initial_carry(n)
    with torch.inference_mode():
        t_fwd = calls_per_s(lambda _: policy(o, carry), 4, 3)
    params = sum(p.numel() for p in policy.parameters())
    print(f"           one rollout step of {n} envs: env {1e3 / t_env:.2f} ms, gather {1e3 / t_gather:.2f} ms, "
          f"policy forward {1e3 / t_fwd:.1f} ms ({params / 1e6:.2f} M parameters, "
          f"{torch.get_num_threads()} torch thread)")  # fmt: skip

    sb3: dict[int, float] = {}
    for k in args.sb3_envs:
        sb3[k], made = sb3_ppo_rate(make_sb3, k, args.sb3_steps)
        print(f"SB3 PPO    {sb3[k]:8.1f} env steps/s (MlpPolicy, defaults, DummyVecEnv × {k}, {made} steps)")
    best = max(sb3, key=lambda k: sb3[k])
    print(f"ours / SB3 PPO (DummyVecEnv × {best}, the faster) = {ours / sb3[best]:.2f}×")
    return ours, ours / sb3[best]


if __name__ == "__main__":
    main()
