# Two commands do everything on a fresh machine:
#   make demo   set up .venv if needed, then run the main job
#   make test   set up .venv if needed, then run the test suite
# torch==2.13.0 is installed first: pip finds that CPU build on this machine's disk, and a
# bare `torch` requirement would otherwise pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.reglab-installed
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test test-slow test-all bench setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/reglab compare --seeds 15

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
