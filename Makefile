# aiserver.gpu — developer entry points. The README names two of them:
#   make lab    run site.yml against a local lab container (builds what it needs)
#   make test   every check CI runs (.ci/run calls exactly this)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
STAMP := $(VENV)/.installed
ENV := . testbed/env.sh &&
TIMED := testbed/timed.sh

.PHONY: help deps venv link torch-venv image lab lab-destroy test lint unit sanity collection molecule bench clean gpu-check gpu-check-bundle

help:
	@echo "make lab          run site.yml against a local lab container (installs what it needs)"
	@echo "make test         lint, unit tests, ansible-test sanity, collection build, every Molecule scenario"
	@echo "make molecule S=kernel_tuning   one scenario"
	@echo "make bench        time an idempotent site.yml run against a facts-only play; nvidia-smi parse figures"
	@echo "make lab-destroy  remove the lab container"
	@echo "make gpu-check    on a GPU machine: run the modules against its GPUs, save every raw output (OUT=dir)"
	@echo "make gpu-check-bundle   build/gpu-check/pylib, the ansible-core a GPU machine without it needs"

# Host packages: podman (+ runc, the only runtime that works on hybrid-cgroup hosts),
# debootstrap for the base image, dash to evaluate GRUB files as grub-mkconfig does,
# shellcheck for make lint; for the virtual machines (testbed/vm/): qemu-system-x86 and
# qemu-utils, ovmf (UEFI and Secure Boot firmware), fdisk (sfdisk) and dosfstools (the
# EFI system partition), openssh-client (Ansible reaches every test host over SSH).
deps:
	@missing=""; \
	for p in podman runc debootstrap dash pciutils shellcheck qemu-system-x86 qemu-utils ovmf fdisk dosfstools openssh-client; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
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

test:
	@$(TIMED) --reset; for stage in deps venv lint unit sanity collection image molecule; do \
	  $(TIMED) "$$stage" $(MAKE) --no-print-directory $$stage || { $(TIMED) --report; exit 1; }; \
	done; $(TIMED) --report

lint: deps venv link
	@$(ENV) yamllint -s .
	@$(ENV) ansible-lint --profile production --offline
	@$(ENV) testbed/shellcheck.sh

unit: venv link torch-venv
	@$(ENV) python -m pytest tests/unit -q

sanity: venv
	@$(ENV) testbed/sanity.sh

collection: venv
	@$(ENV) testbed/collection-check.sh

# Every scenario (or those in S), MOLECULE_JOBS at a time (testbed/molecule.sh).
MOLECULE_JOBS ?= 2
molecule: image
	@$(ENV) MOLECULE_JOBS=$(MOLECULE_JOBS) testbed/molecule.sh $(S)

bench: image
	@$(ENV) bench/idempotence.sh
	@$(ENV) python bench/nvidia_smi.py

# A CPU PyTorch for the test of gpu-check's PyTorch benchmark (gloo on CPU ranks), only where
# pip finds the pinned CPU wheel locally (a wheel folder in pip's find-links): elsewhere the
# test says it skips, instead of downloading a several-GB CUDA build.
TORCH_VENV := build/torch-venv
TORCH_PIN := torch==2.13.0
torch-venv: venv
	@if [ -x $(TORCH_VENV)/bin/python ]; then :; \
	elif $(VENV)/bin/pip download -q --disable-pip-version-check --no-deps --no-index -d build/torch-wheel $(TORCH_PIN) >/dev/null 2>&1; then \
	  python3 -m venv $(TORCH_VENV).tmp && $(TORCH_VENV).tmp/bin/pip install -q --disable-pip-version-check build/torch-wheel/torch-*.whl \
	    && rm -rf build/torch-wheel && mv $(TORCH_VENV).tmp $(TORCH_VENV); \
	else echo "torch-venv: no local $(TORCH_PIN) wheel, the PyTorch benchmark test of gpu-check skips"; fi

# On a GPU machine: Python 3 and this tree only (plus build/gpu-check/pylib where there is no
# ansible-core: make gpu-check-bundle builds it here). See README, "On a real GPU machine".
gpu-check:
	@python3 testbed/gpu_check.py $(if $(OUT),--out "$(OUT)",)

gpu-check-bundle: venv
	@$(ENV) testbed/gpu-check-bundle.sh

clean:
	rm -rf build .cache/rootfs-* tests/output
