# The two commands of the README: `make demo` and `make test`. Each creates .venv and installs
# what it needs; nothing has to be installed by hand.
PYTHON ?= python3
# Bytecode caches (__pycache__/, ignored by git) for opslib, the tests and pytest's rewritten test modules, also where
# the environment says PYTHONDONTWRITEBYTECODE: without them every `runbook` process and kernel compiles opslib again,
# and every pytest process (each xdist worker) rewrites and compiles the ~120 test modules (about 7 s of collection).
unexport PYTHONDONTWRITEBYTECODE
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-fast test-unit test-functional test-e2e test-airflow airflow venv clean golden drill

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sandbox,test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/runbook sandbox up
	$(BIN)/runbook run --all
	@echo "The sandbox is still up. Next: $(BIN)/runbook sandbox inject api-down; $(BIN)/runbook run critical-services;"
	@echo "$(BIN)/runbook lab (JupyterLab); $(BIN)/runbook sandbox reset; $(BIN)/runbook sandbox down."

# Test modules spread over the cores, each module on one worker (their notebooks share module-level
# runs), and the modules that share the session's healthy notebook runs (tests/conftest.py, `healthy_runs`)
# on one worker too: `--dist loadgroup` with the groups conftest.py gives every test. Every worker starts its
# own sandbox. Tests on this machine's PostgreSQL each use their own scratch database, and
# pg_stat_statements is read per database, so workers do not disturb each other. The groups are handed out in
# collection order (--no-loadscope-reorder; xdist would order them by their number of tests), in which conftest.py
# puts the longest first.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadgroup --no-loadscope-reorder

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Tiers (markers added by tests/conftest.py to every test, see the README's "Tests"): `unit` (no kernel, no
# sandbox, no server), `functional` (a sandbox, a moto or database server, no kernel), `e2e` (notebooks run
# headless, `runbook` end to end). The inner loop is the unit tier: under a minute, its tests spread over the cores
# (many start a `runbook` process).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit -q -p no:cacheprovider -n auto --maxprocesses 4 $(PYTEST_ARGS)

test-unit: test-fast

test-functional: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m functional $(PYTEST_ARGS)

test-e2e: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m e2e $(PYTEST_ARGS)

# Apache Airflow 3 in a venv of its own (it pins its own dependencies). With it, `make test` (OPSLIB_AIRFLOW set,
# as .ci/run does) and `make test-airflow` import the generated DAG with Airflow's DagBag and run the
# data-quality DAG with `airflow dags test` against a sandbox (AIRFLOW_HOME in a temporary folder; no
# notification variables). The DAG calls this checkout's `runbook`.
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_SPEC ?= apache-airflow>=3,<4

$(AIRFLOW_VENV)/bin/airflow:
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet '$(AIRFLOW_SPEC)'

airflow: $(AIRFLOW_VENV)/bin/airflow

test-airflow: $(STAMP) $(AIRFLOW_VENV)/bin/airflow
	OPSLIB_AIRFLOW=$(abspath $(AIRFLOW_VENV))/bin/airflow $(BIN)/python -m pytest -p no:xdist \
		tests/test_schedules.py::test_generated_dag_imports_in_airflow \
		tests/test_schedules_sandbox.py::test_airflow_dags_test_runs_data_quality_green_bound_to_the_interval

# Golden outputs (tests/golden/<notebook>.ipynb): rewritten from the healthy runs the tests marked `golden`
# make, after a deliberate change of a notebook's output. Review with `git diff tests/golden`.
golden: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m golden --nb-force-regen $(PYTEST_ARGS)

# Every fault drill on the sandbox (started and stopped if none is running), scorecard archived in runs/.
drill: $(STAMP)
	$(BIN)/runbook drill --all

clean:
	-$(BIN)/runbook sandbox down
	rm -rf $(VENV) $(AIRFLOW_VENV) .sandbox
