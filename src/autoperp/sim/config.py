"""Simulator settings (pydantic) and their packing into the kernel's parameter row."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from autoperp.core.types import MarginBracket, MarginMode
from autoperp.sim import layout as L
from autoperp.sim.brackets import max_notional

__all__ = ["SimConfig", "TargetKind", "pack_params"]


class TargetKind(StrEnum):
    """How target positions are expressed."""

    EXPOSURE = "exposure"  # signed notional in units of equity: 1.0 = fully long at 1x, -2.0 = short at 2x
    QTY = "qty"  # signed base units


class SimConfig(BaseModel):
    """Costs, margin and execution settings of one simulated account (defaults: Binance USD-M VIP 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_cash: float = Field(10_000.0, gt=0, description="USDT")
    leverage: float = Field(1.0, ge=1.0, le=125.0, description="initial margin = notional / leverage")
    margin_mode: MarginMode = MarginMode.CROSS
    taker_fee: float = Field(0.0005, ge=0, lt=0.1, description="fraction of notional")
    maker_fee: float = Field(0.0002, ge=-0.01, lt=0.1, description="fraction of notional; negative = rebate")
    half_spread: float = Field(0.00005, ge=0, lt=0.1, description="fraction of price")
    impact_k: float = Field(0.1, ge=0, description="square-root impact coefficient k in k·σ·sqrt(q/V)")
    impact_cap: float = Field(0.01, ge=0, lt=0.5, description="maximum impact, fraction of price")
    liquidation_fee: float = Field(0.0125, ge=0, lt=0.5, description="clearance fee, fraction of notional")
    lot_step: float = Field(0.0, ge=0, description="base units; 0 = no rounding")
    min_notional: float = Field(0.0, ge=0, description="USDT; smaller resizes are skipped")
    delay_bars: int = Field(0, ge=0, le=1000, description="extra bars between decision and fill")
    target_kind: TargetKind = TargetKind.EXPOSURE
    # Exposure targets drift with price (a 1x short is 1.1x after a 10% rise), so without a band every
    # bar would trade a sliver and pay fees for it; 2% of equity keeps resizes meaningful. Closes and
    # reversals always go through. Set 0 for exact tracking.
    rebalance_band: float = Field(
        0.02, ge=0, lt=1, description="same-side resizes below this fraction of equity are skipped"
    )


def pack_params(config: SimConfig, brackets: tuple[MarginBracket, ...]) -> np.ndarray:
    """The kernel's float64 parameter row for ``config`` on an instrument with ``brackets``."""
    p = np.zeros(L.N_PARAMS, dtype=np.float64)
    p[L.P_INITIAL_CASH] = config.initial_cash
    p[L.P_LEVERAGE] = config.leverage
    p[L.P_ISOLATED] = 1.0 if config.margin_mode == MarginMode.ISOLATED else 0.0
    p[L.P_TAKER_FEE] = config.taker_fee
    p[L.P_MAKER_FEE] = config.maker_fee
    p[L.P_HALF_SPREAD] = config.half_spread
    p[L.P_IMPACT_K] = config.impact_k
    p[L.P_IMPACT_CAP] = config.impact_cap
    p[L.P_LIQ_FEE] = config.liquidation_fee
    p[L.P_LOT_STEP] = config.lot_step
    p[L.P_MIN_NOTIONAL] = config.min_notional
    p[L.P_DELAY] = config.delay_bars
    p[L.P_TARGET_QTY] = 1.0 if config.target_kind == TargetKind.QTY else 0.0
    p[L.P_REBALANCE_BAND] = config.rebalance_band
    p[L.P_MAX_NOTIONAL] = max_notional(brackets, config.leverage)
    return p
