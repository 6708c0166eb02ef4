# archbench: `make run` trains the default job, `make test` runs the test suite. Both set up .venv first.
# Python: python3.11 (what requirements.lock is pinned and tested on) when present, else the first of python3.12,
# python3.13, python3.10, python3 found; PYTHON=... picks another. The lock's pins install on 3.11–3.13.
ifndef PYTHON
PYTHON := $(firstword $(foreach p,python3.11 python3.12 python3.13 python3.10 python3,$(shell $(p) -c pass >/dev/null 2>&1 && echo $(p))))
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test test-fast lint venv browser bench report report-check claims replicate scorecard clean-venv

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" && command -v $(PYTHON) >/dev/null || { echo "error: no Python found (looked for python3.11, python3.12, python3.13, python3.10, python3); archbench needs Python 3.11–3.13 (set PYTHON=...)"; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; print(f"using $(PYTHON) (Python {v[0]}.{v[1]})"); sys.exit(0 if (3, 11) <= v < (3, 14) else f"error: Python {v[0]}.{v[1]} cannot install the pins of requirements.lock (pandas 3.1, numpy 2.4 and scipy 1.17 need 3.11 or newer; archbench supports 3.11–3.13); set PYTHON=python3.11 (or python3.12, python3.13)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

venv: $(STAMP)
	@echo "$(VENV) uses $$($(PY) --version)"

run: $(STAMP)
	$(PY) run.py $(ARGS)

# Debian's chromium + chromedriver for the explorer's browser test and report-check; installed when missing as root
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "error: the browser test needs chromium and chromedriver on PATH; as root: apt-get install -y chromium chromium-driver"; exit 1; \
	  fi; }

test: $(STAMP) browser lint
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 WANDB_MODE=offline WANDB_SILENT=true $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) lint
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 WANDB_MODE=offline WANDB_SILENT=true $(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

# ruff (pinned in the dev extra and requirements.lock): the rules and their exceptions are in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/overhead.py

# python -m reports over RUNS (default runs/), written to OUT (default <RUNS>/report)
report: $(STAMP)
	$(PY) -m reports $(or $(RUNS),runs) $(if $(OUT),--out $(OUT))

# renders the report's index.html and explore.html in headless Chromium to screenshot.png and explore.png
report-check: report browser
	$(PY) benchmarks/report_check.py $(or $(OUT),$(or $(RUNS),runs)/report)
	$(PY) benchmarks/report_check.py $(or $(OUT),$(or $(RUNS),runs)/report)/explore.html --out $(or $(OUT),$(or $(RUNS),runs)/report)/explore.png

# the claims report: every claim's sweep (conf/claims/$(PRESET).yaml), then verdicts in runs/claims/$(PRESET)/report; ONLY=C5 re-runs one claim's sweeps
PRESET ?= quick
claims: $(STAMP)
	$(PY) -m studies.sweeps --preset $(PRESET) $(if $(CLAIMS_OUT),--out $(CLAIMS_OUT)) $(if $(ONLY),--only $(ONLY))

# the replications: every conf/replications/*.yaml's sweeps at PRESET, then runs/replications/$(PRESET)/report
replicate: $(STAMP)
	$(PY) -m studies.replicate --preset $(PRESET) $(if $(REPLICATE_OUT),--out $(REPLICATE_OUT))

# your architecture through every question an architecture can stand in (studies/scorecard.py), against the built-in
# baselines of the same preset (reused from runs/claims/<PRESET> and runs/replications/<PRESET>, run when missing)
scorecard: $(STAMP)
	@test -n "$(ARCH)" || { echo "error: make scorecard needs ARCH=<name> (conf/arch/<name>.yaml, or in CONFIG_DIR/arch/)"; exit 2; }
	$(PY) -m studies.scorecard --arch $(ARCH) --preset $(PRESET) $(if $(CONFIG_DIR),--config-dir $(CONFIG_DIR)) $(SCORECARD_ARGS)

clean-venv:
	rm -rf $(VENV)
