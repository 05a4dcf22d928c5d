# Daily tasks. `make help` lists them. Everything runs inside .venv, made by `make install`.
PY      := .venv/bin/python
PIP     := .venv/bin/pip
VENV    := .venv/.installed
ARGS    ?=
PORT    ?=
# each server its own tool's usual port, so that TensorBoard, the MLflow UI and optuna-dashboard can run
# side by side (all on 6006, the second one failed to bind); PORT=<n> sets the port of the one started
TENSORBOARD_PORT = $(or $(PORT),6006)
MLFLOW_PORT      = $(or $(PORT),5000)
DASHBOARD_PORT   = $(or $(PORT),8080)
LOGDIR  ?= outputs

.DEFAULT_GOAL := help
.PHONY: help install train test test-slow test-all tensorboard bench clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{n[NR] = $$1; d[NR] = $$2; if (length($$1) > w) w = length($$1)} \
		END {for (i = 1; i <= NR; i++) printf "  make " sprintf("%%-%ds", w) " %s\n", n[i], d[i]}' \
		| sed -e 's/[$$](TENSORBOARD_PORT)/$(TENSORBOARD_PORT) (PORT=<n> changes it)/g' \
		      -e 's/[$$](MLFLOW_PORT)/$(MLFLOW_PORT) (PORT=<n> changes it)/g' \
		      -e 's/[$$](DASHBOARD_PORT)/$(DASHBOARD_PORT) (PORT=<n> changes it)/g'

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

TEST_WORKERS ?= 2
test: $(VENV)  ## run the default test suite (fast; excludes tests marked slow) in TEST_WORKERS=2 processes, a file each (0: one process)
	$(PY) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-slow: $(VENV)  ## run only the slow tests (real training runs, CLI subprocesses)
	$(PY) -m pytest -m slow $(ARGS)

test-all: $(VENV)  ## run every test
	$(PY) -m pytest $(ARGS)

tensorboard: $(VENV)  ## serve every run under LOGDIR=outputs (or any folder: a moved run) on http://127.0.0.1:$(TENSORBOARD_PORT)
	@test -d "$(LOGDIR)" || { echo "error: LOGDIR=$(LOGDIR) is no folder; give the folder of your runs (paths.log_dir) or of one run" >&2; exit 2; }
	$(PY) -m tensorboard.main --logdir "$(LOGDIR)" --host 127.0.0.1 --port $(TENSORBOARD_PORT)

bench: $(VENV)  ## print speed figures: train.py vs a plain PyTorch loop, start-up, validation vs training, compile, kNN graph and subgraph memory, gradient checkpointing
	$(PY) benchmarks/epoch_time.py $(ARGS)
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/speed_options.py
	$(PY) benchmarks/graph.py
	$(PY) benchmarks/checkpointing.py

clean:  ## remove outputs/, caches and .venv
	rm -rf outputs .pytest_cache .venv src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# --- hyperparameter search (python train.py -m hparams_search=optuna; SWEEP=outputs/train/multiruns/<...>)
.PHONY: analyze dashboard refine bench-search
SWEEP   ?=
# one word for the shell, a folder with spaces included (left out when empty: the tool then says it is missing)
SWEEP_ARG = $(if $(SWEEP),"$(SWEEP)")
# the sweep's study where its folder's records do not find it (a relative sqlite:///study.db of an earlier trainlab)
STORAGE_ARG = $(if $(STORAGE),--storage "$(STORAGE)")
EPOCHS  ?= 50

analyze: $(VENV)  ## top-5, importances, range advice, pruning stats, plots of a sweep (make analyze SWEEP=<dir> [OUT=<dir>] [STORAGE=<url>])
	$(PY) -m trainlab.search.analyze $(SWEEP_ARG) $(if $(OUT),--out "$(OUT)") $(STORAGE_ARG)

DASHBOARD ?= .venv/bin/optuna-dashboard
# the sweep's study as the sweep itself opens it (results.sweep_storage: a shared storage it recorded, or its
# optuna.db with '?', '#' and '%' in the folder's name escaped); no commas: make's $(or) would split there
# (refused in one line where its optuna.db is gone: optuna-dashboard made an empty one and showed no study;
# and where SWEEP= is empty, no folder or a staged search's)
SWEEP_STORAGE = $$($(PY) -c 'import sys; from trainlab.search.shared import dashboard_storage; \
	print(dashboard_storage(sys.argv[1]))' "$(SWEEP)")
dashboard: $(VENV)  ## optuna-dashboard for a sweep's study on http://127.0.0.1:$(DASHBOARD_PORT) (STORAGE=<url> for another study)
	storage="$(or $(STORAGE),$(SWEEP_STORAGE))" && storage="$${storage#journal:}" && \
		$(DASHBOARD) "$$storage" --host 127.0.0.1 --port $(DASHBOARD_PORT)  # a journal by its file, as optuna-dashboard reads one

