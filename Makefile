# The two README commands: `make demo` (the main job) and `make test` (the tests).
# Both set up what is missing first (scripts/setup.sh is idempotent).
VENV := .venv
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup demo test test-all bench lint plugin clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) scripts/demo.py $(if $(RASTER),--raster $(RASTER),) --out out --overwrite

test: setup
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -q -ra -m "" $(PYTEST_ARGS)

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

LINT_PATHS := engine qgis_plugin scripts bench tests

lint: setup
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(PY) -m mypy

plugin: setup
	$(PY) scripts/package_plugin.py

clean:
	rm -rf out dist build .pytest_cache
