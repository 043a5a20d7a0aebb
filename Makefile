# aiserver.gpu — developer entry points. The README names two of them:
#   make lab    run site.yml against a local lab container (builds what it needs)
#   make test   every check CI runs (.ci/run calls exactly this)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
STAMP := $(VENV)/.installed
ENV := . testbed/env.sh &&
SCENARIOS := $(sort $(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
TIMED := testbed/timed.sh

.PHONY: help deps venv link image lab lab-destroy test lint unit sanity collection molecule bench clean

help:
	@echo "make lab          run site.yml against a local lab container (installs what it needs)"
	@echo "make test         lint, unit tests, ansible-test sanity, collection build, every Molecule scenario"
	@echo "make molecule S=kernel_tuning   one scenario"
	@echo "make bench        time an idempotent site.yml run against a facts-only play; nvidia-smi parse figures"
	@echo "make lab-destroy  remove the lab container"

# Host packages: podman (+ runc, the only runtime that works on hybrid-cgroup hosts),
# debootstrap for the base image, dash to evaluate GRUB files as grub-mkconfig does,
# shellcheck for make lint.
deps:
	@missing=""; \
	for p in podman runc debootstrap dash pciutils shellcheck; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# The collection is the repository root; Ansible finds it as aiserver.gpu through this link.
link:
	@mkdir -p build/collections/ansible_collections/aiserver
	@ln -sfn "$(CURDIR)" build/collections/ansible_collections/aiserver/gpu

image: deps venv link
	@$(ENV) testbed/build-image.sh

lab: image
	@$(ENV) testbed/lab.sh

lab-destroy: venv link
	@$(ENV) testbed/lab.sh --destroy

test: deps venv link
	@for stage in lint unit sanity collection image molecule; do \
	  $(TIMED) "$$stage" $(MAKE) --no-print-directory $$stage || { $(TIMED) --report; exit 1; }; \
	done; $(TIMED) --report

lint: deps venv link
	@$(ENV) yamllint -s .
	@$(ENV) ansible-lint --profile production --offline
	@$(ENV) testbed/shellcheck.sh

unit: venv link
	@$(ENV) python -m pytest tests/unit -q

sanity: venv
	@$(ENV) testbed/sanity.sh

collection: venv
	@$(ENV) testbed/collection-check.sh

molecule: image
	@$(ENV) for s in $(if $(S),$(S),$(SCENARIOS)); do \
	  [ "$$s" = _testbed ] && continue; \
	  echo "=== molecule test -s $$s"; \
	  $(TIMED) "molecule $$s" molecule test -s $$s; \
	done

bench: image
	@$(ENV) bench/idempotence.sh
	@$(ENV) python bench/nvidia_smi.py

clean:
	rm -rf build .cache/rootfs-* tests/output