refine: $(VENV)  ## retrain a sweep's best trial with EPOCHS epochs (make refine SWEEP=<dir> EPOCHS=50 ARGS=... [STORAGE=<url>])
	$(PY) -m trainlab.search.refine $(SWEEP_ARG) --epochs $(EPOCHS) $(STORAGE_ARG) $(ARGS)

bench-search: $(VENV)  ## pruners (median/hyperband/nop), staged vs one stage, a hand-written optuna loop as peer, n_jobs=2 vs 1 (long on 2 cores; ARGS=--quick: a small check)
	$(PY) benchmarks/search.py $(ARGS)

.PHONY: bench-shared
bench-shared: $(VENV)  ## 3 sweep processes on one study: trials/min, duplicates, lost (~1 min; ARGS="--storage postgresql")
	$(PY) benchmarks/shared_sweep.py $(ARGS)

# --- MLflow tracking (optional extra): make install-mlflow, then train.py logger=mlflow
.PHONY: install-mlflow mlflow
MLFLOW_DB ?= outputs/mlflow.db

install-mlflow: $(VENV)  ## add the optional MLflow extra to .venv (~800 MB with its dependencies)
	# torch named as well, so that the resolver keeps the installed CPU build
	$(PIP) install -r requirements-mlflow.txt "$$(grep -E '^torch==' requirements.txt)"

mlflow: $(VENV)  ## MLflow UI over logger=mlflow's database (MLFLOW_DB=outputs/mlflow.db) on http://127.0.0.1:$(MLFLOW_PORT)
	@test -f "$(MLFLOW_DB)" || { echo "error: MLFLOW_DB=$(MLFLOW_DB) is no file; train with logger=mlflow first, or give the database: MLFLOW_DB=<file>" >&2; exit 2; }
	@test -x .venv/bin/mlflow || { echo "error: mlflow is not installed: make install-mlflow" >&2; exit 2; }
	.venv/bin/mlflow server --backend-store-uri sqlite:///$(abspath $(MLFLOW_DB)) \
		--artifacts-destination $(dir $(abspath $(MLFLOW_DB)))mlartifacts --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1

# --- image folder figures
.PHONY: bench-images
bench-images: $(VENV)  ## a folder of 1,000 small images with masks: read time, masks listed once vs once per image
	$(PY) benchmarks/image_folder.py $(ARGS)

# --- graph family figures
.PHONY: bench-series
bench-series: $(VENV)  ## a file of 2,000 series: read time (one pass vs one series at a time), per-series ETS fits in one process vs worker processes
	$(PY) benchmarks/many_series.py $(ARGS)

.PHONY: bench-graph
bench-graph: $(VENV)  ## kNN graph build time (1e5, 1e6 stars), memory of a sampled vs a full-graph epoch (1e6 stars)
	$(PY) benchmarks/graph.py $(ARGS)

# --- search, round two: stage 2 from an earlier sweep (fix its TOP most important parameters)
.PHONY: stage2
TOP ?= 3

stage2: $(VENV)  ## search the rest with an earlier sweep's TOP most important parameters fixed at its best (make stage2 SWEEP=<dir> TOP=3 [STORAGE=<url>])
	$(PY) -m trainlab.search.stages $(SWEEP_ARG) --top $(TOP) $(STORAGE_ARG) $(ARGS)
# --- the GPU path (issue 17): see README "Checking a GPU"
.PHONY: gpu-check gpu-bundle bench-steps
gpu-check: $(VENV)  ## on one NVIDIA GPU, offline, < 8 min: gpu_report.json/.md in outputs/gpu_check (ARGS=--dry: a CPU rehearsal)
	$(PY) benchmarks/gpu_check.py $(ARGS)

gpu-bundle:  ## wheels the device machine lacks (its own torch stays), into .whl/ (benchmarks/gpu_bundle.sh)
	bash benchmarks/gpu_bundle.sh

bench-steps: $(VENV)  ## where a training step's time goes (cProfile of train.py on the default LSTM)
	$(PY) benchmarks/step_profile.py $(ARGS)
.PHONY: bench-forecast
bench-forecast: $(VENV)  ## lstm / lstm_attention / cnn / tcn vs last value, seasonal naive, ETS on 7 real and synthetic series (three seeds, ~11-15 min on 2 cores; ARGS="--seeds 1" for one)
	$(PY) benchmarks/forecast.py $(ARGS)
# --- other Python versions (README "Tests"); not part of make test
.PHONY: check-pythons
PYTHONS ?= 3.10 3.12 3.13
check-pythons:  ## per Python in PYTHONS="3.10 3.12 3.13": a venv as make install makes it, train, evaluate, predict, a 2-trial sweep, some fast tests (tools/check_pythons.sh)
	bash tools/check_pythons.sh $(PYTHONS)
