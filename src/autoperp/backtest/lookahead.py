"""Lookahead analysis: does a strategy's value at bar t change when the bars after t are removed?

A strategy is run once on the whole history, then again on the history cut after each of ``n_points``
random bars t (``data.truncated(t + 1)``: exactly what a live strategy would have at bar t's close). Every
target — and every feature, when the strategy exposes ``features(data) -> {name: array}`` — at bars ≤ t
must come out identical; any that differs was computed with data from after t (a centred window, a
``shift(-1)``, a normalisation over the whole series...). Two checks of ``decide`` complete it: at a sample
of the points, ``decide`` on the cut history must equal ``decide`` on the full one (a ``decide`` that peeks
past its window), and must equal the cut history's ``targets`` at t (a vectorised ``targets`` that
disagrees with ``decide`` trades differently in the backtest than live).

Values compare equal when both are NaN, or within ``atol + rtol·|full|`` (defaults allow only rounding
noise: a real leak moves a value by far more).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoperp.backtest.market_data import MarketData
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError

__all__ = [
    "CHECKS",
    "BiasFinding",
    "BiasSummary",
    "LookaheadReport",
    "analyse_lookahead",
    "truncation_points",
]

#: What a finding is about: a target, a feature, ``decide`` on cut vs full history, ``decide`` vs
#: ``targets``, or a strategy that failed on the cut history (it needed bars after t).
CHECKS = ("targets", "feature", "decide", "decide_vs_targets", "error")


@dataclass(frozen=True)
class BiasFinding:
    """One value that changed when the bars after ``point`` were removed.

    ``bar`` ≤ ``point`` is the bar whose value changed, ``ts`` its open time (ms UTC); ``full`` is the
    value computed on the whole history, ``truncated`` the one computed on bars 0..point (NaN = no value).
    """

    check: str  # one of CHECKS
    name: str  # "target", the feature's name, "decide", or the error's type
    point: int  # truncation point t: the cut history is bars 0..t
    bar: int
    ts: int
    full: float
    truncated: float
    message: str = ""


@dataclass(frozen=True)
class BiasSummary:
    """Findings of one (check, name): how many values differed, at how many truncation points, the
    earliest truncation point affected and the largest absolute difference (NaN when one side is NaN)."""

    check: str
    name: str
    values: int
    points: int
    first_point: int
    max_abs_diff: float


@dataclass
class LookaheadReport:
    """What :func:`analyse_lookahead` found. ``findings`` holds at most ``max_findings`` rows (the value at
    each point t first); ``n_differences`` counts every one."""

    strategy: str
    params: dict[str, Any]
    symbol: str
    timeframe: str
    n_bars: int
    lookback: int
    points: np.ndarray  # truncation points t, sorted
    points_ts: np.ndarray  # open time (ms UTC) of each truncation point's bar
    decide_points: np.ndarray  # the sample of points where decide() was checked
    values_compared: int
    features_checked: list[str]
    findings: list[BiasFinding] = field(default_factory=list)
    n_differences: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def biased(self) -> bool:
        """True when any value changed (or the strategy failed) on a cut history."""
        return self.n_differences > 0

    def point_ts(self, point: int) -> int:
        """Open time (ms UTC) of truncation point ``point``'s bar."""
        return int(self.points_ts[int(np.searchsorted(self.points, point))])

    def summary(self) -> list[BiasSummary]:
        """One row per (check, name) that differed, from the findings kept."""
        groups: dict[tuple[str, str], list[BiasFinding]] = {}
        for f in self.findings:
            groups.setdefault((f.check, f.name), []).append(f)
        out = []
        for (check, name), rows in groups.items():
            diffs = [abs(r.full - r.truncated) for r in rows]
            out.append(
                BiasSummary(
                    check=check,
                    name=name,
                    values=len(rows),
                    points=len({r.point for r in rows}),
                    first_point=min(r.point for r in rows),
                    max_abs_diff=max(diffs) if all(math.isfinite(d) for d in diffs) else math.nan,
                )
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (NaN as null)."""

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "strategy": self.strategy,
            "params": self.params,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "n_bars": self.n_bars,
            "lookback": self.lookback,
            "points": [int(p) for p in self.points],
            "decide_points": [int(p) for p in self.decide_points],
            "values_compared": self.values_compared,
            "features_checked": list(self.features_checked),
            "biased": self.biased,
            "n_differences": self.n_differences,
            "findings": [
                {
                    "check": f.check,
                    "name": f.name,
                    "point": f.point,
                    "bar": f.bar,
                    "ts": f.ts,
                    "full": num(f.full),
                    "truncated": num(f.truncated),
                    "message": f.message,
                }
                for f in self.findings
            ],
            "notes": list(self.notes),
        }


def truncation_points(n_bars: int, lookback: int, n_points: int, seed: int) -> np.ndarray:
    """``n_points`` distinct random bars t with ``lookback ≤ t ≤ n_bars - 2`` (a cut at the last bar
    removes nothing), sorted. :class:`UsageError` when the data has fewer candidates than that."""
    lo = max(int(lookback), 0)
    hi = n_bars - 2
    available = hi - lo + 1
    if n_points < 1:
        raise UsageError(f"--points must be at least 1, got {n_points}")
    if available < n_points:
        raise UsageError(
            f"{n_bars} bars leave {max(available, 0)} truncation points after the lookback of {lookback} bars: "
            f"need at least {n_points} (give more data or fewer --points)"
        )
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.arange(lo, hi + 1, dtype=np.int64), size=n_points, replace=False))


def _differs(full: np.ndarray, cut: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Mask of positions where two float arrays differ (NaN equals NaN)."""
    both_nan = np.isnan(full) & np.isnan(cut)
    with np.errstate(invalid="ignore"):
        close = np.abs(full - cut) <= atol + rtol * np.abs(full)
    same: np.ndarray = both_nan | close | (full == cut)  # == catches equal infinities
    return ~same


def _same(a: float, b: float, rtol: float, atol: float) -> bool:
    return not bool(_differs(np.array([a]), np.array([b]), rtol, atol)[0])


def _as_vector(values: object, n: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{what} is not numeric: {e}") from None
    if arr.shape != (n,):
        raise UsageError(f"{what} has shape {arr.shape}, expected ({n},): one value per bar")
    return arr


def _features_of(strategy: Strategy) -> Callable[[MarketData], Mapping[str, object]] | None:
    fn = getattr(strategy, "features", None)
    return fn if callable(fn) else None


def _vectorised(strategy: Strategy) -> bool:
    return type(strategy).targets is not Strategy.targets


class _Collector:
    """Accumulates findings up to a cap, the value at each truncation point first."""

    def __init__(self, data: MarketData, max_findings: int) -> None:
        self.data = data
        self.max_findings = max_findings
        self.findings: list[BiasFinding] = []
        self.count = 0

    def compare(
        self, check: str, name: str, point: int, full: np.ndarray, cut: np.ndarray, r: float, a: float
    ) -> None:
        bad = np.flatnonzero(_differs(full, cut, r, a))
        if not bad.size:
            return
        self.count += int(bad.size)
        # the value at t is what the issue asks about; earlier bars that moved come after it
        order = np.concatenate((bad[bad == point], bad[bad != point][::-1]))
        for j in order[: max(self.max_findings - len(self.findings), 0)]:
            self.add(check, name, point, int(j), float(full[j]), float(cut[j]), counted=True)

    def add(
        self,
        check: str,
        name: str,
        point: int,
        bar: int,
        full: float,
        cut: float,
        message: str = "",
        *,
        counted: bool = False,
    ) -> None:
        if not counted:
            self.count += 1
        if len(self.findings) < self.max_findings:
            ts = int(self.data.ts[bar]) if 0 <= bar < len(self.data) else 0
            self.findings.append(BiasFinding(check, name, point, bar, ts, full, cut, message))


def analyse_lookahead(
    strategy: Strategy,
    data: MarketData,
    n_points: int = 50,
    seed: int = 0,
    features: bool = True,
    *,
    decide_points: int | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    max_findings: int = 10_000,
) -> LookaheadReport:
    """Recompute ``strategy``'s targets (and features) on ``data`` cut after ``n_points`` random bars t
    (drawn with ``seed``, all past the strategy's lookback) and report every value at bars ≤ t that differs
    from the full-history run.

    ``decide_points`` (default: all the points) is how many of the points also check ``decide``. A strategy
    without a vectorised ``targets`` is ``decide`` bar by bar, so only its value at each t is recomputed.
    The strategy is deep-copied for every run, so state kept between calls cannot carry over.
    """
    n = len(data)
    lookback = int(getattr(strategy, "lookback", 1) or 0)
    points = truncation_points(n, lookback, n_points, seed)
    n_decide = len(points) if decide_points is None else max(0, min(int(decide_points), len(points)))
    decide_at = np.sort(np.random.default_rng(seed + 1).choice(points, size=n_decide, replace=False))
    decide_set = {int(p) for p in decide_at}
    name = getattr(strategy, "name", "") or type(strategy).__name__
    vectorised = _vectorised(strategy)
    feature_fn = _features_of(strategy) if features else None
    notes: list[str] = []
    if not vectorised:
        notes.append("targets() is decide() bar by bar: the value at each point t is recomputed")

    full_targets = _as_vector(copy.deepcopy(strategy).targets(data), n, f"{name}.targets(data)")
    full_features: dict[str, np.ndarray] = {}
    if feature_fn is not None:
        fresh = _features_of(copy.deepcopy(strategy))
        assert fresh is not None
        for key, values in fresh(data).items():
            full_features[str(key)] = _as_vector(values, n, f"{name}.features(data)['{key}']")
    elif features:
        notes.append("the strategy exposes no features(data): targets and decide() only")

    out = _Collector(data, max_findings)
    compared = 0
    for p in (int(x) for x in points):
        cut = data.truncated(p + 1)
        done, target_at_p = _check_point(
            strategy, cut, p, vectorised, full_targets, full_features, out, rtol, atol
        )
        compared += done
        if p in decide_set:
            compared += _check_decide(
                strategy, data, cut, p, target_at_p if vectorised else None, out, rtol, atol
            )
    return LookaheadReport(
        strategy=name,
        params=_params(strategy),
        symbol=data.symbol,
        timeframe=data.timeframe,
        n_bars=n,
        lookback=lookback,
        points=points,
        points_ts=np.asarray(data.ts)[points],
        decide_points=decide_at,
        values_compared=compared,
        features_checked=sorted(full_features),
        findings=out.findings,
        n_differences=out.count,
        notes=notes,
    )


def _params(strategy: Strategy) -> dict[str, Any]:
    try:
        return dict(strategy.params())
    except Exception:  # a user strategy with an odd attribute must not stop the analysis
        return {}


def _error(out: _Collector, point: int, where: str, exc: Exception) -> None:
    out.add("error", type(exc).__name__, point, point, math.nan, math.nan, f"{where}: {exc}")


def _check_point(
    strategy: Strategy,
    cut: MarketData,
    p: int,
    vectorised: bool,
    full_targets: np.ndarray,
    full_features: Mapping[str, np.ndarray],
    out: _Collector,
    rtol: float,
    atol: float,
) -> tuple[int, float | None]:
    """Targets and features on bars 0..p against the full run: how many values were compared, and the cut
    history's target at p (None when it could not be computed)."""
    compared = 0
    target_at_p: float | None = None
    s = copy.deepcopy(strategy)
    try:
        if vectorised:
            cut_targets = _as_vector(s.targets(cut), p + 1, "targets on the cut history")
            out.compare("targets", "target", p, full_targets[: p + 1], cut_targets, rtol, atol)
            target_at_p = float(cut_targets[p])
            compared += p + 1
        else:
            value = float(s.decide(cut.window(p)))
            if not _same(float(full_targets[p]), value, rtol, atol):
                out.add("targets", "target", p, p, float(full_targets[p]), value)
            compared += 1
    except Exception as e:  # failing only when the future is gone is a lookahead in itself
        _error(out, p, "targets() on the cut history", e)
    if full_features:
        fn = _features_of(copy.deepcopy(strategy))
        assert fn is not None
        try:
            cut_features = dict(fn(cut))
        except Exception as e:
            _error(out, p, "features() on the cut history", e)
            return compared, target_at_p
        for key, full in full_features.items():
            if key not in cut_features:
                out.add("feature", key, p, p, float(full[p]), math.nan, "missing on the cut history")
                continue
            try:
                values = _as_vector(cut_features[key], p + 1, f"features()['{key}'] on the cut history")
            except UsageError as e:
                _error(out, p, key, e)
                continue
            out.compare("feature", key, p, full[: p + 1], values, rtol, atol)
            compared += p + 1
    return compared, target_at_p


def _check_decide(
    strategy: Strategy,
    data: MarketData,
    cut: MarketData,
    p: int,
    target_at_p: float | None,
    out: _Collector,
    rtol: float,
    atol: float,
) -> int:
    """decide() at p on cut vs full history, and vs the cut history's vectorised target at p (when given)."""
    try:
        on_full = float(copy.deepcopy(strategy).decide(data.window(p)))
        on_cut = float(copy.deepcopy(strategy).decide(cut.window(p)))
    except Exception as e:
        _error(out, p, "decide() on the cut history", e)
        return 0
    if not _same(on_full, on_cut, rtol, atol):
        out.add("decide", "decide", p, p, on_full, on_cut)
    if target_at_p is None:
        return 1
    if not _same(target_at_p, on_cut, rtol, atol):
        out.add(
            "decide_vs_targets", "decide", p, p, target_at_p, on_cut,
            "targets() (the 'full' column) and decide() (the 'truncated' column) disagree at t",
        )  # fmt: skip
    return 2
