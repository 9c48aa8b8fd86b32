# Two commands for a new user: `make demo` (set up, plan the sample centre's week) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WEEK := 2026-11-30

.PHONY: demo test setup

setup: $(VENV)/.installed $(VENV)/osrm/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# OSRM's programs (road travel times): taken from the osrm-bindings wheel, which is built for
# Python 3.12+ only; the programs themselves need no Python (see service/roads.py).
$(VENV)/osrm/.installed: $(VENV)/.installed service/roads.py
	$(BIN)/homevisit roads install
	touch $@

demo: setup
	$(BIN)/homevisit plan scenarios/data/minhang-centre --week $(WEEK) --out out/minhang-centre --time-limit 30

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q
