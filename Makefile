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

.PHONY: install lock train eval test test-fast lint tensorboard serve backtest results bench clean clean-all

install: $(STAMP)

# torch first and pinned, from the index TORCH picks: cpu = PyTorch's CPU-only wheels (download.pytorch.org,
# a few hundred MB); cuda or unset = pip's configured index, which on Linux from the public PyPI is the CUDA
# build (several GB). Set it before the first install: `make install TORCH=cpu` (again: rm $(STAMP) first).
TORCH ?=
TORCH_INDEX_cpu := --index-url https://download.pytorch.org/whl/cpu
TORCH_INDEX_cuda :=
ifeq ($(filter $(TORCH),cpu cuda),)
ifneq ($(TORCH),)
$(error TORCH=$(TORCH) is not cpu or cuda; leave it unset for pip's configured index)
endif
endif
# Every other package at the version the suite last passed with (constraints.txt; `make lock` rewrites it
# from .venv), so a new release reaches an install only through a change to that file. Python 3.10 lacks
# wheels for several of those versions and resolves pyproject's ranges instead; LOCK= does that anywhere.
LOCK ?= constraints.txt
LOCKED = $$($(BIN)/python -c 'import sys; new = sys.version_info >= (3, 11); print("-c $(LOCK)" if "$(LOCK)" and new else ""); \
	"$(LOCK)" and not new and sys.stderr.write("Python %d.%d: not $(LOCK), whose versions need 3.11+; resolving pyproject.toml ranges\n" % sys.version_info[:2])')
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(TORCH_INDEX_$(TORCH))
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(LOCKED)
	touch $(STAMP)

# Rewrite constraints.txt from .venv (after `make install LOCK=` and a passing `make test`): every installed
# package but closecast itself and torch with its CUDA libraries, which TORCH's index chooses.
lock:
	test -x $(BIN)/python || { echo "no $(VENV) to lock: make install LOCK= first"; exit 1; }
	{ echo "# make lock: the versions make install uses beside pyproject.toml's ranges (Python >= 3.11)"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(torch|triton|nvidia-[a-z0-9-]+)=='; \
	} > constraints.txt

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

# Scores the published model (checkpoints/best.pt) without refitting it, e.g. make eval ARGS="data.ticker=MSFT"
eval: $(STAMP)
	$(BIN)/python eval.py $(ARGS)

# Walk-forward backtest of one series (configs/backtest.yaml), e.g. make backtest ARGS="data.ticker=MSFT"
backtest: $(STAMP)
	$(BIN)/python backtest.py $(ARGS)

# Regenerate docs/RESULTS.md: the backtest on every bundled ticker (reports/, run from the repo root)
results: $(STAMP)
	$(BIN)/python -m reports $(ARGS)

# Regenerate docs/BENCHMARKS.md on this machine (CPU): training, serving, the pruning benchmark, then the
# universe (the 20-stock preset and 500 synthetic series).
bench: $(STAMP)
	$(BIN)/python -m benchmarks train --update-docs
	$(BIN)/python -m benchmarks serve --update-docs
	$(BIN)/python -m benchmarks hpo --update-docs
	$(BIN)/python -m benchmarks universe --update-docs

# Serves checkpoints/ on http://$(HOST):$(PORT) (loopback unless HOST=0.0.0.0; API_KEY to require a key).
serve: $(STAMP)
	$(BIN)/python -m closecast.serve

# Deletes the runs and caches; keeps what took longest to make: the published models (checkpoints/) and
# the Optuna studies (outputs/*.db). `make clean-all` deletes those too, and the baseline fits' cache (.cache).
clean:
	find outputs -mindepth 1 -maxdepth 1 ! -name .gitkeep ! -name '*.db' ! -name '*.db-*' -exec rm -rf {} +
	rm -rf data/cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-all: clean
	find outputs checkpoints -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .cache
