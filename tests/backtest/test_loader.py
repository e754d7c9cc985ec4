"""User strategy files: Strategy subclasses and plain classes with decide load; every problem is one
UsageError line that names the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from autoperp.backtest.loader import load_strategy_file
from autoperp.backtest.market_data import MarketData, market_data_from_sim
from autoperp.backtest.strategies import make_strategy
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError
from tests.backtest.synthetic_inputs import BTC, sim_market, synthetic

SUBCLASS = """
import math
from autoperp.backtest.strategy import Strategy
from autoperp.backtest.strategies import SmaTrend  # imported: must not count as the file's strategy


class Breakout(Strategy):
    name = "breakout"
    lookback = 30
    exposure = 1.0

    def decide(self, window):
        c = window.close
        if len(c) < self.lookback:
            return math.nan
        return self.exposure if c[-1] >= c[-self.lookback:].max() else -self.exposure
"""

PLAIN = """
import math


class Momentum:
    '''Long after a rise over `lookback` bars, short after a fall.'''
    lookback = 20
    exposure = 0.5
    flip = False

    def decide(self, window):
        c = window.close
        if len(c) < self.lookback:
            return None
        up = c[-1] > c[-self.lookback]
        if self.flip:
            up = not up
        return self.exposure if up else -self.exposure
"""


def write(tmp_path: Path, text: str, name: str = "user_strategy.py") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="module")
def data() -> MarketData:
    return market_data_from_sim(sim_market(synthetic([BTC], 500, seed=2)[BTC]))


def test_strategy_subclass_loads_and_runs(tmp_path: Path, data: MarketData) -> None:
    cls = load_strategy_file(write(tmp_path, SUBCLASS))
    assert cls.__name__ == "Breakout" and issubclass(cls, Strategy)
    s = make_strategy(cls, "breakout", exposure=2)
    t = s.targets(data)
    assert np.isnan(t[:29]).all()
    assert set(np.unique(t[29:])) <= {-2.0, 2.0}
    assert s.params() == {"lookback": 30, "exposure": 2.0}


def test_plain_class_with_decide_is_wrapped(tmp_path: Path, data: MarketData) -> None:
    cls = load_strategy_file(write(tmp_path, PLAIN))
    assert issubclass(cls, Strategy) and cls.name == "Momentum"
    s = make_strategy(cls, "Momentum", exposure="0.25", flip="true")
    assert s.lookback == 20
    assert s.params() == {"exposure": 0.25, "flip": True}
    t = s.targets(data)
    assert np.isnan(t[:19]).all()  # None from decide means hold
    c = data.close
    j = 100
    assert t[j] == (-0.25 if c[j] > c[j - 19] else 0.25)  # flipped
    with pytest.raises(UsageError, match="no parameter 'speed'"):
        make_strategy(cls, "Momentum", speed=3)


def test_several_classes_need_a_name(tmp_path: Path) -> None:
    path = write(tmp_path, SUBCLASS + "\n" + PLAIN)
    with pytest.raises(UsageError) as ei:
        load_strategy_file(path)
    msg = ei.value.one_line()
    assert str(path) in msg and "Breakout, Momentum" in msg and "--strategy NAME" in msg
    assert load_strategy_file(path, "Momentum").name == "Momentum"
    assert load_strategy_file(path, "breakout").__name__ == "Breakout"  # by its name attribute too
    with pytest.raises(UsageError, match=r"no strategy named 'Nope' \(found: Breakout, Momentum\)"):
        load_strategy_file(path, "Nope")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as ei:
        load_strategy_file(tmp_path / "absent.py")
    assert ei.value.one_line() == f"{tmp_path / 'absent.py'}: strategy file not found"


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "import math\n\nclass Broken:\n    def decide(self, window)\n        return 1.0\n")
    with pytest.raises(UsageError) as ei:
        load_strategy_file(path)
    msg = ei.value.one_line()
    assert msg.startswith(f"{path}: line 4: syntax error")


def test_error_while_importing_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "import math\nX = 1 / 0\n")
    with pytest.raises(UsageError) as ei:
        load_strategy_file(path)
    assert ei.value.one_line() == f"{path}: line 2: importing it failed: ZeroDivisionError: division by zero"


def test_no_strategy_class(tmp_path: Path) -> None:
    path = write(tmp_path, "from autoperp.backtest.strategies import SmaTrend\n\nclass Helper:\n    pass\n")
    with pytest.raises(UsageError) as ei:
        load_strategy_file(path)
    assert str(path) in ei.value.one_line() and "no strategy class found" in ei.value.one_line()


def test_abstract_subclass_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path, "from autoperp.backtest.strategy import Strategy\n\nclass Half(Strategy):\n    pass\n"
    )
    with pytest.raises(UsageError, match="Half does not implement decide"):
        load_strategy_file(path)


def test_not_python(tmp_path: Path) -> None:
    path = write(tmp_path, "x", name="strategy.txt")
    with pytest.raises(UsageError, match=r"must be Python source \(\.py\)"):
        load_strategy_file(path)
