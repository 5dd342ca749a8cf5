# One-command set-up: every target creates or reuses .venv and installs only what changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
BIN := $(VENV)/bin
# Two profiles: the demo's (nodes, ONNX Runtime, generated rooms; no torch) and everything.
DEMO_REQUIREMENTS := requirements/runtime.txt requirements/ros.txt requirements/scenes.txt
REQUIREMENTS := $(DEMO_REQUIREMENTS) requirements/training.txt requirements/dev.txt
DEMO_STAMP := $(VENV)/.depth_ros-demo-installed
STAMP := $(VENV)/.depth_ros-installed

# DDS stays on this machine for tests, demo and benchmarks; nodes themselves keep ROS defaults.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
TEST_DOMAIN_ID ?= 61
DEMO_DOMAIN_ID ?= 62

.PHONY: setup setup-demo demo test test-fast lint clean

setup: $(STAMP)
setup-demo: $(DEMO_STAMP)

$(DEMO_STAMP): $(DEMO_REQUIREMENTS) setup.py setup.cfg
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(addprefix -r ,$(DEMO_REQUIREMENTS)) setuptools wheel
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(STAMP): $(DEMO_STAMP) $(REQUIREMENTS)
	$(BIN)/pip install --quiet $(addprefix -r ,$(REQUIREMENTS))
	@# Official Depth Anything V2 code: a test-only reference; its declared deps pull a web UI.
	$(BIN)/pip install --quiet --no-deps jkp-depth-anything-v2==0.1.1
	@if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then \
		$(BIN)/pip install --quiet -r requirements/gpu.txt \
		|| echo "WARNING: GPU group not installed; get TensorRT from NVIDIA (see README)"; \
	fi
	@touch $@

demo: setup-demo
	ROS_DOMAIN_ID=$(DEMO_DOMAIN_ID) $(BIN)/depth-ros demo --out demo_output

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	ROS_DOMAIN_ID=$(TEST_DOMAIN_ID) $(BIN)/python -m pytest -rs tests

test-fast: setup
	$(BIN)/ruff check .
	ROS_DOMAIN_ID=$(TEST_DOMAIN_ID) $(BIN)/python -m pytest -rs -m "not slow" tests

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info demo_output
