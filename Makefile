# py_rt: `make run` runs the whole system on the simulated broker; `make check` runs the guards
# (ruff, mypy, import-linter); `make test` runs `make check`, then the tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run check format test test-unit test-integration test-e2e test-chaos test-fuzz bench clean-venv

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (py_rt needs Python 3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	@echo "py_rt on the built-in simulated broker (no keys, no network). What you will see:"
	@echo "  - within ~20 s: 'started ...' for the sim broker, the four services and control, then 'all 6 processes ready'"
	@echo "  - quotes stream at once; the shipped strategies (config/system.json) warm up for ~25 s and send"
	@echo "    their first orders within about a minute (logs/signal_bridge.log, logs/execution_engine.log)"
	@echo "  - in another terminal: .venv/bin/pyrt status | health | orders | positions, .venv/bin/pyrt logs -f"
	@echo "  - metrics: curl -s localhost:9090/metrics; control API: http://127.0.0.1:8080/docs (token in data/api_token)"
	@echo "  - Ctrl-C here stops everything gracefully"
	$(VENV)/bin/pyrt up

# The guards that keep the architecture as the review left it (docs: pyproject.toml's [tool.ruff] and
# [tool.mypy], and .importlinter). The format check runs last so the other three always report.
CHECK_PATHS := src tests benchmarks scripts
check: $(STAMP)
	@echo "== ruff check: lint + import order ($(CHECK_PATHS))"
	@$(VENV)/bin/ruff check $(CHECK_PATHS)
	@echo "== mypy: src/pyrt (strict: domain, bus, service cores, execution, simulated venue, persistence)"
	@$(VENV)/bin/mypy
	@echo "== import-linter: layering contracts in .importlinter"
	@$(VENV)/bin/lint-imports --no-logo .importlinter
	@echo "== ruff format --check ($(CHECK_PATHS))"
	@$(VENV)/bin/ruff format --check $(CHECK_PATHS)

# rewrites files: run it on a quiet tree (nobody else mid-edit)
format: $(STAMP)
	$(VENV)/bin/ruff format $(CHECK_PATHS)
	$(VENV)/bin/ruff check --fix $(CHECK_PATHS)

# two workers (the machine has 2 cores; most e2e time is waiting on processes and clocks), a
# test file's tests on one worker (module fixtures such as a running system are shared)
test: check
	@bash scripts/dev/install_tools.sh >/dev/null
	$(PY) -m pytest tests -p no:cacheprovider -n 2 --dist loadfile

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

# Every decoder under hypothesis, 1,000,000 inputs each (PYRT_FUZZ_INPUTS=N to change);
# `make test` runs the same tests with a few thousand inputs each.
test-fuzz: $(STAMP)
	PYRT_FUZZ_INPUTS=$${PYRT_FUZZ_INPUTS:-1000000} $(PY) -m pytest tests/fuzz -p no:cacheprovider --timeout=7200

# the full fault matrix (every failpoint and sim-broker fault, three seeds) and its summary table
test-chaos: $(STAMP)
	PYRT_CHAOS=full $(PY) -m pytest tests/chaos -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/sim_broker.py

clean-venv:
	rm -rf $(VENV)
