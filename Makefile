# iotws: the only entry point a user needs to learn. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IOTWS := $(VENV)/bin/iotws
EXAMPLE ?= custom-authorizer
EXAMPLE_DIR := examples/$(EXAMPLE)
SPEC ?= $(EXAMPLE_DIR)/access.yaml
PORT ?= 8080
LAMBDA_ARCH ?= arm64
LAMBDA_PYTHON ?= 3.13
OUT ?= $(EXAMPLE_DIR)/build
PYTEST_ARGS ?=
# make test runs pytest on this many workers (pytest-xdist; 0: in one process). Each test
# file stays on one worker, see tests/conftest.py.
PYTEST_WORKERS ?= 2
# Terraform: use the provider mirror on this machine if there is one (see `iotws tf-env`).
TF_ENV = eval "$$($(IOTWS) tf-env --shell)"

DEV_SECRET := build/dev-secret

.PHONY: help
help: ## List the targets and the variables
	@if [ -t 1 ]; then c=$$'\033[36m'; n=$$'\033[0m'; else c=; n=; fi; \
	echo "usage: make TARGET [NAME=value ...]"; echo; echo "targets:"; \
	grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk -v c="$$c" -v n="$$n" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-14s%s %s\n", c, $$1, n, $$2}'; \
	echo; echo "variables (current value in brackets):"; \
	printf '  %s%-14s%s %s\n' \
	  "$$c" EXAMPLE "$$n" "example folder under examples/: custom-authorizer, cognito-unauth, chat [$(EXAMPLE)]" \
	  "$$c" SPEC "$$n" "access spec to build [$(SPEC)]" \
	  "$$c" OUT "$$n" "build directory [$(OUT)]" \
	  "$$c" PORT "$$n" "make demo's port on 127.0.0.1 [$(PORT)]" \
	  "$$c" SECRET "$$n" "make demo/token: HS256 dev secret [default: the random one in $(DEV_SECRET)]" \
	  "$$c" SUB "$$n" "make token: the user (sub claim) to mint a token for; ROLE: its role claim" \
	  "$$c" PYTEST_ARGS "$$n" "extra pytest arguments for make test, e.g. -k lint" \
	  "$$c" PYTEST_WORKERS "$$n" "make test's parallel pytest workers, 0 for one process [$(PYTEST_WORKERS)]"

# Two stamps: the kit alone with the emulator's local AWS (what make demo runs: moto serves
# the AWS calls of the Lambdas that the rules run), and the kit with the test and lint
# tools (checkov, hypothesis, mypy, ruff, playwright, ...), which only make test,
# make lint and make bench need. A cold make demo installs the first only.
# For speed the base venv is made without its own pip when the outer Python's pip can
# install into it (`pip --python`, pip >= 22.3); the full venv gets its own pip.
PIP_FLAGS := --quiet --disable-pip-version-check --no-compile
# pip for .venv: its own when it has one, else the outer Python's (`pip --python`).
VENV_PIP = $$( [ -x $(VENV)/bin/pip ] && echo $(VENV)/bin/pip || echo "$(PYTHON) -m pip --python $(PY)" )
# uv installs the kit and its dependencies in about 5 s where pip takes about 25 s, which
# is most of a cold make demo; uv itself comes from PyPI into the venv (pinned below). If
# uv cannot be installed or fails, pip does the same install.
UV_SPEC := uv==0.13.9
$(VENV)/.stamp-base: pyproject.toml
	@if $(PYTHON) -m pip --python "$$(command -v $(PYTHON))" --version >/dev/null 2>&1; then \
	  $(PYTHON) -m venv --without-pip $(VENV); pip="$(PYTHON) -m pip --python $(PY)"; \
	else \
	  $(PYTHON) -m venv $(VENV); pip="$(VENV)/bin/pip"; \
	fi; \
	echo "$(PYTHON) -m venv $(VENV) && $$pip install '$(UV_SPEC)' && $(VENV)/bin/uv pip install --python $(PY) -e ."; \
	if $$pip install $(PIP_FLAGS) '$(UV_SPEC)' && $(VENV)/bin/uv pip install --quiet --python $(PY) -e .; then :; else \
	  echo "uv did not install the kit; pip install -e . instead"; $$pip install $(PIP_FLAGS) -e .; \
	fi
	@touch $@

