# Two commands for a newcomer: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-stamp
TORCH  := torch==2.13.0

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned, so no later requirement can pull a CUDA build.
	$(PIP) install --disable-pip-version-check -q $(TORCH)
	$(PIP) install --disable-pip-version-check -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/autoperp demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -n 2 tests

bench: $(STAMP)
	# peers (vectorbt, backtrader, gym-anytrading, stable-baselines3) are benchmark-only: the bench extra,
	# never imported by the package
	$(PIP) install --disable-pip-version-check -q -e ".[dev,bench]"
	$(PY) benchmarks/bench_import.py
	$(PY) benchmarks/bench_metrics.py
	$(PY) benchmarks/bench_backtest.py
	$(PY) benchmarks/bench_brain.py
	$(PY) benchmarks/bench_rl.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
