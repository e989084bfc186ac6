# TCA4Rec data pipeline. Quick start: `make pipeline` then `make test`.
SHELL := /bin/bash
DATASET ?= demo
TCA_DATA ?= data
TCA_HOME ?= .tca
export TCA_DATA TCA_HOME

SWIFT ?= swift
CONFIG := release
BIN := .build/$(CONFIG)
TCA := $(BIN)/tca
VENV := .venv
PYTHON := $(VENV)/bin/python
STREAMING_VENV := .venv-streaming
STAGES := ingest prepare tokenizer trie cf soft-labels
BENCH ?= tokenizer tokenizer_train sasrec ease softlabels ingest train
# chromium-headless-shell: the browser the report test loads `tca report`'s page in (Tests/python/test_report.py).
APT_PACKAGES := libsqlite3-dev libzstd-dev libopenblas-dev zlib1g-dev libisal-dev pkg-config zstd python3-venv curl \
	chromium-headless-shell

.PHONY: all build pipeline fetch-data $(STAGES) train status report merge validate test test-swift test-python deps deps-system deps-python \
	format lint check-imports bench ls gc clean help

all: pipeline

help:
	@echo "make pipeline [DATASET=demo]   build (release) and run a pipeline (Pipelines/<DATASET>.yaml)"
	@echo "make fetch-data DATASET=…     download the pipeline's missing raw files into TCA_DATA (Pipelines/downloads.json)"
	@echo "make <stage> DATASET=…        rerun one stage ($(STAGES)); FORCE=1 recomputes even if cached"
	@echo "make bench [BENCH='sasrec ease'] side-by-side benchmarks against the peers (Benchmarks/README.md)"
	@echo "make train [DATASET=demo] [MODEL=tiny|PATH] LoRA training with the soft labels + constrained evaluation (trainer/README.md)"
	@echo "make status|validate DATASET=… show what is cached or stale and why | validate the outputs"
	@echo "make report DATASET=…         HTML report of what the store holds (REPORT=FILE, default \$$TCA_HOME/reports/<DATASET>.html)"
	@echo "make merge DATASET=…          combine soft-label partitions (tca run DATASET --partition i/n)"
	@echo "make test                     build, unit + end-to-end tests, schema checks (needs make deps)"
	@echo "make deps                     install system libraries (apt-get) and the Python virtual environment"
	@echo "make format|lint|check-imports|bench|ls|gc"

build: deps-system
	$(SWIFT) build -c $(CONFIG)

pipeline: build
	$(TCA) run $(DATASET)

fetch-data: build
	$(TCA) fetch $(DATASET)

$(STAGES): build
	$(TCA) run $(DATASET) --only $@ $(if $(FORCE),--force $@,)

# The trainer (trainer/README.md): runs the pipeline that gives prompted soft labels for train, valid and test
# (Pipelines/<DATASET>-train.yaml when it exists, as demo-train.yaml for the demo, else <DATASET>.yaml), then
# trains LoRA adapters and evaluates. MODEL=tiny (default) is a randomly initialised 2-layer Llama over the
# pipeline's tokenizer, on CPU in minutes, with TINY_TRAIN_ARGS; MODEL=PATH a Hugging Face model directory
# (bf16 on a GPU) with the official settings. Outputs: $(TCA_HOME)/train/<pipeline>/<model name>/.
MODEL ?= tiny
TRAIN_PIPELINE = $(if $(wildcard Pipelines/$(DATASET)-train.yaml),$(DATASET)-train,$(DATASET))
TRAIN_OUT ?= $(TCA_HOME)/train/$(TRAIN_PIPELINE)/$(notdir $(patsubst %/,%,$(subst :,-,$(MODEL))))
TINY_TRAIN_ARGS ?= --max-steps 300 --learning-rate 3e-3 --eval-samples 300 --eval-batch-size 16 --threads 2
TRAIN_ARGS ?= $(if $(filter tiny tiny:%,$(MODEL)),$(TINY_TRAIN_ARGS),)

train: build $(VENV)/.installed
	$(TCA) run $(TRAIN_PIPELINE)
	$(PYTHON) -m tca_trainer.train $(TCA_HOME)/runs/$(TRAIN_PIPELINE)/soft-labels --model $(MODEL) \
	  --output $(TRAIN_OUT) $(TRAIN_ARGS)

