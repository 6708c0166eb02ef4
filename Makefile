# archbench: `make run` trains the default job, `make test` runs the test suite. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test test-fast venv bench report report-check claims clean-venv

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; archbench needs Python 3.11 (set PYTHON=...)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) run.py $(ARGS)

test: $(STAMP)
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 WANDB_MODE=offline WANDB_SILENT=true $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 WANDB_MODE=offline WANDB_SILENT=true $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/overhead.py

# python -m reports over RUNS (default runs/), written to OUT (default <RUNS>/report)
report: $(STAMP)
	$(PY) -m reports $(or $(RUNS),runs) $(if $(OUT),--out $(OUT))

# renders the report's index.html in headless Chromium (apt-get install chromium) to screenshot.png
report-check: report
	$(PY) benchmarks/report_check.py $(or $(OUT),$(or $(RUNS),runs)/report)

# the claims report: every claim's sweep (conf/claims/$(PRESET).yaml), then verdicts in runs/claims/$(PRESET)/report
PRESET ?= quick
claims: $(STAMP)
	HF_DATASETS_OFFLINE=$${HF_DATASETS_OFFLINE:-0} $(PY) -m reports.claims.sweeps --preset $(PRESET) $(if $(CLAIMS_OUT),--out $(CLAIMS_OUT))

clean-venv:
	rm -rf $(VENV)
