"""Column indices of the kernel's packed arrays (market fields, parameters, state, summary, trade log).

The numba kernel works on plain float64/int64 arrays, so records are packed by index. These constants
are the single definition of those layouts; Python wrappers turn the arrays back into named records.
"""

from __future__ import annotations

# market[f, bar]: one row per field, one column per bar (each field contiguous)
M_OPEN = 0
M_HIGH = 1
M_LOW = 2
M_CLOSE = 3
M_VOLUME = 4  # base units
M_MARK = 5  # mark close (trade close where there is no mark data): equity is marked here
M_LIQ_LOW = 6  # mark low (trade low without mark data): long liquidation test
M_LIQ_HIGH = 7  # mark high (trade high without mark data): short liquidation test
M_SETTLE_PRICE = 8  # price a funding settlement at this bar's open is valued at (USDT)
M_FUNDING = 9  # summed funding rate settling at this bar's open; NaN = no settlement
M_SIGMA = 10  # causal per-bar volatility of log returns (fraction), for the impact model
M_SPREAD = 11  # extra half-spread at this bar (fraction), e.g. from a liquidity-drought scenario
N_MARKET = 12

# params[p]
P_INITIAL_CASH = 0  # USDT
P_LEVERAGE = 1  # user leverage: initial margin = notional / leverage
P_ISOLATED = 2  # 1.0 isolated, 0.0 cross
P_TAKER_FEE = 3  # fraction of notional
P_MAKER_FEE = 4  # fraction of notional
P_HALF_SPREAD = 5  # fraction of price
P_IMPACT_K = 6  # square-root impact coefficient
P_IMPACT_CAP = 7  # fraction of price
P_LIQ_FEE = 8  # liquidation clearance fee, fraction of notional at the liquidation price
P_LOT_STEP = 9  # base units
P_MIN_NOTIONAL = 10  # USDT
P_DELAY = 11  # extra bars between decision and fill (0 = next bar's open)
P_TARGET_QTY = 12  # 1.0: targets are base units; 0.0: targets are exposure in units of equity
P_REBALANCE_BAND = 13  # fraction of equity below which a same-side resize is skipped
P_MAX_NOTIONAL = 14  # USDT cap implied by the bracket table at the chosen leverage
N_PARAMS = 15

# state[s]: the account of one path between calls
S_WALLET = 0  # USDT, wallet balance (includes isolated margin)
S_QTY = 1  # signed base units
S_ENTRY = 2  # USDT, average entry price
S_ISO_MARGIN = 3  # USDT, isolated margin of the open position (isolated mode)
S_LIQ_PRICE = 4  # USDT, cached liquidation price (0 long-safe / inf short-safe when flat)
S_FEES = 5  # USDT, trading + liquidation fees paid
S_FUNDING = 6  # USDT, net funding paid (negative = received)
S_FUNDING_PAID = 7  # USDT, gross funding paid
S_FUNDING_RECEIVED = 8  # USDT, gross funding received
S_N_FILLS = 9
S_N_LIQ = 10
S_PEAK = 11  # USDT, running equity peak
S_MAX_DD = 12  # fraction, running maximum drawdown
S_SUM_R = 13  # sum of simple per-bar returns of equity
S_SUM_R2 = 14  # sum of squared simple per-bar returns
S_LAST_EQUITY = 15  # USDT, equity at the last processed bar
S_N_BARS = 16
S_TURNOVER = 17  # USDT, traded notional
S_BLOWN = 18  # 1.0 once equity reached zero: no further orders
N_STATE = 19

# trade log: kinds and columns
EV_FILL = 0
EV_FUNDING = 1
EV_LIQUIDATION = 2
EV_FORCE_CLOSE = 3
EVENT_KIND_NAMES = ("fill", "funding", "liquidation", "force_close")

# int columns
E_KIND = 0
E_BAR = 1
E_TS = 2
N_EVENT_INT = 3
# float columns
E_QTY = 0  # signed base units traded (0 for funding)
E_PRICE = 1  # USDT fill / liquidation / settlement price
E_FEE = 2  # USDT, positive = paid
E_PNL = 3  # USDT realised PnL of the fill (before fee)
E_FUNDING = 4  # USDT, positive = paid
E_RATE = 5  # funding rate (fraction)
E_POSITION = 6  # signed base units after the event
E_WALLET = 7  # USDT wallet after the event
E_ISO_MARGIN = 8  # USDT isolated margin after the event (isolated mode)
N_EVENT_FLOAT = 9
