# The two commands: `make run` and `make test`. Everything else here is what they need.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MODELS := var/models/.prepared-stamp

# One compute thread per process (ARCHITECTURE.md §6); nothing reaches for the network.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export TOKENIZERS_PARALLELISM := false
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install models lint typecheck importlint unit router bench-litellm clean

run: $(MODELS)
	$(BIN)/switchboard serve --config config/default.yaml

test: $(MODELS) lint typecheck importlint unit

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, exactly 2.13.0: the CPU wheel on this disk (anything else pulls a CUDA build).
$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

models: $(MODELS)

$(MODELS): $(STAMP)
	$(BIN)/switchboard prepare-models --out var/models
	touch $@

# The shipped default router, rebuilt from config/routers/data (embeddings cached under var/).
router: $(STAMP)
	nice -n 10 $(BIN)/python -m routers.training.build_default --data-dir config/routers/data --out config/routers/default

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

importlint: $(STAMP)
	$(BIN)/lint-imports

unit: $(MODELS)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
