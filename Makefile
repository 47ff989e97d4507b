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

# The default suite on TEST_WORKERS processes (pytest-xdist), one torch thread each (threads would
# only compete for the cores): about 2 minutes on 2 cores. Long cases are marked slow and run by
# test-slow, one at a time (several of them start processes of their own).
TEST_WORKERS ?= 2
test: setup
	$(OFFLINE) OMP_NUM_THREADS=1 $(PYTHON) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-slow: setup
	$(OFFLINE) $(PYTHON) -m pytest -m slow $(PYTEST_ARGS)

lint: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: setup
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

# The main job: a synthetic 10 km scene (with known truth), then AGB, land cover and patch counts
# estimated over it by the built-in demo model; prints where the GeoTIFFs, quicklook and summary are.
DEMO_SCENE ?= out/demo-scene
DEMO_MODEL ?= resources/demo-model/model
DEMO_ESTIMATE ?= out/demo-estimate

run: setup
	@test -f $(DEMO_MODEL)/reo_config.json || { echo "The demo model $(DEMO_MODEL) is missing; build it with: $(PYTHON) -m reo_core.train.demo" >&2; exit 1; }
	$(PYTHON) -m reo_core.synth --out $(DEMO_SCENE) --size-km 10 --seed 7
	$(PYTHON) -m reo_core.predict --s2 $(DEMO_SCENE)/s2/*.tif --model $(DEMO_MODEL) --out $(DEMO_ESTIMATE) --overwrite
	@echo "Truth for comparison: $(DEMO_SCENE)/truth (patch_agb.tif, patch_landcover.tif, patch_count.tif)"

bench: setup
	$(PYTHON) bench/raster_stream.py

clean:
	rm -rf out .pytest_cache .ruff_cache .qgis-settings

# The installable plugin zip (dist/reo.zip, top folder reo/): plugin code, reo_core, resources,
# LICENSE; no tests, docs, benchmarks, configs, .venv, out/ or caches. Then the checks the QGIS
# plugin repository runs on upload (tools/check_package.py). Needs only the system Python.
PACKAGE_OUT ?= dist/reo.zip
.PHONY: package
package:
	$(SYSTEM_PYTHON) tools/package_plugin.py --out $(PACKAGE_OUT)
	$(SYSTEM_PYTHON) tools/check_package.py $(PACKAGE_OUT)

# Rebuild the built-in demo model from nothing (synthetic data, base, two stages): about 24 minutes
# on 2 CPU cores (docs/benchmarks.md); installs resources/demo-model/{base,model}.
.PHONY: demo-model
demo-model: setup
	$(PYTHON) -m reo_core.train.demo
