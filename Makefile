# Every target builds what it needs from nothing: a fresh clone runs `make test` and `make demo` as is.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAYER_ZIP := dist/lambda-tracer-layer.zip
LAYER_SOURCES := $(shell find layer wrapper -type f -not -path '*/__pycache__/*') requirements/layer.txt tools/build_layer.py \
	tools/elf_debug.py tools/layer_deps.py tools/python314.py
# Python 3.14 fetched into build/python3.14 (tools/python314.py) after a zip was built without it: rebuild.
PYTHON314_STAMP := $(wildcard build/python3.14/python314.json)

.PHONY: venv layer build-TracerLayer lint test test-fast demo bench clean dist mutation publish help

venv: $(STAMP) ## the dev venv in .venv (requirements/dev.txt)
$(STAMP): requirements/dev.txt requirements/layer.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	touch $(STAMP)

# The layer build needs only python3 and pip, not the dev venv: `sam build` runs it too, and a fresh clone
# should not install the test toolchain to get a layer. Downloads are cached in build/layer-cache. Bytecode
# for 3.14 needs a Python 3.14: without one in pyenv or on PATH, Debian's is fetched into build/python3.14
# (apt-get download from deb.debian.org, once); if that fails the zip is built without 3.14 bytecode, with
# a loud warning, and `make publish` refuses it.
layer: $(LAYER_ZIP) ## the layer zip, dist/lambda-tracer-layer.zip
$(LAYER_ZIP): $(LAYER_SOURCES) $(PYTHON314_STAMP)
	$(PYTHON) tools/build_layer.py --output $(LAYER_ZIP)

# SAM's makefile builder (template.yaml: ContextPath and WorkingDirectory are the repo root, so make runs
# here, with ARTIFACTS_DIR=.aws-sam/build/TracerLayer): the same zip as `make layer`, unpacked with its
# file modes (zipfile.extractall would drop the wrapper's exec bit).
build-TracerLayer: $(LAYER_ZIP) ## for `sam build`: the layer zip unpacked into ARTIFACTS_DIR
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set: build-TracerLayer is for `sam build`; use `make layer`))
	$(PYTHON) tools/build_layer.py --unpack $(LAYER_ZIP) "$(ARTIFACTS_DIR)"

lint: $(STAMP) ## ruff, ruff format, mypy (strict) and shellcheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/shellcheck -s sh wrapper/lambda-tracer

# lint is a prerequisite of both test targets: nothing is tested until it passes (make stops at the first failure).
test: lint $(LAYER_ZIP) ## lint, then the whole test suite
	$(PY) -m pytest -n 2 -q

# The quick loop (a minute or two here, 3 at most): lint, then the unit and end-to-end suites on the venv's Python
# only (the e2e runs on other interpreters are deselected). `make test` is the full suite: tools, layer, packaging,
# examples, bench, reliability and the other Pythons too.
test-fast: lint $(LAYER_ZIP) ## lint, then the unit and e2e suites on the venv's Python only
	$(PY) -m pytest -n 2 -q tests/unit tests/e2e \
		-k "not test_traced_on_python or [$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')]"

demo: $(STAMP) $(LAYER_ZIP) ## the built layer on two example functions, offline: traces printed and a timeline page
	PYTHONPATH=local $(PY) -m lambda_tracer_local.demo

bench: $(STAMP) $(LAYER_ZIP) ## cold start, warm cost, memory and size beside the reference (BENCH_ARGS: options)
	$(PY) bench/run.py $(BENCH_ARGS)

clean: ## remove .venv, dist, build and .aws-sam
	rm -rf $(VENV) dist build .aws-sam

# The PyPI wheel (`pip install lambda-tracer`: the tracer, the local runtime and its command; not tools/) into
# dist/. setuptools builds in build/lib and never empties it, so it is removed first: otherwise a module deleted
# or moved since the last build would ship again.
dist: $(STAMP) ## the PyPI wheel into dist/
	rm -rf build/lib build/bdist.* lambda_tracer.egg-info
	$(PY) -m pip wheel -q --no-deps --disable-pip-version-check -w dist .

# Mutation testing (tools/mutation.py): mutmut 3.8.1 mutates capture(_convert, _json), redaction(_text, _masks), config,
# endpoints and coldstart, and runs the unit suite against each mutant; fails when the suite kills under 90 % of a module's mutants that
# tests/mutation/equivalent.txt does not list. Minutes long: `make test` runs it on endpoints only
# (tests/tools/test_make_mutation.py), so that it cannot rot. mutmut has its own venv
# (requirements/mutation.txt), kept out of the dev venv. MUTATE="endpoints coldstart" limits the modules;
# MUTATION_ARGS passes more (`tools/mutation.py -h`: --report-only, --max-children, --min-score).
MUTATION_VENV := build/mutation-venv
MUTATION_STAMP := $(MUTATION_VENV)/.installed
mutation: $(MUTATION_STAMP) ## mutation testing (MUTATE="endpoints coldstart" limits the modules)
	$(MUTATION_VENV)/bin/python tools/mutation.py $(if $(MUTATE),--modules $(MUTATE)) $(MUTATION_ARGS)

$(MUTATION_STAMP): requirements/mutation.txt requirements/unit.txt requirements/layer.txt
	rm -rf $(MUTATION_VENV)
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/mutation.txt
	touch $@

# Publish dist/lambda-tracer-layer.zip as a new layer version (never overwrites one) in each region, with boto3's
# usual configuration (AWS_PROFILE, credentials chain, AWS_ENDPOINT_URL). `make publish REGIONS="us-east-1
# eu-west-1" PUBLIC=1`; LAYER_NAME=... to rename; PUBLISH_ARGS for more (`tools/publish.py -h`).
# A zip without bytecode for one of its runtimes is refused (exit 2) unless PUBLISH_ARGS=--allow-source-only.
# tools/publish.py (a maintainer's tool, not in the wheel) exits 1 when a region failed and 2 when nothing was
# attempted (bad arguments, refused zip, no credentials). make itself always exits 2 when a command fails: its
# last line, `make: *** [Makefile:…: publish] Error 1` (or `Error 2`), carries the command's status.
# The command is echoed on one line (a continued recipe line would echo its backslashes too).
PUBLISH_COMMAND = $(PY) tools/publish.py --zip $(LAYER_ZIP) $(foreach region,$(REGIONS),--region $(region)) \
	$(if $(filter 1 yes true,$(PUBLIC)),--public) $(if $(LAYER_NAME),--layer-name $(LAYER_NAME)) $(PUBLISH_ARGS)
publish: $(STAMP) $(LAYER_ZIP) ## publish the layer zip: REGIONS="..." [PUBLIC=1] [LAYER_NAME=...]
	$(info $(strip $(PUBLISH_COMMAND)))@$(PUBLISH_COMMAND)

# Every target above with a `## what it does` comment, one line each (tests/tools/test_make_help.py checks that each
# .PHONY target has one).
help: ## this list
	@sed -n 's/^\([a-zA-Z][a-zA-Z_-]*\):.*## \(.*\)$$/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | expand -t 20
