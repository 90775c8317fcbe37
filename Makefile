# The commands the README names. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# sam build needs python3.13 on PATH; pyenv provides it on the development machines.
SAM_BUILD_ENV ?= PYENV_VERSION=3.11.7:3.13.0

.PHONY: venv lint typecheck validate unit test run build clean

$(STAMP): requirements-dev.txt layers/billing/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/billing/billing local

validate: $(STAMP)
	$(BIN)/sam validate --lint

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: lint typecheck validate
	$(BIN)/pytest -q

run: $(STAMP)
	@echo "The local stack is not built yet (issue: run the whole service locally)."
	@echo "Until then, 'make test' exercises every handler in-process against moto."

build: $(STAMP)
	$(SAM_BUILD_ENV) PATH="$(abspath $(BIN)):$$PATH" sam build

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
