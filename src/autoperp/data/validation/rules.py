"""The validation rules: names (as users see them), what they mean, and whether ``--repair`` can fix them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    fixable: bool  # --repair fixes it (and logs what it did)


_RULES = [
    Rule("nan_inf", "a value is NaN or infinite", False),
    Rule("non_positive_price", "a price is zero or negative", False),
    Rule("high_below_low", "high is below low", False),
    Rule("open_outside_range", "open is outside [low, high]", False),
    Rule("close_outside_range", "close is outside [low, high]", False),
    Rule("negative_volume", "a volume or quantity is negative", False),
    Rule("taker_buy_exceeds_volume", "taker-buy volume is larger than volume", False),
    Rule("duplicate_row", "a row repeats an earlier row exactly", True),
    Rule("duplicate_conflict", "two rows share a timestamp but differ in values", False),
    Rule("out_of_order", "timestamp is earlier than the previous row's", True),
    Rule("gap", "bars are missing between two timestamps", True),
    Rule("misaligned_timestamp", "bar open time is not a multiple of the timeframe", False),
    Rule("price_spike", "a one-bar price move that reverts at once (robust z-score)", False),
    Rule("funding_rate_cap", "funding rate is outside the exchange's cap", False),
    Rule("crossed_quote", "bid is at or above ask", False),
    Rule("empty_field", "a required text field is empty", False),
]

RULES: dict[str, Rule] = {r.name: r for r in _RULES}
#: Numba kernels report counts in this order.
RULE_INDEX: dict[str, int] = {r.name: i for i, r in enumerate(_RULES)}
N_RULES = len(_RULES)
