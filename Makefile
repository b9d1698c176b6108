# The two commands of the README: `make lab` and `make test`.
# Both set everything up on a fresh machine (Python 3.11 and the package registries).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
HOST   ?= 127.0.0.1
# No TOKEN: Jupyter's own default, a random token printed in the URL, so other users of
# the machine cannot run code as you. TOKEN=secret picks the token; an explicit empty
# TOKEN= turns it off (anyone who can reach the port can then run code as you).
TOKENFLAG := $(if $(filter undefined,$(origin TOKEN)),,--IdentityProvider.token='$(TOKEN)')
# JupyterLab refuses to run as root without this flag (containers, CI, Binder-like hosts)
ROOTFLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup browser test test-fast lint typecheck pytest lab bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Browser tests drive Debian's chromium (never a downloaded browser). Install it
# when missing; if that is impossible the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the browser tests will be skipped"; }

lint: setup
	$(BIN)/ruff check kfresearch tests bench tools

typecheck: setup
	$(BIN)/mypy

# Notebooks run against the simulator with a fixed seed and clock, so their
# stored outputs are reproducible; pytest exits non-zero when nothing was collected.
pytest: setup browser
	KFRESEARCH_SIM_SEED=42 KFRESEARCH_SIM_NOW=2026-11-01T00:00:00Z TQDM_DISABLE=1 \
	$(BIN)/pytest tests notebooks --nbval --nbval-current-env -p no:cacheprovider

test: lint typecheck pytest

# The edit loop: every test but the slow ones, the browser and the notebooks.
test-fast: setup
	KFRESEARCH_SIM_SEED=42 KFRESEARCH_SIM_NOW=2026-11-01T00:00:00Z TQDM_DISABLE=1 \
	$(BIN)/pytest tests -m "not slow and not browser" -p no:cacheprovider

lab: setup
	@echo "JupyterLab on http://$(HOST):$(PORT)/lab$(if $(TOKENFLAG),$(if $(TOKEN),?token=$(TOKEN) (notebooks/), (notebooks/; no token: anyone who can reach the port can run code as you)), (notebooks/): open the URL with the token that Jupyter prints below)"
	$(BIN)/jupyter lab --no-browser $(ROOTFLAG) --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) \
		$(TOKENFLAG) --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/00-start-here.ipynb

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench
	$(BIN)/python -m bench.paging
	$(BIN)/python -m bench.orders
	$(BIN)/python -m bench.stream
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.store
	$(BIN)/python -m bench.trace
	$(BIN)/python -m bench.strategy

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
