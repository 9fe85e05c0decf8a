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
# Terraform: use the provider mirror on this machine if there is one (see `iotws tf-env`).
TF_ENV = eval "$$($(IOTWS) tf-env --shell)"

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(VENV)/.stamp ## Create .venv and install the kit with its dev tools from PyPI

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: web
web: node_modules/.stamp venv ## Install npm packages and bundle the example web pages (no CDN)
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
generate: venv ## Render policies and authorizer config: SPEC=... OUT=... (default: the example)
	$(IOTWS) generate --spec $(SPEC) --out $(OUT)

.PHONY: package
package: generate ## Build the reproducible authorizer zip into $(OUT)/authorizer.zip
	@if grep -q '^authorizer:' $(SPEC); then \
	  $(IOTWS) package --spec $(SPEC) --out $(OUT)/authorizer.zip --arch $(LAMBDA_ARCH) --python $(LAMBDA_PYTHON); fi
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
	$(VENV)/bin/pytest $(PYTEST_ARGS)

.PHONY: bench
bench: venv web browser ## Benchmarks: authorizer latency, evaluator rate, zip size, emulator throughput
	$(PY) -m iotws.bench

.PHONY: demo
demo: venv web package ## Run the local IoT Core with the example and serve its page
	$(IOTWS) emulate --spec $(SPEC) --build $(OUT) --serve $(EXAMPLE_DIR)/web --port $(PORT)

.PHONY: plan
plan: package ## terraform plan an example (needs AWS credentials): EXAMPLE=custom-authorizer
	$(TF_ENV); cd $(EXAMPLE_DIR) && terraform init -input=false && terraform plan -input=false

.PHONY: deploy
deploy: package ## terraform apply an example (needs AWS credentials): EXAMPLE=custom-authorizer
	$(TF_ENV); cd $(EXAMPLE_DIR) && terraform init -input=false && terraform apply -input=false

.PHONY: checkov
checkov: venv ## Run checkov with the kit's IoT checks over modules/ and examples/ (or DIRS=...)
	$(IOTWS) checkov $(or $(DIRS),modules examples)

.PHONY: clean
clean: ## Remove build outputs (keeps .venv and node_modules)
	rm -rf build examples/*/build .pytest_cache .mypy_cache .ruff_cache