# The emulator extra (moto, for the AWS calls of an example's local functions) only for
# examples that need it (an `emulator.json`, e.g. chat): the default demo stays small.
$(VENV)/.stamp-emulator: $(VENV)/.stamp-base
	@echo "pip install -e '.[emulator]'   # into $(VENV)"
	@if [ -x $(VENV)/bin/uv ]; then $(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[emulator]'; \
	else $(VENV_PIP) install $(PIP_FLAGS) -e '.[emulator]'; fi
	@touch $@
DEMO_EXTRA := $(if $(wildcard $(EXAMPLE_DIR)/emulator.json),$(VENV)/.stamp-emulator)

# The test and lint tools: with uv when make venv-base installed it (about a minute less
# than pip), else pip. The venv gets its own pip either way (vendor.py and `make dist` use it).
$(VENV)/.stamp: $(VENV)/.stamp-base
	@test -x $(VENV)/bin/pip || $(PY) -m ensurepip --default-pip >/dev/null
	@echo "pip install -e '.[dev]'   # into $(VENV), with uv when it is there"
	@if [ -x $(VENV)/bin/uv ] && $(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'; then :; else \
	  $(VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev]'; \
	fi
	@touch $@

.PHONY: venv-base
venv-base: $(VENV)/.stamp-base ## Create .venv with the kit alone (what make demo needs)

.PHONY: venv
venv: $(VENV)/.stamp ## Create .venv with the kit and its test and lint tools from PyPI

# --prefer-offline: packages already in npm's cache are used without asking the registry
# again (package-lock.json pins each one with its integrity hash, so the bytes are the
# same); with a warm cache it takes about half the CPU time of a plain `npm ci`.
node_modules/.stamp: package.json package-lock.json
	npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: web
web: node_modules/.stamp venv-base ## Install npm packages and bundle the example web pages (no CDN)
	$(PY) -m iotws.webbuild

.PHONY: browser
browser: ## Install Debian's chromium for the browser tests (apt; needs root or sudo)
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium mosquitto >/dev/null; }
	@command -v mosquitto >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto >/dev/null; }

.PHONY: generate
generate: venv-base ## Render policies and authorizer config: SPEC=... OUT=... (default: the example)
	$(IOTWS) generate --spec $(SPEC) --out $(OUT)

.PHONY: package
# Build once: the zip is made from what `generate` wrote into OUT (`--build`), not rendered again.
package: generate ## Build the reproducible authorizer zip (and an example's backend zips) into OUT
	@if [ -f $(OUT)/authorizer/config.json ]; then \
	  $(IOTWS) package --build $(OUT) --out $(OUT)/authorizer.zip --arch $(LAMBDA_ARCH) --python $(LAMBDA_PYTHON); fi
	@if [ -f $(EXAMPLE_DIR)/functions.txt ]; then for f in $$(cat $(EXAMPLE_DIR)/functions.txt); do \
	  $(IOTWS) package --function $$f --out $(OUT)/$$f.zip; done; fi

.PHONY: fmt
fmt: venv ## Format Python and Terraform
	$(VENV)/bin/ruff format generator emulator lambda_src tests
	$(VENV)/bin/ruff check --fix generator emulator lambda_src tests
	$(TF_ENV); terraform fmt -recursive modules examples

.PHONY: lint
lint: venv ## ruff, mypy and terraform fmt -check (checkov runs in the tests)
	$(VENV)/bin/ruff check generator emulator lambda_src tests examples
	$(VENV)/bin/ruff format --check generator emulator lambda_src tests examples
	$(VENV)/bin/mypy
	$(TF_ENV); terraform fmt -check -recursive modules examples

.PHONY: test
test: venv web browser lint ## Run every test: lint, unit, golden, terraform, checkov, emulator, browser
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The time stamp of every archive entry: the commit's time, so the same commit gives the
# same bytes (https://reproducible-builds.org/docs/source-date-epoch/).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 315532800)
.PHONY: dist
dist: venv web ## Build the kit's sdist and wheel into dist/ (same commit, same bytes)
	rm -rf dist
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(PY) -m build --outdir dist .
	@cd dist && sha256sum *

.PHONY: bench
bench: venv web browser ## Benchmarks: authorizer latency, evaluator rate, zip size, emulator throughput
	$(PY) -m iotws.bench

