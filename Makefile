# Two commands for a new user: `make demo` (set up, plan the sample centre's week) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WEEK := 2026-11-30
# The PostgreSQL variants of the database tests run when a server answers here (CI sets the URL
# itself, and a set URL that does not answer fails the run instead of skipping).
LOCAL_POSTGRES := postgresql+psycopg://postgres@127.0.0.1:5432/test
PROBE_POSTGRES := import psycopg; psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2).close()

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
	@url="$${HOMEVISIT_TEST_POSTGRES_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -c '$(PROBE_POSTGRES)' 2>/dev/null; then \
	  url='$(LOCAL_POSTGRES)'; \
	  echo "PostgreSQL answers on 127.0.0.1:5432: its variants run too (HOMEVISIT_TEST_POSTGRES_URL=$$url)"; \
	fi; \
	echo "$(BIN)/pytest -q"; HOMEVISIT_TEST_POSTGRES_URL="$$url" $(BIN)/pytest -q
