"""The numba step of the vector env: one call steps every env through the sim kernel's ``run_range``.

Per env and step: the action becomes a target exposure, queued into ``pending`` at the decision bar
with the kernel's own ``_target_qty`` (the equity and close of that bar), then ``run_range`` steps the
next k bars with all-NaN targets (hold), force-closing on the episode's last bar. The reward, the
account vector and the window observation follow; a finished episode is reset in place. Nothing is
allocated per step: every buffer is owned by the env and passed in.

Market data is stored bar-major, ``data[s, j, field]``, and handed to ``run_range`` as the transposed
(field, bar) view it indexes: one bar's fields then share a cache line and a page, where the
field-major layout of ``SimMarket.data`` would touch a dozen pages per env and step at random
episode positions (TLB misses dominated the step on long series).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from autoperp.learn.reward import differential_sharpe, floored_log_equity
from autoperp.sim import layout as L
from autoperp.sim.accounting import margin_ratio
from autoperp.sim.kernel import _target_qty, init_state, run_range

# envi[i, ·]: per-env integers
I_SERIES = 0
I_BAR = 1  # decision bar (its close is "now")
I_END = 2  # the episode's last bar (force-close)
I_CAP = 3  # last bar the env may use on this series
I_STEPS = 4
I_NPOS = 5  # steps with a positive Δ log equity
I_FINISHED = 6  # sequential mode: the series is walked to its end
N_ENVI = 7

# envf[i, ·]: per-env floats
F_LOGEQ = 0  # floored log equity at the last decision
F_PEAK = 1  # floored equity peak of the episode (USDT)
F_DD = 2  # drawdown at the last decision (fraction)
F_A = 3  # differential-Sharpe EMA of returns
F_B = 4  # differential-Sharpe EMA of squared returns
F_SUM = 5  # Σ Δ log equity
F_SUM2 = 6
F_MAXDD = 7
N_ENVF = 8

# cfg_i
C_K = 0
C_STEPS = 1
C_DISCRETE = 2
C_NBINS = 3
C_AUTO_RESET = 4
C_SEQUENTIAL = 5
C_RING = 6
C_N_REAL = 7
N_CFG_I = 8

# cfg_f
G_MAX_LEV = 0
G_LAMBDA = 1
G_KAPPA = 2
G_ETA = 3
G_SCEN_PROB = 4
G_CASH = 5
N_CFG_F = 6

# stats rows
T_RETURN = 0
T_SHARPE = 1
T_CALMAR = 2
T_CONSIST = 3
T_FINAL = 4
N_STATS = 5

ACCOUNT_CLIP = 10.0

# The sim kernel's own ``run_range`` source, compiled for inlining into the env step: a call per env and
# step (a hundred-odd exploded array arguments) costs as much as the bar itself. Same code, same
# accounting; only the call boundary goes.
_run_range = njit(inline="always")(run_range.py_func)


@intrinsic
def _borrow(typingctx, arr, i):  # type: ignore[no-untyped-def]
    """``arr[i]`` of a C-contiguous array as a view without a reference to its owner (numba intrinsic).

    An ordinary view increments and decrements the owner's reference count, an atomic operation on one
    shared cache line that every thread of the parallel step would fight over, several times per env.
    A borrowed view is valid only while ``arr`` is alive, i.e. inside the kernel call that made it.
    """
    if not isinstance(arr, types.Array) or arr.ndim < 2 or arr.layout != "C":
        return None
    rettype = arr.copy(ndim=arr.ndim - 1, layout="C")

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        aryty = sig.args[0]
        ary = make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        shapes = cgutils.unpack_tuple(builder, ary.shape)
        strides = cgutils.unpack_tuple(builder, ary.strides)
        base = builder.ptrtoint(ary.data, cgutils.intp_t)
        ptr = builder.inttoptr(builder.add(base, builder.mul(idx, strides[0])), ary.data.type)
        out = make_array(rettype)(context, builder)
        populate_array(
            out, data=ptr, shape=shapes[1:], strides=strides[1:], itemsize=ary.itemsize, meminfo=None
        )
        return out._getvalue()

    return rettype(arr, i), codegen


@intrinsic
def _prefetch(typingctx, arr, s, j, c):  # type: ignore[no-untyped-def]
    """Hint the CPU to load the cache line of ``arr[s, j, c]`` (``arr[s, j]`` for 2-D arrays) (numba intrinsic, LLVM ``llvm.prefetch``).

    Envs sit at random bars of long series, so each step's market and feature rows are cache (and
    TLB) misses; asking for the rows of an env a few places ahead overlaps those misses with work.
    """
    if not isinstance(arr, types.Array) or arr.ndim < 2 or arr.layout != "C":
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        ary = make_array(sig.args[0])(context, builder, args[0])
        strides = cgutils.unpack_tuple(builder, ary.strides)
        si = context.cast(builder, args[1], sig.args[1], types.intp)
        ji = context.cast(builder, args[2], sig.args[2], types.intp)
        off = builder.add(builder.mul(si, strides[0]), builder.mul(ji, strides[1]))
        if sig.args[0].ndim >= 3:
            ci = context.cast(builder, args[3], sig.args[3], types.intp)
            off = builder.add(off, builder.mul(ci, strides[2]))
        i8p = ir.IntType(8).as_pointer()
        ptr = builder.inttoptr(builder.add(builder.ptrtoint(ary.data, cgutils.intp_t), off), i8p)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read, high temporal locality, data cache
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(arr, s, j, c), codegen


PREFETCH_AHEAD = 4  # envs

_MULT = np.uint64(2685821657736338717)


@njit(cache=True, inline="always")
def _next(rng: np.ndarray, i: int) -> np.uint64:
    """xorshift64* step of env i's generator."""
    x = rng[i]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[i] = x
    return x * _MULT


