# numaserve.ovms — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help venv engine images test unit lint sanity molecule demo demo-down plan bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: ## create/update .venv from requirements-test.txt
	@bash scripts/venv.sh

engine: ## make sure a Docker Engine answers (installs docker.io and starts dockerd if needed)
	@bash scripts/ensure-engine.sh --podman

images: engine ## build the local images (only what changed)
	@bash images/build.sh

test: ## the whole suite: venv, engine, images, unit, stand-in, lint, sanity, Molecule
	@bash scripts/test.sh

unit: venv ## unit tests only
	@source scripts/env.sh && python -m pytest -q tests/unit

lint: venv ## yamllint, ansible-lint (production), argument_specs check, changelog lint
	@bash scripts/lint.sh

sanity: venv ## ansible-test sanity (offline)
	@bash scripts/sanity.sh

molecule: venv images ## one scenario: make molecule SCENARIO=dual_socket
	@source scripts/env.sh && molecule test -s $(SCENARIO)

demo: venv images ## deploy the whole stack on this machine (offline defaults) and show it working
	@bash scripts/demo.sh up

demo-down: venv ## remove what make demo deployed
	@bash scripts/demo.sh down

bench: venv ## benchmark the running demo through its balancer (make demo first); report in /var/tmp/numaserve-benchmark
	@source scripts/env.sh && ansible-playbook -i $${NUMASERVE_DEMO_DIR:-/var/lib/numaserve-demo}/inventory.yml numaserve.ovms.benchmark
