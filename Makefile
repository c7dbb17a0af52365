# The two commands of the README: `make demo` runs the product, `make test` runs the tests.
# Both create or refresh .venv with the running Python first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/triage demo

test: $(STAMP)
	$(BIN)/ruff check triage edge_node cloud_core commands demo_shop tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/encoder_speed.py
	$(BIN)/python bench/langid.py
	$(BIN)/python bench/quality.py --out docs/quality.json
	$(BIN)/python bench/thin_languages.py --out docs/thin_languages.json
	$(BIN)/python bench/fine_intents.py --out docs/fine_intents.json
	$(BIN)/python bench/repetition.py --out docs/repetition.json
	$(BIN)/triage build --catalog intents/storefront --out var/bundle
	$(BIN)/python bench/edge_load.py --bundle var/bundle

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
