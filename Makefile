# The two commands: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck pytest node-ric docs bench fuzz clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## run: start the dev server on the example app (local model, SQLite, no key needed)
run: $(STAMP)
	$(BIN)/relaykit dev examples/quickstart.py

## test: lint, type-check and run the whole suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check framework tests examples bench
	$(BIN)/ruff format --check framework examples

typecheck: $(STAMP)
	$(BIN)/mypy framework/relaykit examples

pytest: $(STAMP) node-ric
	$(BIN)/pytest -q -p no:cacheprovider

# AWS's Node runtime client, the emulator's second independent client (built once, outside
# the repository, about 40 s of cmake/g++).
NODE_RIC_DIR ?= $(HOME)/.cache/relaykit/node-ric
node-ric:
	@test -f $(NODE_RIC_DIR)/node_modules/aws-lambda-ric/index.mjs || NODE_RIC_DIR=$(NODE_RIC_DIR) sh tests/local/install_node_ric.sh

## docs: refresh docs snippets and the settings table from their sources
docs: $(STAMP)
	$(BIN)/python tests/docs_snippets.py --write

## fuzz: the long fuzz run (5,000 examples per property instead of the suite's 150; the
## schemathesis run and the fault suite at full size: 200 SIGKILLed runs, FAULT_RUNS)
fuzz: $(STAMP)
	FUZZ_EXAMPLES=5000 FAULT_RUNS=200 $(BIN)/pytest -q -p no:cacheprovider tests/hardening

## bench: run the benchmarks and print ratios against their baselines
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .relaykit .mypy_cache .ruff_cache