status: build
	$(TCA) status $(DATASET)

# The HTML report (README "Report") of what the store holds for the pipeline; it runs nothing, so run
# `make pipeline DATASET=…` first (stages not in the store are shown as not computed).
REPORT ?= $(TCA_HOME)/reports/$(DATASET).html
report: build
	@mkdir -p $(dir $(REPORT))
	$(TCA) report $(DATASET) -o $(REPORT)

# Partitioned soft labels (a Slurm array or Kubernetes Indexed Job runs `tca run DATASET --partition i/n`
# per task); `make merge` publishes the whole artifact once every partition is done.
merge: build
	$(TCA) merge $(DATASET)

validate: build
	$(TCA) validate $(TCA_HOME)/runs/$(DATASET)

ls: build
	$(TCA) ls

gc: build
	$(TCA) gc

# Tests: Swift unit and end-to-end tests (release build, reused by the end-to-end tests), then the
# Python checks that validate every JSON artifact against Schemas/ with the jsonschema library.
test: test-swift test-python

test-swift: build
	$(SWIFT) test -c $(CONFIG) --disable-testable-imports

test-python: build $(VENV)/.installed $(STREAMING_VENV)/.installed
	TCA_BIN=$(BIN) TCA_STREAMING_PYTHON=$(abspath $(STREAMING_VENV))/bin/python $(PYTHON) -m pytest -q Tests/python

deps: deps-system deps-python

deps-system:
	@command -v dpkg >/dev/null || { pkg-config --exists sqlite3 libzstd openblas zlib && exit 0; echo "install sqlite3, zstd, OpenBLAS and zlib development files" >&2; exit 1; }; \
	missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

deps-python: $(VENV)/.installed $(STREAMING_VENV)/.installed

# PyTorch for the project's environment. `torch==V` also matches the CPU-only build (`V+cpu`, a quarter of the
# size: no CUDA libraries), which pip prefers when one is at hand (its find-links); `torch===V` is exactly the
# registry's CUDA build, which a machine with an NVIDIA GPU gets. Override with `make deps TORCH=...`.
TORCH ?= $(if $(shell command -v nvidia-smi 2>/dev/null),torch===2.13.0,torch==2.13.0)
# No wheel cache: it would double the disk space the environments take (the CUDA build alone is 4 GB).
PIP_INSTALL := -m pip install -q --no-cache-dir

# The virtual environment is rebuilt only when the requirements change.
$(VENV)/.installed: Tests/python/requirements.txt trainer/pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) $(PIP_INSTALL) --upgrade pip
	$(PYTHON) $(PIP_INSTALL) -r Tests/python/requirements.txt "$(TORCH)"
	$(PYTHON) $(PIP_INSTALL) --no-deps --no-build-isolation -e trainer
	touch $@

# mosaicml-streaming (the shard reader tests' oracle) in its own environment, so its dependencies never touch ours.
# It imports torchvision, whose registry build needs PyTorch's CUDA build (requirements-streaming.txt pins it).
$(STREAMING_VENV)/.installed: Tests/python/requirements-streaming.txt
	test -x $(STREAMING_VENV)/bin/python || python3 -m venv $(STREAMING_VENV)
	$(STREAMING_VENV)/bin/python $(PIP_INSTALL) --upgrade pip
	$(STREAMING_VENV)/bin/python $(PIP_INSTALL) -r Tests/python/requirements-streaming.txt
	touch $@

format:
	swift format --in-place --recursive Sources Tests Package.swift

lint:
	swift format lint --strict --recursive Sources Tests Package.swift

check-imports:
	python3 .ci/check_imports.py

# Side-by-side benchmarks against the peers, printing ratios (Benchmarks/README.md). Never a test.
# BENCH picks which: tokenizer tokenizer_train sasrec ease softlabels ingest train (default all).
bench: build $(VENV)/.installed
	set -e; for b in $(BENCH); do \
	  TCA_BIN=$(BIN) TCA_SHARED_DATA=$${TCA_SHARED_DATA:-$(TCA_DATA)} $(PYTHON) Benchmarks/$${b}_bench.py; \
	done

clean:
	rm -rf .build $(TCA_HOME)
