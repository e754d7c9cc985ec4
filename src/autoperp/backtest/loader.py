"""Load a user strategy from a Python file (freqtrade-style ``--strategy-path FILE``).

The file is imported as a fresh module and searched for strategy classes *defined in it* (imported ones
do not count): subclasses of :class:`~autoperp.backtest.strategy.Strategy`, or any class with a
``decide(window)`` method, which is wrapped (see :mod:`autoperp.backtest.adapter`). A minimal file::

    import math

    class Momentum:
        lookback = 60            # bars decide() needs
        exposure = 1.0           # parameters: public class attributes

        def decide(self, window):            # window.close[-1] is this bar's close (USDT)
            c = window.close
            if len(c) < self.lookback:
                return math.nan              # NaN = hold
            return self.exposure if c[-1] > c[-self.lookback] else -self.exposure

Every problem raises :class:`~autoperp.core.errors.UsageError` whose one line names the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType

from autoperp.backtest.adapter import wrap_decide_class
from autoperp.backtest.strategy import Strategy
from autoperp.core.errors import UsageError

__all__ = ["load_strategy_file", "strategy_classes"]

_MODULE_PREFIX = "autoperp_user_strategy_"


def _import(path: Path) -> ModuleType:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"{_MODULE_PREFIX}{path.stem.replace('-', '_')}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: cannot be imported as a Python module (use a .py file)")
    module = importlib.util.module_from_spec(spec)
    # registered before running it, as a normal import would, so dataclasses and pickling work inside it
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise UsageError(f"{path}: line {e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:
        sys.modules.pop(name, None)
        line = next(
            (f.lineno for f in reversed(traceback.extract_tb(e.__traceback__)) if f.filename == str(path)),
            None,
        )
        where = f"line {line}: " if line else ""
        raise UsageError(f"{path}: {where}importing it failed: {type(e).__name__}: {e}") from None
    return module


def _is_candidate(cls: type) -> bool:
    if issubclass(cls, Strategy):
        return not inspect.isabstract(cls)
    return callable(getattr(cls, "decide", None))


def strategy_classes(module: ModuleType) -> list[type]:
    """Strategy classes defined in ``module`` (in source order)."""
    found = [
        obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module.__name__ and _is_candidate(obj)
    ]  # fmt: skip
    return sorted(found, key=lambda c: inspect.getsourcelines(c)[1] if _has_source(c) else 0)


def _has_source(cls: type) -> bool:
    try:
        inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return False
    return True


def _label(cls: type) -> str:
    return str(getattr(cls, "name", "") or cls.__name__)


def load_strategy_file(path: str | Path, class_name: str | None = None) -> type[Strategy]:
    """The strategy class in ``path`` (the one named ``class_name`` — class name or its ``name`` —
    when the file holds several). Plain classes with ``decide`` come back wrapped as Strategy subclasses."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"{p}: strategy file not found" if not p.exists() else f"{p}: not a file")
    if p.suffix != ".py":
        raise UsageError(f"{p}: a strategy file must be Python source (.py)")
    module = _import(p.resolve())
    classes = strategy_classes(module)
    if not classes:
        abstract = [c.__name__ for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__ and issubclass(c, Strategy)]  # fmt: skip
        hint = f" ({', '.join(abstract)} does not implement decide)" if abstract else ""
        raise UsageError(
            f"{p}: no strategy class found{hint}: define a Strategy subclass or a class with a decide(window) method"
        )
    if class_name is not None:
        chosen = [c for c in classes if class_name in (c.__name__, _label(c))]
        if not chosen:
            raise UsageError(
                f"{p}: no strategy named '{class_name}' (found: {', '.join(c.__name__ for c in classes)})"
            )
        cls = chosen[0]
    elif len(classes) > 1:
        raise UsageError(
            f"{p}: holds several strategies ({', '.join(c.__name__ for c in classes)}): choose one with --strategy NAME"
        )
    else:
        cls = classes[0]
    return cls if issubclass(cls, Strategy) else wrap_decide_class(cls)
