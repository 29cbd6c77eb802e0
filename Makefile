# The two commands: `make demo` (the simulator demo: collect, train, evaluate, report) and
# `make test` (ruff, then every test); `make test-fast` runs the tests not marked slow. Each sets up everything on a fresh
# machine first; each set-up step is skipped when its inputs have not changed.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := build/stamps
INTERFACE_FILES := $(shell find src/interseg_interfaces -type f 2>/dev/null)
TF2_MSGS_DIR := src/vendor/tf2_msgs
TF2_MSGS_FILES := $(shell find $(TF2_MSGS_DIR) -type f 2>/dev/null)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup test test-fast lint demo bench clean

setup: $(STAMPS)/interseg

$(STAMPS)/system: scripts/install_system_packages.sh
	bash scripts/install_system_packages.sh
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/venv: requirements.txt $(STAMPS)/system
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -m pip install --quiet -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	@mkdir -p $(STAMPS) && touch $@

# tf2_msgs is not among the ROS 2 wheels: build the vendored copy (upstream definitions, same type
# hashes) unless the environment already provides it (a full ROS install). A copy this set-up
# installed earlier (build/tf2_msgs holds its install manifest) is rebuilt when its files change.
$(STAMPS)/tf2_msgs: $(STAMPS)/venv scripts/build_interfaces.sh $(TF2_MSGS_FILES)
	@if [ ! -f build/tf2_msgs/install_manifest.txt ] && $(PY) -c "import tf2_msgs.msg" 2>/dev/null; then \
	  echo "tf2_msgs: provided by the environment, not built"; \
	else \
	  bash scripts/build_interfaces.sh $(VENV) build/tf2_msgs $(TF2_MSGS_DIR); \
	fi
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/interfaces: $(STAMPS)/tf2_msgs scripts/build_interfaces.sh $(INTERFACE_FILES)
	bash scripts/build_interfaces.sh $(VENV) build/interfaces src/interseg_interfaces
	@touch $@

# pip's editable install skips setup.py's data_files: install_ament_package.py adds what colcon
# --symlink-install would (ament index marker, share/interseg/{launch,config} symlinks,
# lib/interseg/<node> executables), so ros2 launch / ros2 run pointed at the venv find interseg.
$(STAMPS)/interseg: $(STAMPS)/interfaces src/interseg/setup.py src/interseg/setup.cfg scripts/install_ament_package.py $(wildcard launch/*.launch.* config/*)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e src/interseg 2>&1 | { grep -v -e "^WARNING: Location" -e "^ *$$" -e "!!" -e "WheelFile" || true; }
	$(PY) scripts/install_ament_package.py
	@touch $@

test: setup lint
	$(PY) -m pytest tests $(PYTEST_ARGS)

# ruff (configuration: ruff.toml): lint rules and the formatter's layout, checked, never rewritten.
# `$(PY) -m ruff check --fix && $(PY) -m ruff format` applies what it can.
lint: setup
	$(PY) -m ruff check
	$(PY) -m ruff format --check

# The tests not marked slow (pytest.ini: none starts ROS processes or takes more than ~5 s).
test-fast: setup
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/interseg demo $(DEMO_ARGS)

bench: setup
	$(VENV)/bin/interseg bench --profile quick --out benchmarks/results/quick

clean:
	rm -rf build $(VENV)
