# Two commands on a fresh machine:  make lab  (JupyterLab on a copy of the notebooks)  and  make test.
PYTHON     ?= python3
VENV       ?= .venv
# A plain `torch` requirement pulls a multi-GB CUDA build here; install this first.
TORCH_SPEC ?= torch==2.13.0
LAB_PORT   ?= 8888
# make lab's working copy of notebooks/*.ipynb (ignored by git).
LAB_DIR    ?= lab
DEMO_PORT  ?= 8866
BIN        := $(VENV)/bin
# JupyterLab refuses to run as root without --allow-root (CI runs as root).
ROOT_FLAG  := $(if $(filter 0,$(shell id -u)),--allow-root,)

# jupytext's JupyterLab extension (for the notebook sources) fails to load in Voila's page;
# tests/browser/harness.py starts Voila with the same flag.
VOILA_DENYLIST := --VoilaConfiguration.extension_denylist=jupyterlab-jupytext
# The demo's server settings (token, websocket guard, kernel cap and culling); the browser
# tests start Voila with the same folder.
VOILA_CONFIG := --Voila.config_file_paths=apps/server
DEMO_ARGS ?=
# The token travels in the environment (JUPYTER_TOKEN), never on a command line, which every
# local user can read in /proc/PID/cmdline; the URL is printed only to this terminal.
NEW_TOKEN := $(BIN)/python -c "import secrets; print(secrets.token_hex(16))"

.PHONY: help lab demo test unit notebooks install install-test clean

# Each target is documented by a "## make X: summary" line (then "##" lines of detail);
# make help lists them, so a new target documents itself there.
## make help: every target with its one-line summary (the default goal).
.DEFAULT_GOAL := help
help:
	@awk '/^## make [^ :]+:/ { line = substr($$0, 9); i = index(line, ":"); \
		printf "make %-13s %s\n", substr(line, 1, i - 1), substr(line, i + 2) }' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# One stamp per torch spec, named by a checksum of it: a different TORCH_SPEC has no stamp
# yet, so torch is reinstalled and then every install set below (they all depend on it).
TORCH_STAMP := $(VENV)/.torch-$(shell printf '%s' '$(TORCH_SPEC)' | cksum | cut -d' ' -f1)

$(TORCH_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	rm -f $(VENV)/.torch $(VENV)/.torch-*
	touch $@

# The install sets: $(VENV)/.installed-X installs the package with the extras EXTRAS_X, then
# the peers NO_DEPS_X without their dependencies.
EXTRAS_notebook := notebook
EXTRAS_test     := test,browser
EXTRAS_demo     := browser
# The peers, installed without their dependencies so torch is never replaced:
# - sinabs 3.1.3 is the numerical reference of the seed family (its hardware tool-chains,
#   samna and friends, are not needed);
# - snntorch, norse and spikingjelly are the frameworks sgexplore.interop targets; norse needs
#   nir and nirtorch (nir 1.0.4, the newest sinabs 3.1.3 accepts; norse imports with it) and
#   spikingjelly loguru. Their plain dependencies (matplotlib, h5py, pbr) are in the test extras.
NO_DEPS_test    := sinabs==3.1.3 snntorch==1.0.0 norse==1.1.0 spikingjelly==2.0.0 \
                   nir==1.0.4 nirtorch==2.6 loguru==0.7.3

# Makefile too: a changed NO_DEPS_X list reinstalls.
$(VENV)/.installed-%: pyproject.toml Makefile $(TORCH_STAMP)
	$(if $(EXTRAS_$*),,$(error no install set "$*": define EXTRAS_$* in the Makefile))
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS_$*)]"
	$(if $(NO_DEPS_$*),$(BIN)/python -m pip install -q --no-deps $(foreach p,$(NO_DEPS_$*),"$(p)"))
	touch $@

## make install: .venv with torch from TORCH_SPEC and the package with its notebook extras.
install: $(VENV)/.installed-notebook
## make install-test: .venv with torch, the package with its test and browser extras, and sinabs.
install-test: $(VENV)/.installed-test

