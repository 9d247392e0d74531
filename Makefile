# The public interface of the project. `make demo` and `make test` work from a clean clone on a
# machine with Python 3.11 and make (Debian's chromium is installed for the browser tests).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)
SCALE ?= 1

.PHONY: setup chromium demo generate materialize test dev bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# Debian's Chromium for the report tests (browsers cannot be downloaded by Playwright here).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# Synthetic demo data in data/ (and a pseudonym key outside the repository, if none exists yet).
generate: setup
	$(BIN)/python -m pipeline.privacy --create-key
	$(BIN)/python -m pipeline.demo --out data --scale $(SCALE)

materialize: setup
	$(BIN)/dagster asset materialize --select '*' -m pipeline

demo: generate materialize
	@echo "Reports: $(CURDIR)/reports/index.html"

test: setup chromium
	$(BIN)/python -m pytest

dev: setup
	$(BIN)/dagster dev -m pipeline

bench: setup
	$(BIN)/python benchmarks/run.py --scale $(SCALE)

clean:
	rm -rf data/inbox data/reference data/refused data/warehouse.duckdb* reports/*.html reports/*.js reports/*.xlsx .dagster