@njit(cache=True)
def seed_rngs(rng: np.ndarray, seed: int) -> None:
    """splitmix64 of (seed, env index) into each env's xorshift state (never zero)."""
    for i in range(rng.shape[0]):
        z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(i + 1) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        rng[i] = z if z != np.uint64(0) else np.uint64(1)


@njit(cache=True, inline="always")
def _clip(x: float, lo: float, hi: float) -> float:
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def _observe(i: int, envi: np.ndarray, states: np.ndarray, data: np.ndarray, params: np.ndarray,
             brackets: np.ndarray, eta: np.ndarray, wtab: np.ndarray, cfg_f: np.ndarray,
             obs_series: np.ndarray, obs_bar: np.ndarray, account: np.ndarray, window: np.ndarray) -> None:  # fmt: skip
    s = envi[i, I_SERIES]
    d = envi[i, I_BAR]
    st = states[i]
    obs_series[i] = s
    obs_bar[i] = d
    mark = data[s, d, L.M_MARK]
    q = st[L.S_QTY]
    eq = st[L.S_LAST_EQUITY]
    if eq > 0.0:
        account[i, 0] = _clip(q * mark / eq / cfg_f[G_MAX_LEV], -ACCOUNT_CLIP, ACCOUNT_CLIP)
        account[i, 1] = _clip(q * (mark - st[L.S_ENTRY]) / eq, -ACCOUNT_CLIP, ACCOUNT_CLIP)
    else:
        account[i, 0] = 0.0
        account[i, 1] = 0.0
    account[i, 2] = _clip(margin_ratio(st, mark, params[s], brackets[s]), 0.0, ACCOUNT_CLIP)
    account[i, 3] = _clip(eta[s, d], 0.0, ACCOUNT_CLIP)
    w = window.shape[1]
    f = window.shape[2]
    for r in range(w):
        row = d - w + 1 + r
        for c in range(f):
            window[i, r, c] = wtab[s, row, c]


