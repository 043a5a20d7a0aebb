# shellcheck shell=bash
# Source this file to use the test bed: podman with the repository's own configuration,
# the project's virtualenv first in PATH, and the shared caches.
TESTBED_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TESTBED_ROOT
export CONTAINERS_CONF="$TESTBED_ROOT/testbed/containers.conf"
export AISERVER_IMAGE="${AISERVER_IMAGE:-localhost/aiserver-gpu/debian12-systemd:latest}"
export AISERVER_ROOTFS_IMAGE="${AISERVER_ROOTFS_IMAGE:-localhost/aiserver-gpu/debian12-rootfs:latest}"
# Downloaded .deb files, one folder per test container name (bind-mounted on
# /var/cache/apt/archives): re-creating a container downloads nothing again.
export AISERVER_APT_CACHE="${AISERVER_APT_CACHE:-$TESTBED_ROOT/.cache/apt-archives}"
export ANSIBLE_COLLECTIONS_PATH="$TESTBED_ROOT/build/collections"
export ANSIBLE_CONFIG="$TESTBED_ROOT/ansible.cfg"
export PATH="$TESTBED_ROOT/.venv/bin:$PATH"
