# Two commands on a fresh machine:  make lab  (JupyterLab on the notebooks)  and  make test.
PYTHON     ?= python3
VENV       ?= .venv
# A plain `torch` requirement pulls a multi-GB CUDA build here; install this first.
TORCH_SPEC ?= torch==2.13.0
LAB_PORT   ?= 8888
DEMO_PORT  ?= 8866
BIN        := $(VENV)/bin
# JupyterLab refuses to run as root without --allow-root (CI runs as root).
ROOT_FLAG  := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab demo test unit install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	touch $@

$(VENV)/.installed-notebook: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install -q -e ".[notebook]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install -q -e ".[test,browser]"
	# sinabs 3.1.3 is the numerical reference of the seed family; its pure-torch modules are
	# all the tests load, so skip its hardware tool-chain dependencies.
	$(BIN)/python -m pip install -q --no-deps "sinabs==3.1.3"
	touch $@

$(VENV)/.installed-demo: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install -q -e ".[browser]"
	touch $@

install: $(VENV)/.installed-notebook
install-test: $(VENV)/.installed-test

## make lab: JupyterLab on notebooks/, bound to 127.0.0.1, token authentication on.
lab: install
	@echo "Starting JupyterLab on 127.0.0.1:$(LAB_PORT); open the URL with ?token=... printed below."
	$(BIN)/jupyter lab notebooks --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) $(ROOT_FLAG)

## make demo: the explorers as a Voila app (no code shown) for lab demos and projectors,
## on 127.0.0.1 behind a fresh token; open the URL printed first.
demo: $(VENV)/.installed-demo
	@TOKEN=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(16))"); \
	echo "Voila app: http://127.0.0.1:$(DEMO_PORT)/?token=$$TOKEN"; \
	$(BIN)/voila apps/explorer.ipynb --no-browser --port=$(DEMO_PORT) --Voila.ip=127.0.0.1 --token=$$TOKEN

## make test: the whole suite, then the notebooks' stored outputs (nbval, strict mode).
test: install-test
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg notebooks/

## make unit: unit tests only (fast).
unit: install-test
	$(BIN)/python -m pytest tests -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache
