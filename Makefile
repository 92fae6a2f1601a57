# Set-up, tests and the demo, from a fresh clone. Everything goes into $(VENV).
#   make demo    # set up, then run the main job on the embedded synthetic data
#   make test    # set up, then run the test suite
# Your own environment: make test VENV=/path/to/env  (or PYTHON=python3.11 for the venv's base).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=
DEMO_ARGS ?=
STAMP := $(VENV)/.dpsnet_d2-setup

.PHONY: setup test demo clean

setup: $(STAMP)

$(STAMP): setup.py tools/install_detectron2.py Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	@$(PY) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q $(TORCH_SPEC)
	$(PY) tools/install_detectron2.py
	$(PIP) install -q -e ".[dev]"
	@# checked from outside the checkout: the installed package must import on its own
	cd / && $(abspath $(PY)) -c "import dpsnet_d2, detectron2, torch; print('dpsnet_d2', dpsnet_d2.__version__, '| detectron2', detectron2.__version__, '| torch', torch.__version__)"
	@touch $@

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(PY) tools/demo.py $(DEMO_ARGS)

clean:
	@# only the default environment: a VENV= of your own is never removed
	rm -rf .venv build *.egg-info
