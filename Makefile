# Two entry points, each sets up .venv/ by itself:
#   make demo   build the add-on, install it into headless Blender, generate a material, render a preview
#   make test   run the whole test suite, slow and Blender tests included, one test process per core up to 4
#               (pytest-xdist; tests/conftest.py: work units); what CI runs (benchmarks/results/test_times.txt)
#   make check  lint plus the tests that are neither `blender` nor `slow`, in parallel the same way (about 35 s on
#               2 free cores)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test check build clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed (bpy is built for it)"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

build:
	python3 build.py

demo: $(VENV)/.installed
	$(PY) scripts/demo.py

test: $(VENV)/.installed
	$(PY) -m pytest -q -n auto --maxprocesses 4 tests

check: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto --maxprocesses 4 -m "not blender and not slow" tests

clean:
	rm -rf dist out .pytest_cache
