# Everything runs from a virtualenv and an Airflow home under this folder (both
# git-ignored), created on first use. Re-runs reuse them: the install only happens again
# when pyproject.toml or requirements.txt change.
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN := sqlite:///$(AIRFLOW_HOME)/airflow.db
# include/ (sample data generators) is importable as `include`, as in the compose image.
export PYTHONPATH := $(CURDIR)
# The demo polls every few seconds; a real deployment keeps the DAG's defaults.
DEMO_ENV := GT_POLL_SECONDS=2

.PHONY: help install demo test screenshots stack-test lint format providers clean labelstudio labelstudio-stop

help:
	@echo "make demo   - label sample digits and train a model on the embedded local AWS"
	@echo "              BACKEND=labelstudio: labeled in Label Studio (LABELERS=person: by you)"
	@echo "make test   - run the test suite (local AWS on a free port, real boto3, dag.test())"
	@echo "make lint   - ruff"
	@echo "make labelstudio      - install Label Studio in .labelstudio-venv and start it on 127.0.0.1 (LS_PORT=...)"
	@echo "make labelstudio-stop - stop it by its PID"

$(INSTALLED): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -e '.[local,test]'
	@# The editable build leaves an egg-info in plugins/, which Airflow puts on sys.path: it would
	@# find the provider's entry points twice ("Plugin 'gt_provider' already registered").
	rm -rf plugins/gt_provider.egg-info
	touch $@

install: $(INSTALLED)

$(AIRFLOW_HOME)/airflow.db: $(INSTALLED)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)

# The nightly labeling DAG, then the training DAG its dataset Asset schedules (a scheduler
# would start it on the Asset event; `dags test` runs it right after, on the latest version).
DEMO_DAGS = sh -c '$(BIN)/airflow dags test gt_image_classification $(DEMO_CONF) && \
	$(BIN)/airflow dags test gt_train_on_dataset'
# BACKEND=labelstudio: the same DAGs, labeled in a Label Studio server (started for the demo
# unless `make labelstudio` runs one; the gt_labeling_backend Variable is the one setting),
# by three simulated annotators -- or, with LABELERS=person, by you in the browser (50
# images, one answer each, enough for a validation split; the run prints the URL and login).
ifeq ($(BACKEND),labelstudio)
DEMO_ENV += AIRFLOW_VAR_GT_LABELING_BACKEND=label_studio
DEMO_LABELING := $(BIN)/python -m gt_provider.labelstudio run $(if $(filter person,$(LABELERS)),--annotators 0) --
ifeq ($(LABELERS),person)
DEMO_CONF := --conf "{\"max_objects\": 50, \"workers_per_object\": 1}"
endif
else ifneq ($(BACKEND),)
$(error BACKEND=$(BACKEND): the demo runs on the local Ground Truth (no BACKEND) or BACKEND=labelstudio)
endif

demo: $(AIRFLOW_HOME)/airflow.db
	$(DEMO_ENV) $(BIN)/python -m gt_provider.local run --summary --speed 20 -- $(DEMO_LABELING) $(DEMO_DAGS)

# The browser tests drive the OS's Chromium through Playwright (which never downloads a
# browser build): installed with apt where it is missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	@echo "Chromium is missing: installing Debian's chromium package for the browser tests"
	$(SUDO) apt-get install -y --no-install-recommends chromium || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }
	@test -x $@ || { echo "apt installed chromium, but $@ is not there: set CHROMIUM=/path/to/chromium"; exit 1; }

test: $(INSTALLED) $(CHROMIUM)
	GT_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

# The UI screenshots in docs/screenshots (README's "From the Airflow UI"), taken by the
# browser tests against the native stack (PostgreSQL and Redis on 127.0.0.1).
screenshots: $(INSTALLED) $(CHROMIUM)
	GT_CHROMIUM=$(CHROMIUM) GT_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/stack/test_browser.py -q

# docker-compose.yaml's stack (CeleryExecutor, Redis, PostgreSQL, triggerer, local AWS) as
# native processes, and the fast checks of its mapping; the stack needs PostgreSQL and
# Redis on 127.0.0.1 (skipped otherwise).
stack-test: $(INSTALLED)
	$(BIN)/python -m pytest tests/stack -v

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

providers: $(AIRFLOW_HOME)/airflow.db
	$(BIN)/airflow providers list

# Label Studio in its own virtualenv (its Django pins conflict with Airflow's), headless on
# 127.0.0.1, data in .labelstudio/ (git-ignored); prints the URL, the login and the token.
labelstudio: $(INSTALLED)
	$(BIN)/python -m gt_provider.labelstudio start $(if $(LS_PORT),--port $(LS_PORT))

labelstudio-stop: $(INSTALLED)
	$(BIN)/python -m gt_provider.labelstudio stop

clean:
	rm -rf $(AIRFLOW_HOME)
