# Daily tasks. `make help` lists them. Everything runs inside .venv, made by `make install`.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
VENV    := .venv/.installed
ARGS    ?=
PORT    ?= 6006

.DEFAULT_GOAL := help
.PHONY: help install train test test-slow test-all tensorboard bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV): requirements.txt pyproject.toml
	python3 -m venv .venv
	$(PIP) install --upgrade pip
	# torch alone and first: a looser torch requirement would pull several GB of CUDA wheels
	$(PIP) install "$$(grep -E '^torch==' requirements.txt)"
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $(VENV)

install: $(VENV)  ## make .venv: torch first, then requirements.txt, then this package (editable)

train: $(VENV)  ## train the default LSTM on the embedded data (extra overrides: make train ARGS="model=cnn")
	$(PY) train.py $(ARGS)

test: $(VENV)  ## run the default test suite (fast; excludes tests marked slow)
	$(PY) -m pytest -m "not slow" $(ARGS)

test-slow: $(VENV)  ## run only the slow tests (real training runs, CLI subprocesses)
	$(PY) -m pytest -m slow $(ARGS)

test-all: $(VENV)  ## run every test
	$(PY) -m pytest $(ARGS)

tensorboard: $(VENV)  ## serve every run under outputs/ on http://127.0.0.1:$(PORT)
	$(PY) -m tensorboard.main --logdir outputs --host 127.0.0.1 --port $(PORT)

bench: $(VENV)  ## print speed figures: train.py vs a plain PyTorch loop, start-up times
	$(PY) benchmarks/epoch_time.py $(ARGS)
	$(PY) benchmarks/startup.py

clean:  ## remove outputs/, caches and .venv
	rm -rf outputs .pytest_cache .venv src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
