# Shop analytics kit: type `make` to see the commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
VENV_ABS := $(abspath $(VENV))
DEMO ?= build/demo
ARGS ?=
.DEFAULT_GOAL := help

.PHONY: help venv demo test gallery bench docs

help: ## Show the commands and what they do
	@echo "Shop analytics kit: commands"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(VENV)/.kit-installed ## Create .venv with the kit's tools (cookiecutter, pytest, ruff)

# uv when it is on the PATH (several times faster on a cold cache), else venv + pip; INSTALLER=pip
# forces pip. Baked projects never install into it: demo, gallery and the tests give each
# project its own .venv (this one lends them uv).
INSTALLER ?= auto
UV := $(if $(filter pip,$(INSTALLER)),,$(shell command -v uv 2>/dev/null))
$(VENV)/.kit-installed: requirements.txt
ifneq ($(UV),)
	@test -x $(PY) || $(UV) venv --quiet --seed --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt
else
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
endif
	@touch $@

# The demo project gets its own .venv (as a PM's project does): `uv sync` to its uv.lock with
# the uv the kit's virtualenv brings, or venv + pip with INSTALLER=pip. Nothing the kit's tests
# install into the kit's virtualenv can then break it (VENV and ARGS given to this make are
# not passed down).
DEMO_UV := $(if $(filter pip,$(INSTALLER)),,$(VENV_ABS)/bin/uv)
demo: venv ## Bake the default project into build/demo, run all its reports on sample data
	@rm -rf $(DEMO) build/.bake && mkdir -p build/.bake
	$(PY) -m cookiecutter --no-input --output-dir build/.bake . init_git=no
	@mv build/.bake/shop-insights $(DEMO) && rm -rf build/.bake
	$(MAKE) --no-print-directory -C $(DEMO) reports VENV=.venv ARGS= INSTALLER=$(INSTALLER) UV=$(DEMO_UV)
	@echo ""
	@echo "Done. Open this file in your browser:"
	@echo "  $(abspath $(DEMO))/reports/latest/index.html"

test: venv ## Run the kit's tests (bakes projects and runs their own tests and reports)
	$(PY) -m pytest tests $(ARGS)

GALLERY_OUT ?= notebooks
gallery: venv ## Re-execute the gallery in notebooks/ (the default project on sample data)
	$(PY) scripts/gallery.py --venv $(VENV_ABS) --out $(GALLERY_OUT)

bench: venv ## Benchmark bake, sample data and every report at S/M/L (BENCH_SIZES, BENCH_REPEATS)
	$(PY) bench/run.py --python $(PY)

SITE ?= build/site
docs: venv ## Build the docs site into build/site (MkDocs, warnings are errors; open index.html)
	$(PY) scripts/docs.py build --site-dir $(SITE)
	@echo "Docs: $(abspath $(SITE))/index.html"
