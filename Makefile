# closecast — `make train` and `make test` are all a fresh clone needs; both set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

HOST            ?= 127.0.0.1
PORT            ?= 9010
WORKERS         ?= 1
CHECKPOINTS_DIR ?= checkpoints
LOGDIR          ?= outputs
export HOST PORT WORKERS CHECKPOINTS_DIR

.PHONY: install train test test-fast lint tensorboard serve backtest results bench clean

install: $(STAMP)

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Trains the default model and publishes it (checkpoints/best.pt), what `make serve` then serves.
train: $(STAMP)
	$(BIN)/python train.py publish=true $(ARGS)

# One test process per core (pytest-xdist), each test file kept on one of them (its fixtures built once).
PYTEST := $(BIN)/python -m pytest -n auto --dist loadfile

test: $(STAMP)
	$(PYTEST) $(ARGS)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow" $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# TensorBoard over every run: loopback, port 6006 unless told (make tensorboard HOST=0.0.0.0 PORT=6007 LOGDIR=outputs/hpo)
tensorboard: PORT = 6006
tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir $(LOGDIR) --host $(HOST) --port $(PORT)

# Walk-forward backtest of one series (configs/backtest.yaml), e.g. make backtest ARGS="data.ticker=MSFT"
backtest: $(STAMP)
	$(BIN)/python backtest.py $(ARGS)

# Regenerate docs/RESULTS.md: the backtest on every bundled ticker (reports/, run from the repo root)
results: $(STAMP)
	$(BIN)/python -m reports $(ARGS)

# Regenerate docs/BENCHMARKS.md on this machine (CPU): training, serving, then the pruning benchmark.
bench: $(STAMP)
	$(BIN)/python -m benchmarks train --update-docs
	$(BIN)/python -m benchmarks serve --update-docs
	$(BIN)/python -m benchmarks hpo --update-docs

# Serves checkpoints/ on http://$(HOST):$(PORT) (loopback unless HOST=0.0.0.0; API_KEY to require a key).
serve: $(STAMP)
	$(BIN)/python -m closecast.serve

clean:
	rm -rf outputs/* checkpoints/*.pt data/cache .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
