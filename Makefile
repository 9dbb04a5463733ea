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

# The layer build needs only python3 and pip, not the dev venv: `sam build` runs it too, and a fresh clone
# should not install the test toolchain to get a layer. Downloads are cached in build/layer-cache.
layer: $(LAYER_ZIP)
$(LAYER_ZIP): $(LAYER_SOURCES)
	$(PYTHON) tools/build_layer.py --output $(LAYER_ZIP)

# SAM's makefile builder (template.yaml: ContextPath and WorkingDirectory are the repo root, so make runs
# here, with ARTIFACTS_DIR=.aws-sam/build/TracerLayer): the same zip as `make layer`, unpacked with its
# file modes (zipfile.extractall would drop the wrapper's exec bit).
build-TracerLayer: $(LAYER_ZIP)
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set: build-TracerLayer is for `sam build`; use `make layer`))
	$(PYTHON) tools/build_layer.py --unpack $(LAYER_ZIP) "$(ARTIFACTS_DIR)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/shellcheck -s sh wrapper/lambda-tracer

test: $(STAMP) $(LAYER_ZIP)
	$(MAKE) lint
	$(PY) -m pytest -n 2 -q

demo: $(STAMP) $(LAYER_ZIP)
	PYTHONPATH=local $(PY) -m lambda_tracer_local.demo

bench: $(STAMP) $(LAYER_ZIP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dist build .aws-sam

# Publish dist/lambda-tracer-layer.zip as a new layer version (never overwrites one) in each region, with boto3's
# usual configuration (AWS_PROFILE, credentials chain, AWS_ENDPOINT_URL). `make publish REGIONS="us-east-1
# eu-west-1" PUBLIC=1`; LAYER_NAME=... to rename; PUBLISH_ARGS for more (`python -m lambda_tracer_local.publish -h`).
.PHONY: publish
publish: $(STAMP) $(LAYER_ZIP)
	PYTHONPATH=local $(PY) -m lambda_tracer_local.publish --zip $(LAYER_ZIP) \
		$(foreach region,$(REGIONS),--region $(region)) $(if $(filter 1 yes true,$(PUBLIC)),--public) \
		$(if $(LAYER_NAME),--layer-name $(LAYER_NAME)) $(PUBLISH_ARGS)