# make demo sets this to the example's extra install (if any): the steps that run the kit
# wait for it, since pip reinstalls the kit (editable) while it installs an extra.
AFTER_INSTALL ?=
generate web: | $(AFTER_INSTALL)

.PHONY: demo
demo: ## Run the local IoT Core with the example and serve its page (no AWS needed)
	@# One make run, in parallel: npm ci beside the Python install, and the authorizer zip
	@# (package) beside the web bundle as soon as the venv is there; output kept per target.
	@$(MAKE) --no-print-directory -j4 --output-sync=target AFTER_INSTALL='$(DEMO_EXTRA)' \
	  web package $(DEV_SECRET)
	@echo "$(IOTWS) emulate --spec $(SPEC) --build $(OUT) --serve $(EXAMPLE_DIR)/web --port $(PORT) --secret-env IOTWS_JWT_SECRET   # secret: \$$SECRET, else $(DEV_SECRET)"
	@IOTWS_JWT_SECRET="$${SECRET:-$$(cat $(DEV_SECRET))}" \
	  $(IOTWS) emulate --spec $(SPEC) --build $(OUT) --serve $(EXAMPLE_DIR)/web --port $(PORT) --secret-env IOTWS_JWT_SECRET

.PHONY: token
token: venv-base $(DEV_SECRET) ## Mint a dev token for make demo's secret: SUB=alice [ROLE=user] [SECRET=...]
	@if [ -z "$(SUB)" ]; then echo "make token: say for whom, e.g. make token SUB=alice" >&2; exit 2; fi
	@IOTWS_JWT_SECRET="$${SECRET:-$$(cat $(DEV_SECRET))}" \
	  $(IOTWS) token --spec $(SPEC) --sub '$(SUB)' $(if $(ROLE),--role '$(ROLE)')

# make demo's HS256 secret: random, created once, kept out of git (build/ is ignored).
$(DEV_SECRET):
	@mkdir -p $(dir $@)
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48), end="")' > $@

# Fails fast, without calling AWS, when no credentials are configured: environment
# variables, a profile, web identity, container credentials, or ~/.aws files. On an EC2
# instance role (nothing of this kind to see), set IOTWS_AWS_INSTANCE_ROLE=1.
.PHONY: aws-credentials
aws-credentials: ## Check that AWS credentials are configured, without calling AWS (plan and deploy run it first)
	@if [ -z "$${AWS_ACCESS_KEY_ID:-}$${AWS_PROFILE:-}$${AWS_DEFAULT_PROFILE:-}$${AWS_WEB_IDENTITY_TOKEN_FILE:-}$${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}$${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}$${IOTWS_AWS_INSTANCE_ROLE:-}" ] \
	  && [ ! -s "$${AWS_SHARED_CREDENTIALS_FILE:-$$HOME/.aws/credentials}" ] \
	  && [ ! -s "$${AWS_CONFIG_FILE:-$$HOME/.aws/config}" ]; then \
	  echo "make $(or $(MAKECMDGOALS),plan): no AWS credentials found (no AWS_ACCESS_KEY_ID, AWS_PROFILE or other AWS_* credential variable, no ~/.aws/credentials or ~/.aws/config)." >&2; \
	  echo "  fix: run 'aws configure' or export AWS_PROFILE=...; on an EC2 instance role, set IOTWS_AWS_INSTANCE_ROLE=1." >&2; \
	  echo "  make demo needs no AWS account: it runs the same authorizer and policies locally." >&2; \
	  exit 1; fi

.PHONY: plan
plan: aws-credentials package ## terraform plan an example (needs AWS credentials): EXAMPLE=custom-authorizer
	$(TF_ENV); cd $(EXAMPLE_DIR) && terraform init -input=false && terraform plan -input=false

.PHONY: deploy
deploy: aws-credentials package ## terraform apply an example (needs AWS credentials): EXAMPLE=custom-authorizer
	$(TF_ENV); cd $(EXAMPLE_DIR) && terraform init -input=false && terraform apply -input=false

.PHONY: checkov
checkov: venv ## Run checkov with the kit's IoT checks over modules/ and examples/ (or DIRS=...)
	$(IOTWS) checkov $(or $(DIRS),modules examples)

.PHONY: clean
clean: ## Remove build outputs (keeps .venv and node_modules)
	rm -rf build examples/*/build .pytest_cache .mypy_cache .ruff_cache
