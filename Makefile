# REO — set-up, tests and the main job. Every target is safe to run again.
#
# The environment is a virtualenv made from the system Python with --system-site-packages, so that
# QGIS's Python bindings (Debian: python3-qgis) and the pip packages import together.

SYSTEM_PYTHON ?= /usr/bin/python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.reo-setup-complete
PYTEST_ARGS ?=

.PHONY: setup system-packages test test-slow lint format run bench clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements.txt requirements-dev.txt
	@$(MAKE) --no-print-directory system-packages
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@touch $@
	@echo "REO environment ready in $(VENV)"

# QGIS, venv support and Xvfb come from the distribution; pip cannot provide them.
system-packages:
	@if $(SYSTEM_PYTHON) -c "import qgis.core, ensurepip" >/dev/null 2>&1; then \
		echo "QGIS Python bindings found for $(SYSTEM_PYTHON)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing QGIS Python bindings, python3-venv and xvfb with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends python3-qgis python3-venv xvfb; \
	else \
		echo "QGIS Python bindings are missing for $(SYSTEM_PYTHON)." >&2; \
		echo "On Debian/Ubuntu run: sudo apt-get install python3-qgis python3-venv xvfb ; then make setup" >&2; \
		exit 1; \
	fi

# Nothing may come from a model hub at run time: fail fast instead of waiting on the network.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

test: setup
	$(OFFLINE) $(PYTHON) -m pytest $(PYTEST_ARGS)

test-slow: setup
	$(OFFLINE) $(PYTHON) -m pytest -m slow $(PYTEST_ARGS)

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: setup
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

# Until the inference issue lands, the main job makes the synthetic demo scene.
run: setup
	$(PYTHON) -m reo_core.synth --out out/demo-scene --size-km 10 --seed 7
	@echo "Synthetic demo scene written to out/demo-scene (see out/demo-scene/scene.json)"

bench: setup
	$(PYTHON) bench/raster_stream.py

clean:
	rm -rf out .pytest_cache .ruff_cache .qgis-settings
