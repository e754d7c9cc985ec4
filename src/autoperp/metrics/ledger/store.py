"""The trial ledger: every backtest, training run, evolution trial and evaluation, recorded so that DSR's N
and PBO's matrix come from real counts.

Layout under ``root`` (by default ``<user_data>/ledger``)::

    .lock                   writers hold an exclusive flock on it
    returns/T000001.parquet per-bar returns of a trial (ts int64 ms UTC, ret float64)
    trials/T000001.json     the trial's metadata, one JSON object per trial, never rewritten

A trial exists once its metadata file does. ``record`` writes the returns file first and the metadata file
last, each through a temporary file and ``os.replace``, all under the lock: a failure (or a crash) at any
point leaves no visible trial, only leftovers the next writer removes. Readers take no lock.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from autoperp.core.errors import StoreError, UsageError, ValidationError
from autoperp.core.time import now_ms
from autoperp.metrics.ledger.atomic import TMP_PREFIX, write_atomic, write_atomic_text
from autoperp.metrics.ledger.hashing import canonical_config, config_hash
from autoperp.metrics.ledger.inputs import check_label, check_metrics, check_series
from autoperp.metrics.ledger.lock import exclusive_lock
from autoperp.metrics.ledger.matrix import Join, ReturnsMatrix, align_returns
from autoperp.metrics.ledger.record import (
    RECORD_FORMAT,
    SELECTION_KINDS,
    DataRange,
    TrialKind,
    TrialRecord,
    parse_kind,
)
from autoperp.metrics.ledger.selection import DSRInputs, dsr_inputs_of, sharpe_variance_of
from autoperp.metrics.ledger.series import read_series, return_stats, write_series
from autoperp.metrics.sharpe_inference import deflated_sharpe_ratio, sharpe_moments

LEDGER_DIR = "ledger"
_ID_RE = re.compile(r"^T(\d{6,})$")

#: Columns of :meth:`TrialLedger.trials`, in order.
TRIAL_COLUMNS = (
    "trial_id",
    "kind",
    "family",
    "name",
    "config_hash",
    "symbols",
    "timeframe",
    "start_ms",
    "end_ms",
    "manifest_hash",
    "n_bars",
    "first_ts_ms",
    "last_ts_ms",
    "bar_ms",
    "sharpe_per_bar",
    "skewness",
    "kurtosis",
    "total_return",
    "metrics",
    "model_id",
    "notes",
    "created_ms",
)


class VaultReuseError(UsageError):
    """The vault (the untouched final test set) was already used on this model: a second look would
    turn it into one more round of selection."""


def ledger_root(user_data_dir: Path | str) -> Path:
    """Where a user_data directory keeps its ledger: ``<user_data_dir>/ledger``."""
    return Path(user_data_dir) / LEDGER_DIR


class TrialLedger:
    """Append-only record of trials under ``root``. Safe for several processes: writes are serialised by
    an exclusive file lock (waiting up to ``lock_timeout_s`` seconds) and are atomic."""

    def __init__(self, root: Path | str, *, lock_timeout_s: float = 60.0) -> None:
        self.root = Path(root)
        self.lock_timeout_s = lock_timeout_s
        # records are immutable once written, so each metadata file is parsed once per instance
        self._cache: dict[str, TrialRecord] = {}

    @classmethod
    def in_user_data(cls, user_data_dir: Path | str, *, lock_timeout_s: float = 60.0) -> TrialLedger:
        """The ledger of a user_data directory (``<user_data_dir>/ledger``)."""
        return cls(ledger_root(user_data_dir), lock_timeout_s=lock_timeout_s)

    @property
    def trials_dir(self) -> Path:
        return self.root / "trials"

    @property
    def returns_dir(self) -> Path:
        return self.root / "returns"

    def __repr__(self) -> str:
        return f"TrialLedger({str(self.root)!r})"

    # ------------------------------------------------------------------ writing
    def record(
        self,
        kind: TrialKind | str,
        name: str,
        family: str,
        config: Mapping[str, Any] | BaseModel,
        data_range: DataRange,
        ts: np.ndarray,
        returns: np.ndarray,
        metrics: Mapping[str, float] | None = None,
        model_id: str | None = None,
        notes: str = "",
    ) -> TrialRecord:
        """Record one trial and return it.

        ``kind``: what produced it. ``name``: what was tried (a strategy or candidate name). ``family``: the
        group of trials competing for one selection (a strategy, an evolution run); DSR's N counts it.
        ``config``: everything that defines the trial, hashed canonically. ``data_range``: the data it ran
        on. ``ts``/``returns``: its per-bar simple returns (fractions) labelled by int64 ms UTC bar times.
        ``metrics``: what the caller measured (any units). ``model_id``: the model evaluated, required for
        ``kind="vault"``, which is refused (:class:`VaultReuseError`) when the model already used the vault.

        Raises :class:`ValidationError` naming the field for a bad argument, :class:`StoreError` when the
        lock cannot be had.
        """
        trial_kind = parse_kind(kind)
        name = check_label(name, "name")
        family = check_label(family, "family")
        cfg = canonical_config(config)
        if not isinstance(data_range, DataRange):
            raise ValidationError(f"must be a DataRange, got {type(data_range).__name__}", field="data_range")
        t, r = check_series(ts, returns)
        measured = check_metrics(metrics)
        model = None if model_id is None else check_label(model_id, "model_id")
        if trial_kind is TrialKind.VAULT and model is None:
            raise ValidationError("a vault trial must name the model it evaluates", field="model_id")
        if not isinstance(notes, str):
            raise ValidationError(f"must be a string, got {type(notes).__name__}", field="notes")

        with exclusive_lock(self.root, self.lock_timeout_s):
            self.returns_dir.mkdir(parents=True, exist_ok=True)
            self.trials_dir.mkdir(parents=True, exist_ok=True)
            known = self._scan_ids()
            self._remove_leftovers(known)
            # checked under the lock, so two processes cannot both take the model's one look at the vault
            if trial_kind is TrialKind.VAULT and model is not None:
                self._refuse_vault_reuse(model)
            trial_id = f"T{max(known, default=0) + 1:06d}"
            rec = TrialRecord(
                trial_id=trial_id,
                kind=trial_kind,
                name=name,
                family=family,
                config_hash=config_hash(cfg),
                config=cfg,
                data_range=data_range,
                stats=return_stats(t, r),
                metrics=measured,
                model_id=model,
                notes=notes,
                created_ms=now_ms(),
            )
            series_path = self._series_path(trial_id)
            try:
                write_atomic(series_path, lambda p: write_series(p, t, r, trial_id))
                # the metadata file is the commit: until it is in place the trial does not exist
                write_atomic_text(
                    self._meta_path(trial_id), json.dumps(rec.to_json(), indent=1, allow_nan=False)
                )
            except BaseException:
                series_path.unlink(missing_ok=True)
                raise
        self._cache[trial_id] = rec
        return rec

    def _series_path(self, trial_id: str) -> Path:
        return self.returns_dir / f"{trial_id}.parquet"

    def _meta_path(self, trial_id: str) -> Path:
        return self.trials_dir / f"{trial_id}.json"

    def _scan_ids(self) -> dict[int, str]:
        """Sequence number -> trial id of every committed trial."""
        out: dict[int, str] = {}
        if not self.trials_dir.is_dir():
            return out
        with os.scandir(self.trials_dir) as it:
            for e in it:
                stem, dot, ext = e.name.rpartition(".")
                m = _ID_RE.match(stem)
                if m and dot and ext == "json":
                    out[int(m.group(1))] = stem
        return out

    def _remove_leftovers(self, known: Mapping[int, str]) -> None:
        # Only called under the lock: no other writer is mid-write, so a temporary file or a returns file
        # without metadata can only be what an interrupted write left behind.
        committed = set(known.values())
        for d in (self.returns_dir, self.trials_dir):
            with os.scandir(d) as it:
                for e in it:
                    orphan = d == self.returns_dir and e.name.endswith(".parquet")
                    if e.name.startswith(TMP_PREFIX) or (
                        orphan and e.name[: -len(".parquet")] not in committed
                    ):
                        Path(e.path).unlink(missing_ok=True)

    def _refuse_vault_reuse(self, model_id: str) -> None:
        used = self.vault_uses(model_id)
        if used:
            first = used[0]
            raise VaultReuseError(
                f"model '{model_id}' already used the vault in trial {first.trial_id}: "
                "the final test set gives one look per model"
            )

    # ------------------------------------------------------------------ reading
    def _load(self) -> list[TrialRecord]:
        """Every committed trial in recording order."""
        for _, trial_id in sorted(self._scan_ids().items()):
            if trial_id in self._cache:
                continue
            path = self._meta_path(trial_id)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if int(data.get("format", 0)) > RECORD_FORMAT:
                    raise StoreError(
                        f"{path}: written by a newer autoperp (format {data['format']}); upgrade to read it"
                    )
                self._cache[trial_id] = TrialRecord.from_json(data)
            except StoreError:
                raise
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise StoreError(f"{path}: unreadable trial metadata ({e})") from None
        return sorted(self._cache.values(), key=lambda rec: int(rec.trial_id[1:]))

    def get(self, trial_id: str) -> TrialRecord:
        """The trial ``trial_id``; :class:`UsageError` when the ledger has no such trial."""
        if trial_id not in self._cache:
            self._load()
        try:
            return self._cache[trial_id]
        except KeyError:
            raise UsageError(f"no trial '{trial_id}' in the ledger at {self.root}") from None

    def records(
        self,
        kind: TrialKind | str | None = None,
        family: str | None = None,
        *,
        kinds: Collection[TrialKind | str] | None = None,
        model_id: str | None = None,
    ) -> list[TrialRecord]:
        """Trials in recording order, filtered by ``kind`` (one) or ``kinds`` (several), ``family`` and
        ``model_id`` when given."""
        wanted: set[TrialKind] | None = None
        if kind is not None:
            wanted = {parse_kind(kind)}
        if kinds is not None:
            more = {parse_kind(k) for k in kinds}
            wanted = more if wanted is None else wanted & more
        return [
            rec
            for rec in self._load()
            if (wanted is None or rec.kind in wanted)
            and (family is None or rec.family == family)
            and (model_id is None or rec.model_id == model_id)
        ]

    def trials(self, kind: TrialKind | str | None = None, family: str | None = None) -> pd.DataFrame:
        """Metadata of the trials (optionally of one ``kind`` and/or ``family``), one row each in recording
        order, with the columns of :data:`TRIAL_COLUMNS`. ``symbols`` is a comma-joined string;
        ``sharpe_per_bar``/``skewness``/``kurtosis`` are the ledger's own figures (NaN when undefined);
        ``metrics`` holds the caller's dict."""
        rows = [_row(rec) for rec in self.records(kind, family)]
        df = pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))
        for c in ("start_ms", "end_ms", "n_bars", "first_ts_ms", "last_ts_ms", "bar_ms", "created_ms"):
            df[c] = df[c].astype(np.int64)
        for c in ("sharpe_per_bar", "skewness", "kurtosis", "total_return"):
            df[c] = df[c].astype(np.float64)
        return df

    def n_trials(
        self, family: str | None = None, *, kinds: Collection[TrialKind | str] = SELECTION_KINDS
    ) -> int:
        """How many trials competed for selection (of ``family``, or in the whole ledger): DSR's N.

        By default every kind but ``vault`` counts (a vault run tests a model already chosen).
        """
        return len(self.records(family=family, kinds=kinds))

    def returns(self, trial_id: str) -> tuple[np.ndarray, np.ndarray]:
        """``(ts, ret)`` of a trial: int64 ms UTC bar times and float64 per-bar simple returns."""
        rec = self.get(trial_id)
        return read_series(self._series_path(rec.trial_id), rec.n_bars)

    def returns_matrix(
        self,
        trial_ids: Sequence[str] | None = None,
        *,
        family: str | None = None,
        kinds: Collection[TrialKind | str] = SELECTION_KINDS,
        join: Join = "inner",
        fill_value: float = 0.0,
    ) -> ReturnsMatrix:
        """The T×N matrix of per-bar returns of ``trial_ids``, or of every trial of ``family`` (of
        ``kinds``), ready for :func:`autoperp.metrics.probability_of_backtest_overfitting`.

        Rows are the timestamps all trials share (``join="inner"``) or any trial has (``"outer"``, missing
        bars set to ``fill_value``). Trials of different bar lengths are refused.
        """
        if (trial_ids is None) == (family is None):
            raise UsageError("give exactly one of trial_ids or family")
        if isinstance(trial_ids, str):
            raise UsageError("trial_ids must be a sequence of ids; for a family use family=...")
        ids = (
            [rec.trial_id for rec in self.records(family=family, kinds=kinds)]
            if family
            else list(trial_ids or [])
        )
        if family is not None and not ids:
            raise UsageError(f"no trials of family '{family}' in the ledger at {self.root}")
        return align_returns([(i, *self.returns(i)) for i in ids], join=join, fill_value=fill_value)

    # ------------------------------------------------------------------ selection statistics
    def sharpe_variance(self, family: str, *, bar_ms: int | None = None) -> float:
        """Variance across ``family``'s selection trials of their per-bar Sharpe ratios (per-bar units²,
        on bars of ``bar_ms`` ms, by default the family's common bar length). See
        :func:`autoperp.metrics.ledger.selection.sharpe_variance_of`."""
        recs = self.records(family=family, kinds=SELECTION_KINDS)
        if not recs:
            raise UsageError(f"no trials of family '{family}' in the ledger at {self.root}")
        return sharpe_variance_of(recs, bar_ms)

    def dsr_inputs(self, family: str, *, bar_ms: int | None = None) -> DSRInputs:
        """``(n_trials, sharpe_variance)`` of ``family`` for :func:`autoperp.metrics.deflated_sharpe_ratio`:
        ``deflated_sharpe_ratio(sr, n, **ledger.dsr_inputs(family)._asdict(), ...)``."""
        return dsr_inputs_of(self.records(family=family, kinds=SELECTION_KINDS), family, bar_ms)

    def deflated_sharpe(self, trial_id: str) -> float:
        """DSR of a trial: its per-bar Sharpe, skewness and kurtosis against the N and Sharpe variance of
        its family (variance on the trial's own bar length). :class:`UsageError` when the trial's Sharpe is
        undefined."""
        rec = self.get(trial_id)
        if not math.isfinite(rec.stats.sharpe):
            raise UsageError(f"trial {trial_id} has fewer than 3 bars or constant returns: no Sharpe ratio")
        _, ret = self.returns(trial_id)
        mom = sharpe_moments(ret)
        inputs = self.dsr_inputs(rec.family, bar_ms=rec.stats.bar_ms or None)
        return deflated_sharpe_ratio(
            mom.sharpe, mom.n, **inputs._asdict(), skewness=mom.skewness, kurtosis=mom.kurtosis
        )

    # ------------------------------------------------------------------ vault bookkeeping
    def vault_uses(self, model_id: str) -> list[TrialRecord]:
        """Vault trials recorded for ``model_id``, oldest first (empty: the model has not seen the vault)."""
        return self.records(TrialKind.VAULT, model_id=model_id)

    # ------------------------------------------------------------------ locking
    @contextmanager
    def hold_lock(self) -> Iterator[None]:
        """Hold the writer lock for the block: other writers wait (up to their ``lock_timeout_s``). Do not
        call :meth:`record` inside it: the lock is per open file, so this process would wait for itself."""
        with exclusive_lock(self.root, self.lock_timeout_s):
            yield


def _row(rec: TrialRecord) -> dict[str, Any]:
    dr, st = rec.data_range, rec.stats
    return {
        "trial_id": rec.trial_id,
        "kind": rec.kind.value,
        "family": rec.family,
        "name": rec.name,
        "config_hash": rec.config_hash,
        "symbols": ",".join(dr.symbols),
        "timeframe": dr.timeframe,
        "start_ms": dr.start_ms,
        "end_ms": dr.end_ms,
        "manifest_hash": dr.manifest_hash,
        "n_bars": st.n_bars,
        "first_ts_ms": st.first_ts_ms,
        "last_ts_ms": st.last_ts_ms,
        "bar_ms": st.bar_ms,
        "sharpe_per_bar": st.sharpe,
        "skewness": st.skewness,
        "kurtosis": st.kurtosis,
        "total_return": st.total_return,
        "metrics": dict(rec.metrics),
        "model_id": rec.model_id,
        "notes": rec.notes,
        "created_ms": rec.created_ms,
    }
