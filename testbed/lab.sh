#!/usr/bin/env bash
# The lab: one test-bed container made to look like a freshly installed Debian 12 server,
# and site.yml run against it through inventory/lab.yml. Re-running reuses the container
# (a second run shows what an idempotent run looks like).
#   testbed/lab.sh            create (if missing) and converge
#   testbed/lab.sh --destroy  remove the lab container
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TESTBED_ROOT"
# Privileged, with a private cgroup namespace and a volume on /var/lib/docker, so that the
# docker_gpu role's dockerd can run containers in it (see molecule/docker_gpu).
instances='{"testbed_instances": [{"name": "aiserver-lab", "privileged": true, "cgroupns": "private",
  "volumes": ["aiserver-lab-docker:/var/lib/docker"]}]}'
if [ "${1:-}" = "--destroy" ]; then
  ansible-playbook testbed/instances.yml -e "$instances" -e testbed_state=absent
  exit 0
fi
# A privileged container's systemd sees the host's whole name=systemd cgroup hierarchy on
# this hybrid-cgroup kernel (podman bind-mounts it), so starting or removing another
# privileged container (molecule/docker_gpu) can remove the lab's cgroup; `podman exec`
# then fails ("error adding pid ... to cgroups"). Such a container cannot be repaired:
# make it again (the .deb files stay in the apt cache).
if podman container exists aiserver-lab && ! podman exec aiserver-lab true >/dev/null 2>&1; then
  echo "lab: the lab container no longer accepts podman exec (its cgroup was removed); making it again"
  ansible-playbook testbed/instances.yml -e "$instances" -e testbed_state=absent >/dev/null
fi
echo "lab: starting the lab container (aiserver-lab)"
ansible-playbook testbed/instances.yml -e "$instances" >/dev/null
echo "lab: making it a freshly installed server (kernel image, GRUB)"
ansible-playbook -i inventory/lab.yml molecule/_testbed/fresh-server.yml >/dev/null
echo "lab: running site.yml"
ANSIBLE_CALLBACKS_ENABLED=aiserver.gpu.summary ansible-playbook -i inventory/lab.yml site.yml "$@"