@njit(cache=True)
def _draw_start(i: int, rng: np.ndarray, cfg_i: np.ndarray, cfg_f: np.ndarray, start_lo: np.ndarray,
                cum: np.ndarray) -> tuple[int, int]:  # fmt: skip
    """(series, start bar) uniform over every valid start of the real or (with scenario_prob) scenario set."""
    n_real = cfg_i[C_N_REAL]
    s_all = cum.shape[0]
    lo_s = 0
    hi_s = n_real
    if s_all > n_real:
        u = float(_next(rng, i) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        if u < cfg_f[G_SCEN_PROB]:
            lo_s = n_real
            hi_s = s_all
    base = cum[lo_s - 1] if lo_s > 0 else 0
    total = cum[hi_s - 1] - base
    r = int(_next(rng, i) % np.uint64(total)) + base
    s = lo_s
    while cum[s] <= r:
        s += 1
    prev = cum[s - 1] if s > 0 else 0
    return s, start_lo[s] + (r - prev)


@njit(cache=True)
def _begin(i: int, s: int, start: int, envi: np.ndarray, envf: np.ndarray, states: np.ndarray,
           pending: np.ndarray, params: np.ndarray, cfg_i: np.ndarray, end_cap: np.ndarray) -> None:  # fmt: skip
    init_state(states[i], params[s])
    pending[i, :] = math.nan
    envi[i, I_SERIES] = s
    envi[i, I_BAR] = start
    envi[i, I_CAP] = end_cap[s]
    envi[i, I_END] = min(start + cfg_i[C_STEPS] * cfg_i[C_K], end_cap[s])
    envi[i, I_STEPS] = 0
    envi[i, I_NPOS] = 0
    cash = params[s, L.P_INITIAL_CASH]
    envf[i, F_LOGEQ] = math.log(cash)
    envf[i, F_PEAK] = cash
    envf[i, F_DD] = 0.0
    envf[i, F_A] = 0.0
    envf[i, F_B] = 0.0
    envf[i, F_SUM] = 0.0
    envf[i, F_SUM2] = 0.0
    envf[i, F_MAXDD] = 0.0


@njit(cache=True)
def reset_envs(envi: np.ndarray, envf: np.ndarray, states: np.ndarray, pending: np.ndarray,
               rng: np.ndarray, data: np.ndarray, params: np.ndarray, brackets: np.ndarray,
               eta: np.ndarray, wtab: np.ndarray, cfg_i: np.ndarray, cfg_f: np.ndarray,
               start_lo: np.ndarray, end_cap: np.ndarray, cum: np.ndarray, obs_series: np.ndarray,
               obs_bar: np.ndarray, account: np.ndarray, window: np.ndarray) -> None:  # fmt: skip
    """Start a fresh episode in every env (sequential mode: env i at the first usable bar of series i mod S)."""
    n_real = cfg_i[C_N_REAL]
    for i in range(envi.shape[0]):
        envi[i, I_FINISHED] = 0
        if cfg_i[C_SEQUENTIAL] != 0:
            s = i % n_real
            _begin(i, s, start_lo[s], envi, envf, states, pending, params, cfg_i, end_cap)
        else:
            s, start = _draw_start(i, rng, cfg_i, cfg_f, start_lo, cum)
            _begin(i, s, start, envi, envf, states, pending, params, cfg_i, end_cap)
        _observe(
            i, envi, states, data, params, brackets, eta, wtab, cfg_f, obs_series, obs_bar, account, window
        )


@njit(cache=True, inline="always")
def _action_value(a: float, cfg_i: np.ndarray) -> float:
    if cfg_i[C_DISCRETE] != 0:
        return -1.0 + 2.0 * a / (cfg_i[C_NBINS] - 1)
    return _clip(a, -1.0, 1.0)


@njit(cache=True)
def bad_action(actions: np.ndarray, cfg_i: np.ndarray) -> int:
    """Index of the first action that is NaN/±inf (or, for discrete actions, not a bin index); −1 if none."""
    discrete = cfg_i[C_DISCRETE] != 0
    nb = cfg_i[C_NBINS]
    for i in range(actions.shape[0]):
        a = float(actions[i])
        if not math.isfinite(a):
            return i
        if discrete and (a != math.floor(a) or a < 0.0 or a >= nb):
            return i
    return -1


@njit(cache=True)
def _step_range(i0: int, i1: int, actions: np.ndarray, envi: np.ndarray, envf: np.ndarray, states: np.ndarray,
                pending: np.ndarray, rng: np.ndarray, data: np.ndarray, ts: np.ndarray, nan_t: np.ndarray,
                params: np.ndarray, brackets: np.ndarray, eta: np.ndarray, wtab: np.ndarray,
                cfg_i: np.ndarray, cfg_f: np.ndarray, start_lo: np.ndarray, end_cap: np.ndarray,
                cum: np.ndarray, evn: np.ndarray, ev_i: np.ndarray, ev_f: np.ndarray, empty: np.ndarray,
                reward: np.ndarray, parts: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                stats: np.ndarray, liquidated: np.ndarray, n_steps: np.ndarray, obs_series: np.ndarray,
                obs_bar: np.ndarray, account: np.ndarray, window: np.ndarray) -> None:  # fmt: skip
    """Step envs ``i0 ≤ i < i1`` (one block); the loop body is the whole per-env step."""
    ring = cfg_i[C_RING]
    k = cfg_i[C_K]
    max_lev = cfg_f[G_MAX_LEV]
    lam = cfg_f[G_LAMBDA]
    kappa = cfg_f[G_KAPPA]
    dsr_eta = cfg_f[G_ETA]
    w = window.shape[1]
    f = window.shape[2]
    for i in range(i0, i1):
        if i + PREFETCH_AHEAD < i1:
            ps = envi[i + PREFETCH_AHEAD, I_SERIES]
            pd_ = envi[i + PREFETCH_AHEAD, I_BAR]
            _prefetch(data, ps, pd_ + 1, 0)
            _prefetch(data, ps, pd_ + 1, L.N_MARKET - 1)  # a bar's fields may straddle two lines
            if k > 1:
                _prefetch(data, ps, pd_ + k, L.M_CLOSE)
            _prefetch(wtab, ps, pd_ + k, 0)
            _prefetch(wtab, ps, pd_ + k - w + 1, 0)
            _prefetch(eta, ps, pd_ + k, 0)
        terminated[i] = False
        truncated[i] = False
        if envi[i, I_FINISHED] != 0:
            reward[i] = 0.0
            parts[i, 0] = 0.0
            parts[i, 1] = 0.0
            parts[i, 2] = 0.0
            continue
        s = envi[i, I_SERIES]
        d = envi[i, I_BAR]
        end = envi[i, I_END]
        st = _borrow(states, i)
        par = _borrow(params, s)
        br = _borrow(brackets, s)
        a = _action_value(float(actions[i]), cfg_i)
        if st[L.S_BLOWN] == 0.0:
            pending[i, d % ring] = _target_qty(a * max_lev, st[L.S_LAST_EQUITY], data[s, d, L.M_CLOSE], par)
        j1 = min(d + k, end) + 1
        j = d + 1
        while j < j1:
            # only a recorded log can fill up; the env grows it before each step, so this runs once
            j = _run_range(st, _borrow(pending, i), _borrow(data, s).T, _borrow(ts, s), nan_t, par, br, j, j1,
                           end, empty, empty, ev_i, ev_f, _borrow(evn, i))  # fmt: skip
        nb = j1 - 1
        envi[i, I_BAR] = nb
        cash = par[L.P_INITIAL_CASH]
        eq = st[L.S_LAST_EQUITY]
        lq = floored_log_equity(eq, cash)
        dlog = lq - envf[i, F_LOGEQ]
        eqf = math.exp(lq)
        peak = envf[i, F_PEAK]
        if eqf > peak:
            peak = eqf
        dd = 1.0 - eqf / peak
        dd_pen = lam * max(0.0, dd - envf[i, F_DD])
        dsr = 0.0
        if kappa != 0.0:
            a_prev = envf[i, F_A]
            b_prev = envf[i, F_B]
            dsr = kappa * differential_sharpe(dlog, a_prev, b_prev)
            envf[i, F_A] = a_prev + dsr_eta * (dlog - a_prev)
            envf[i, F_B] = b_prev + dsr_eta * (dlog * dlog - b_prev)
        reward[i] = dlog - dd_pen + dsr
        parts[i, 0] = dlog
        parts[i, 1] = -dd_pen
        parts[i, 2] = dsr
        envf[i, F_LOGEQ] = lq
        envf[i, F_PEAK] = peak
        envf[i, F_DD] = dd
        envf[i, F_SUM] += dlog
        envf[i, F_SUM2] += dlog * dlog
        if dd > envf[i, F_MAXDD]:
            envf[i, F_MAXDD] = dd
        steps = envi[i, I_STEPS] + 1
        envi[i, I_STEPS] = steps
        if dlog > 0.0:
            envi[i, I_NPOS] += 1
        liq = st[L.S_N_LIQ] > 0.0 or st[L.S_BLOWN] != 0.0
        if liq or nb >= end:
            terminated[i] = liq
            truncated[i] = not liq
            ret = eq / cash - 1.0
            mean = envf[i, F_SUM] / steps
            var = envf[i, F_SUM2] / steps - mean * mean
            stats[T_RETURN, i] = ret
            stats[T_SHARPE, i] = mean / math.sqrt(var) if var > 1e-24 else 0.0
            stats[T_CALMAR, i] = ret / envf[i, F_MAXDD] if envf[i, F_MAXDD] > 0.0 else math.nan
            stats[T_CONSIST, i] = envi[i, I_NPOS] / steps
            stats[T_FINAL, i] = eq
            liquidated[i] = liq
            n_steps[i] = steps
            if cfg_i[C_AUTO_RESET] != 0:
                if cfg_i[C_SEQUENTIAL] != 0:
                    if nb + k > envi[i, I_CAP]:
                        envi[i, I_FINISHED] = 1
                    else:
                        _begin(i, s, nb, envi, envf, states, pending, params, cfg_i, end_cap)
                else:
                    s2, start = _draw_start(i, rng, cfg_i, cfg_f, start_lo, cum)
                    _begin(i, s2, start, envi, envf, states, pending, params, cfg_i, end_cap)
        # the observation (as _observe, written out: a call per env costs as much as the rest of the step)
        s = envi[i, I_SERIES]
        d = envi[i, I_BAR]
        obs_series[i] = s
        obs_bar[i] = d
        mark = data[s, d, L.M_MARK]
        q = st[L.S_QTY]
        eq = st[L.S_LAST_EQUITY]
        if eq > 0.0:
            account[i, 0] = _clip(q * mark / eq / max_lev, -ACCOUNT_CLIP, ACCOUNT_CLIP)
            account[i, 1] = _clip(q * (mark - st[L.S_ENTRY]) / eq, -ACCOUNT_CLIP, ACCOUNT_CLIP)
        else:
            account[i, 0] = 0.0
            account[i, 1] = 0.0
        account[i, 2] = _clip(
            margin_ratio(st, mark, _borrow(params, s), _borrow(brackets, s)), 0.0, ACCOUNT_CLIP
        )
        account[i, 3] = _clip(eta[s, d], 0.0, ACCOUNT_CLIP)
        for r in range(w):
            row = d - w + 1 + r
            for c in range(f):
                window[i, r, c] = wtab[s, row, c]


@njit(cache=True, parallel=True)
def step_parallel(n_blocks: int, actions: np.ndarray, envi: np.ndarray, envf: np.ndarray,
                  states: np.ndarray, pending: np.ndarray, rng: np.ndarray, data: np.ndarray,
                  ts: np.ndarray, nan_t: np.ndarray, params: np.ndarray, brackets: np.ndarray,
                  eta: np.ndarray, wtab: np.ndarray, cfg_i: np.ndarray, cfg_f: np.ndarray,
                  start_lo: np.ndarray, end_cap: np.ndarray, cum: np.ndarray, evn: np.ndarray,
                  ev_i: np.ndarray, ev_f: np.ndarray, empty: np.ndarray, reward: np.ndarray,
                  parts: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, stats: np.ndarray,
                  liquidated: np.ndarray, n_steps: np.ndarray, obs_series: np.ndarray, obs_bar: np.ndarray,
                  account: np.ndarray, window: np.ndarray) -> None:  # fmt: skip
    """Step every env, blocks of envs in parallel (a trade log is only kept by single-env callers)."""
    n = envi.shape[0]
    for blk in prange(n_blocks):
        _step_range(blk * n // n_blocks, (blk + 1) * n // n_blocks, actions, envi, envf, states, pending, rng, data, ts, nan_t, params, brackets, eta,
                      wtab, cfg_i, cfg_f, start_lo, end_cap, cum, evn, ev_i, ev_f, empty, reward, parts,
                      terminated, truncated, stats, liquidated, n_steps, obs_series, obs_bar, account, window)  # fmt: skip


@njit(cache=True)
def step_serial(n_blocks: int, actions: np.ndarray, envi: np.ndarray, envf: np.ndarray,
                states: np.ndarray, pending: np.ndarray, rng: np.ndarray, data: np.ndarray,
                ts: np.ndarray, nan_t: np.ndarray, params: np.ndarray, brackets: np.ndarray,
                eta: np.ndarray, wtab: np.ndarray, cfg_i: np.ndarray, cfg_f: np.ndarray,
                start_lo: np.ndarray, end_cap: np.ndarray, cum: np.ndarray, evn: np.ndarray,
                ev_i: np.ndarray, ev_f: np.ndarray, empty: np.ndarray, reward: np.ndarray,
                parts: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, stats: np.ndarray,
                liquidated: np.ndarray, n_steps: np.ndarray, obs_series: np.ndarray, obs_bar: np.ndarray,
                account: np.ndarray, window: np.ndarray) -> None:  # fmt: skip
    """:func:`step_parallel` on one thread: for a few envs the thread pool costs more than the work."""
    _step_range(0, envi.shape[0], actions, envi, envf, states, pending, rng, data, ts, nan_t, params, brackets, eta,
                  wtab, cfg_i, cfg_f, start_lo, end_cap, cum, evn, ev_i, ev_f, empty, reward, parts,
                  terminated, truncated, stats, liquidated, n_steps, obs_series, obs_bar, account, window)  # fmt: skip
