# The two commands: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck pytest docs bench fuzz clean

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

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

## docs: refresh docs snippets and the settings table from their sources
docs: $(STAMP)
	$(BIN)/python tests/docs_snippets.py --write

## bench: run the benchmarks and print ratios against their baselines
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .relaykit .mypy_cache .ruff_cache
