# Two entry points: `make demo` runs the guide's walkthrough on a local catalog,
# `make test` runs the test suite. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[bio,search,test]"
	touch $(STAMP)

demo: $(STAMP)
	rm -rf lakecat-demo
	$(BIN)/python docs/guide.py --storage ./lakecat-demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check lakecat tests benchmarks
	$(BIN)/ruff format --check lakecat tests benchmarks

clean:
	rm -rf $(VENV) lakecat-demo .pytest_cache
