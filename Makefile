# Every target builds what it needs from nothing: a fresh clone runs `make test` and `make demo` as is.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAYER_ZIP := dist/lambda-tracer-layer.zip
LAYER_SOURCES := $(shell find layer wrapper -type f -not -path '*/__pycache__/*') requirements/layer.txt tools/build_layer.py

.PHONY: venv test test-fast lint layer demo bench clean build-TracerLayer

venv: $(STAMP)
$(STAMP): requirements/dev.txt requirements/layer.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	touch $(STAMP)

layer: $(LAYER_ZIP)
$(LAYER_ZIP): $(STAMP) $(LAYER_SOURCES)
	$(PY) tools/build_layer.py --output $(LAYER_ZIP)

# SAM's makefile builder calls this with ARTIFACTS_DIR set (see template.yaml).
build-TracerLayer:
	$(MAKE) -C "$(dir $(abspath $(lastword $(MAKEFILE_LIST))))" layer
	$(PYTHON) -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
		"$(dir $(abspath $(lastword $(MAKEFILE_LIST))))$(LAYER_ZIP)" "$(ARTIFACTS_DIR)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/shellcheck -s sh wrapper/lambda-tracer

test: $(STAMP) $(LAYER_ZIP)
	$(MAKE) lint
	$(PY) -m pytest -n 2 -q

demo: $(STAMP) $(LAYER_ZIP)
	$(PY) -m lambda_tracer_local.demo

bench: $(STAMP) $(LAYER_ZIP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dist build .aws-sam
