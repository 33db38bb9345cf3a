# The two commands of the README: `make demo` and `make test`. Each creates .venv and installs
# what it needs; nothing has to be installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test venv clean golden drill

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
# runs); every worker starts its own sandbox. Tests on this machine's PostgreSQL each use their own
# scratch database, and pg_stat_statements is read per database, so workers do not disturb each other.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Golden outputs (tests/golden/<notebook>.ipynb): rewritten from the healthy runs the tests marked `golden`
# make, after a deliberate change of a notebook's output. Review with `git diff tests/golden`.
golden: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m golden --nb-force-regen $(PYTEST_ARGS)

# Every fault drill on the sandbox (started and stopped if none is running), scorecard archived in runs/.
drill: $(STAMP)
	$(BIN)/runbook drill --all

clean:
	-$(BIN)/runbook sandbox down
	rm -rf $(VENV) .sandbox