# make lab serves a working copy, so that JupyterLab's autosave never touches the tracked
# notebooks (nbval checks their stored outputs). A notebook missing from LAB_DIR is copied
# there; one already there (a student's own copy) is an order-only target, never overwritten.
LAB_NOTEBOOKS := $(patsubst notebooks/%,$(LAB_DIR)/%,$(wildcard notebooks/*.ipynb))

$(LAB_DIR)/%.ipynb: | notebooks/%.ipynb
	@mkdir -p $(@D)
	cp notebooks/$*.ipynb $@

## make lab: JupyterLab on lab/, your working copy of the notebooks (127.0.0.1, token on).
## Copies each notebook missing from lab/ (git ignores it); your edited copies stay, and
## notebooks/ is never written. Delete a file in lab/ to get a fresh copy on the next make lab.
lab: install $(LAB_NOTEBOOKS)
	@JUPYTER_TOKEN=$$($(NEW_TOKEN)); export JUPYTER_TOKEN; \
	echo "JupyterLab on $(LAB_DIR)/: http://127.0.0.1:$(LAB_PORT)/lab?token=$$JUPYTER_TOKEN"; \
	exec $(BIN)/jupyter lab $(LAB_DIR) --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) $(ROOT_FLAG)

## make demo: the explorers as a Voila app (no code shown), on 127.0.0.1 behind a fresh token.
## For lab demos and projectors; open the URL printed first. Settings: apps/server/voila.py
## (kernel cap, idle kernels freed within 50 s); override with DEMO_ARGS="--X.y=...".
demo: $(VENV)/.installed-demo
	@JUPYTER_TOKEN=$$($(NEW_TOKEN)); export JUPYTER_TOKEN; \
	echo "Voila app: http://127.0.0.1:$(DEMO_PORT)/?token=$$JUPYTER_TOKEN"; \
	exec $(BIN)/voila apps/explorer.ipynb --no-browser --port=$(DEMO_PORT) --Voila.ip=127.0.0.1 \
		$(VOILA_CONFIG) $(VOILA_DENYLIST) $(DEMO_ARGS)

# The second nbval run simulates another machine: AVX2 kernels instead of this CPU's best
# (AVX-512 here) and 2 torch threads; nbval's kernel inherits the environment, and
# tests/test_packaging.py checks that torch in a kernel started with it really runs so.
OTHER_MACHINE_ENV := ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
# The third run uses the oldest kernels (no vector extensions past SSE4.2) and 1 thread. On an
# AVX2 or AVX-512 machine this changes the last bit of chaotic runs, so it shows that no stored
# output depends on them.
BASELINE_MACHINE_ENV := ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
NBVAL := -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg notebooks/

## make test: the whole suite, then the notebooks' stored outputs (nbval, strict mode), three times.
## On this machine, then as simulated other ones (OTHER_MACHINE_ENV, BASELINE_MACHINE_ENV).
test: install-test
	$(BIN)/python -m pytest tests
	$(BIN)/python $(NBVAL)
	env $(OTHER_MACHINE_ENV) $(BIN)/python $(NBVAL)
	env $(BASELINE_MACHINE_ENV) $(BIN)/python $(NBVAL)

## make unit: the fast tier (under a minute on 2 cores): no slow, compile, server or browser tests.
## Those markers are registered in pyproject.toml; make test runs every test. Two pytest-xdist
## workers, one per core (about 65 s in one process, BENCHMARKS.md "Test tiers").
unit: install-test
	$(BIN)/python -m pytest tests -m "not (slow or compile or server or browser)" -n 2

## make notebooks: rebuild notebooks/*.ipynb from notebooks/*.py (jupytext), with fresh outputs.
## Executes every notebook (a few minutes) and stores its outputs without widget state.
notebooks: install-test
	$(BIN)/python tools/build_notebooks.py
	$(BIN)/python tools/execute_notebooks.py notebooks/*.ipynb

## make clean: remove .venv and pytest's cache.
clean:
	rm -rf $(VENV) .pytest_cache
