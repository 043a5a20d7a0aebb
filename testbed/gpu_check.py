"""make gpu-check: run the collection's modules against a real NVIDIA GPU machine and bring
back its real outputs, in one command, in under three minutes.

Needs Python 3 and the repository only. The modules need ``ansible.module_utils``: from an
installed ansible-core, or from ``build/gpu-check/pylib`` (``make gpu-check-bundle`` unpacks
the pinned ansible-core wheel there, a few MB; carry that folder to a machine without
network). Nothing is installed; the machine's settings are not changed, except that the
power limit of each GPU is set to the value it already has (once through the module, which
sees nothing to do, and once by hand, to capture nvidia-smi's own answer).

Everything goes under ``--out`` (default ``$OUT``, else build/gpu-check/out):
  captures/NAME.txt|.xml|.csv + NAME.source   every raw output, with machine, driver, date
                                              and the exact command in the .source note
  results/MODULE[-what].json                   each module's result, as Ansible returns it
  summary.json, summary.md                     which checks passed, failed or were skipped

Exit status 0 when every check ran (passed or failed: a failed check is a finding, and
the captures are what we want), 1 when the script itself could not do its job.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "plugins", "module_utils"))
import _runner  # noqa: E402  (the collection's one runner; pure standard library)

PYLIB = os.environ.get("AISERVER_GPU_CHECK_PYLIB") or os.path.join(ROOT, "build", "gpu-check", "pylib")
TORCH_BENCH = os.path.join(ROOT, "testbed", "gpu_check_torch_allreduce.py")
# The Python that runs the PyTorch benchmark (the project's tests point it at a CPU torch).
TORCH_PYTHON = os.environ.get("AISERVER_TORCH_PYTHON") or sys.executable
TORCH_ARGS = os.environ.get("AISERVER_TORCH_BENCH_ARGS", "").split()
QUERY_FIELDS = ("index,name,pci.bus_id,driver_version,vbios_version,pstate,persistence_mode,"
                "pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max,"
                "power.draw,power.limit,power.default_limit,power.min_limit,power.max_limit,"
                "temperature.gpu,clocks.sm,clocks.max.sm,clocks_event_reasons.active,"
                "ecc.mode.current,ecc.errors.uncorrected.volatile.total,ecc.errors.uncorrected.aggregate.total,"
                "retired_pages.pending,remapped_rows.pending,remapped_rows.failure,memory.total,memory.used,"
                "mig.mode.current,compute_mode")
NCCL_DIRS = ("/usr/local/bin", "/opt/nccl-tests/build", "/usr/local/nccl-tests/build", "~/nccl-tests/build",
             "/workspace/nccl-tests/build")


class Check(object):
    """Collects captures, module results and the verdicts of one run."""

    def __init__(self, out, nvidia_smi, budget):
        self.out = out
        self.nvidia_smi = nvidia_smi
        self.deadline = time.monotonic() + budget
        self.checks = []
        self.captures = []
        self.machine = {}
        for sub in ("captures", "results"):
            os.makedirs(os.path.join(out, sub), exist_ok=True)

    # ------------------------------------------------------------------ time
    def left(self):
        return self.deadline - time.monotonic()

    def timeout(self, wanted):
        """``wanted`` seconds, or what is left of the budget (at least 5)."""
        return max(5, min(wanted, int(self.left())))

    # ------------------------------------------------------------------ verdicts
    def record(self, name, status, detail, **extra):
        entry = dict(name=name, status=status, detail=detail)
        entry.update(extra)
        self.checks.append(entry)
        print("gpu-check: %-7s %s: %s" % (status.upper(), name, detail), flush=True)

    # ------------------------------------------------------------------ raw captures
    def capture(self, name, cmd, timeout=60, ext="txt", note="", merge=False):
        """Run ``cmd`` with the runner, save stdout (and stderr) with a .source note."""
        if self.left() < 5:
            self.record("capture %s" % name, "skipped", "out of time")
            return None
        res = _runner.run(cmd, self.timeout(timeout), merge_stderr=merge)
        # stdout, or stderr when the command printed only that (an error message).
        self.save(name, ext, res["stdout"] if res["stdout"] or not res["stderr"] else res["stderr"], cmd, res, note)
        if res["stdout"] and res["stderr"]:
            self.save(name + ".stderr", "txt", res["stderr"], cmd, res, "stderr of %s" % name)
        return res

    def save(self, name, ext, text, cmd, res=None, note=""):
        path = os.path.join(self.out, "captures", "%s.%s" % (name, ext))
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        lines = [
            "source: aiserver.gpu make gpu-check (testbed/gpu_check.py), run on %s" % self.machine.get("host", "?"),
            "machine: %s" % self.machine.get("summary", "?"),
            "driver: %s; cuda: %s" % (self.machine.get("driver", "?"), self.machine.get("cuda", "?")),
            "date: %s" % self.machine.get("date", "?"),
            "command: %s" % " ".join(cmd) if cmd else "command: (read from a file)",
        ]
        if res is not None:
            sig = " signal=%s" % res["signal"] if res["signal"] else ""
            late = " timed out after %s s" % res["elapsed"] if res["timed_out"] else ""
            lines.append("exit: rc=%s%s%s" % (res["rc"], sig, late))
        if note:
            lines.append("notes: %s" % note)
        with open(os.path.join(self.out, "captures", "%s.source" % name), "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        self.captures.append("%s.%s" % (name, ext))
        return path

    # ------------------------------------------------------------------ modules
    def module(self, name, args, label=None, check_mode=False, timeout=120):
        """Run plugins/modules/NAME.py as Ansible does (args file, JSON out); save the result."""
        label = label or name
        if self.left() < 5:
            self.record(label, "skipped", "out of time")
            return None
        tmp = tempfile.mkdtemp(prefix="gpu-check-")
        try:
            namespace = os.path.join(tmp, "collections")
            os.makedirs(os.path.join(namespace, "ansible_collections", "aiserver"))
            os.symlink(ROOT, os.path.join(namespace, "ansible_collections", "aiserver", "gpu"))
            module_args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=False)
            args_file = os.path.join(tmp, "args.json")
            with open(args_file, "w") as handle:
                json.dump({"ANSIBLE_MODULE_ARGS": module_args}, handle)
            paths = [namespace] + ([PYLIB] if os.path.isdir(PYLIB) else []) + \
                [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
            res = _runner.run([sys.executable, os.path.join(ROOT, "plugins", "modules", name + ".py"), args_file],
                              self.timeout(timeout), env_update={"PYTHONPATH": os.pathsep.join(paths)}, cwd=tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            result = json.loads(res["stdout"][res["stdout"].index("{"):])
        except ValueError:
            result = dict(failed=True, msg="the module printed no JSON: %s" % (
                _runner.describe(res, name) or (res["stdout"] + res["stderr"])[-2000:]),
                module_stdout=res["stdout"][-4000:], module_stderr=res["stderr"][-4000:])
        if "Traceback" in res["stdout"] + res["stderr"]:
            result.setdefault("traceback", (res["stdout"] + res["stderr"])[-4000:])
        with open(os.path.join(self.out, "results", label.replace(" ", "_") + ".json"), "w") as handle:
            json.dump(result, handle, indent=2, sort_keys=True)
        return result


# ---------------------------------------------------------------------- the steps

def machine_facts(chk):
    facts = {"host": socket.gethostname(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    facts["kernel"] = platform.release()
    try:
        with open("/etc/os-release") as handle:
            pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', handle.read(), re.M)
            facts["os"] = pretty.group(1) if pretty else "?"
    except OSError:
        facts["os"] = "?"
    res = _runner.run([chk.nvidia_smi, "-q", "-x"], 60) if _runner.find_executable(chk.nvidia_smi) else None
    xml = res["stdout"] if res is not None and res.ok else ""
    names = [name.strip() for name in re.findall(r"<product_name>([^<]*)</product_name>", xml)]
    for key, tag in (("driver", "driver_version"), ("cuda", "cuda_version")):
        match = re.search(r"<%s>([^<]*)</%s>" % (tag, tag), xml)
        facts[key] = match.group(1).strip() if match else "?"
    gpus = "%dx %s" % (len(names), names[0]) if names and len(set(names)) == 1 else ", ".join(names) or "no GPU read"
    facts["summary"] = "%s, %s, kernel %s, %d CPUs, Python %s" % (
        gpus, facts["os"], facts["kernel"], os.cpu_count() or 0, platform.python_version())
    facts["gpus"] = names
    chk.machine.update(facts)


def raw_captures(chk):
    smi = chk.nvidia_smi
    chk.capture("nvidia-smi-q-x", [smi, "-q", "-x"], ext="xml")
    chk.capture("nvidia-smi-q", [smi, "-q"])
    chk.capture("nvidia-smi", [smi])
    chk.capture("nvidia-smi-L", [smi, "-L"])
    chk.capture("nvidia-smi-topo-m", [smi, "topo", "-m"])
    for cap in ("rw", "r", "w", "n", "a", "p"):
        chk.capture("nvidia-smi-topo-p2p-%s" % cap, [smi, "topo", "-p2p", cap])
    chk.capture("nvidia-smi-query-gpu", [smi, "--query-gpu=" + QUERY_FIELDS, "--format=csv"], ext="csv")
    chk.capture("nvidia-smi-query-gpu_noheader-nounits",
                [smi, "--query-gpu=" + QUERY_FIELDS, "--format=csv,noheader,nounits"], ext="csv")
    for section in ("PERFORMANCE", "ECC", "POWER", "PAGE_RETIREMENT", "ROW_REMAPPER", "CLOCK"):
        chk.capture("nvidia-smi-q-d-%s" % section.lower(), [smi, "-q", "-d", section])
    chk.capture("nvidia-smi-nvlink-s", [smi, "nvlink", "-s"])
    # Real error messages, provoked safely (nothing is changed by any of them).
    chk.capture("error_nvidia-smi-i-99", [smi, "-i", "99", "-q"], note="a GPU index that does not exist")
    chk.capture("error_nvidia-smi-query-gpu-bad-field", [smi, "--query-gpu=not_a_field", "--format=csv"],
                note="a field that does not exist")
    chk.capture("error_nvidia-smi-topo-p2p-bad-capability", [smi, "topo", "-p2p", "x"],
                note="an invalid P2P capability")
    chk.capture("error_nvidia-smi-q-d-bad-section", [smi, "-q", "-d", "NOT_A_SECTION"],
                note="an invalid -d section")
    # The kernel side.
    for name, path in (("proc-driver-nvidia-version", "/proc/driver/nvidia/version"),
                       ("proc-cmdline", "/proc/cmdline"), ("sys-module-nvidia-version", "/sys/module/nvidia/version")):
        try:
            with open(path) as handle:
                chk.save(name, "txt", handle.read(), ["cat", path])
        except OSError as exc:
            chk.save(name, "txt", "cannot read %s: %s\n" % (path, exc), ["cat", path])
    for path in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        with open(path) as handle:
            chk.save("proc-driver-nvidia-gpus-%s-information" % path.split("/")[-2].replace(":", "-"), "txt",
                     handle.read(), ["cat", path])
    if _runner.find_executable("modinfo"):
        chk.capture("modinfo-nvidia", ["modinfo", "nvidia"])
    kernel_log(chk)
    if _runner.find_executable("dpkg-query"):
        chk.capture("dpkg-nvidia-packages", ["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n",
                                             "*nvidia*", "*cuda*", "*nccl*"])
    elif _runner.find_executable("rpm"):
        chk.capture("rpm-nvidia-packages", ["rpm", "-qa", "*nvidia*", "*cuda*", "*nccl*"])
    if _runner.find_executable("nvcc"):
        chk.capture("nvcc-version", ["nvcc", "--version"])
    lspci_captures(chk)


def kernel_log(chk):
    """NVRM / Xid / nvidia lines of the kernel log since boot (journal, else dmesg)."""
    pattern = re.compile(r"NVRM|Xid|SXid|nvidia|AER|pcieport", re.I)
    for cmd in (["journalctl", "-k", "-b", "--no-pager", "-o", "short-iso"], ["dmesg", "-T"], ["dmesg"]):
        if not _runner.find_executable(cmd[0]):
            continue
        res = _runner.run(cmd, chk.timeout(60))
        if res.ok and res["stdout"].strip():
            lines = [line for line in res["stdout"].splitlines() if pattern.search(line)]
            chk.save("kernel-log_nvrm-xid-aer", "txt", "\n".join(lines) + ("\n" if lines else ""), cmd, res,
                     "only the lines matching %s, %d of %d" % (pattern.pattern, len(lines),
                                                               len(res["stdout"].splitlines())))
            return
    chk.record("kernel log", "skipped", "neither journalctl -k nor dmesg could be read (root needed?)")


def _bridges(bdf):
    """The PCI bridges above ``bdf``, from its sysfs path (nearest first)."""
    real = os.path.realpath(os.path.join("/sys/bus/pci/devices", bdf))
    found = []
    for part in reversed(real.split("/")[:-1]):
        if re.match(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$", part):
            found.append(part)
    return found


def lspci_captures(chk):
    if not _runner.find_executable("lspci"):
        chk.record("lspci", "skipped", "lspci is not installed (pciutils)")
        return
    chk.capture("lspci-tv", ["lspci", "-tv"])
    chk.capture("lspci-D-vvv_full", ["lspci", "-D", "-vvv"], note="as the user the script ran as (root shows ACS)")
    gpus = []
    for dev in sorted(glob.glob("/sys/bus/pci/devices/*")):
        try:
            with open(os.path.join(dev, "vendor")) as v, open(os.path.join(dev, "class")) as c:
                if v.read().strip() == "0x10de" and c.read().strip().startswith("0x03"):
                    gpus.append(os.path.basename(dev))
        except OSError:
            continue
    for bdf in gpus:
        chain = [bdf] + _bridges(bdf)
        parts = []
        for dev in chain:
            res = _runner.run(["lspci", "-D", "-vvv", "-s", dev], chk.timeout(30))
            parts.append(res["stdout"])
        chk.save("lspci-D-vvv_gpu-%s-and-bridges" % bdf.replace(":", "-"), "txt", "\n".join(parts),
                 ["lspci", "-D", "-vvv", "-s", " / -s ".join(chain)], note="the GPU, then each bridge above it")


def modules(chk):
    smi = chk.nvidia_smi
    info = chk.module("nvidia_smi_info", {"executable": smi, "p2p": "rw", "on_topology_error": "warn"})
    if info is None:
        return None
    if info.get("failed"):
        chk.record("nvidia_smi_info", "fail", "%s: %s" % (info.get("error_kind"), info.get("msg")))
    else:
        topo = "topology read" if info.get("topology") else "no topology (%s)" % info.get("topology_error")
        chk.record("nvidia_smi_info", "pass", "%d GPU(s), driver %s, CUDA %s, %s, %d nvidia-smi calls" % (
            info["gpu_count"], info["driver_version"], info["cuda_version"], topo, info["nvidia_smi_calls"]))
    # The same parsers over the files saved above: what the live run read, the saved one reads.
    cap = os.path.join(chk.out, "captures")
    saved = chk.module("nvidia_smi_info", {"xml_path": os.path.join(cap, "nvidia-smi-q-x.xml"),
                                           "topology_path": os.path.join(cap, "nvidia-smi-topo-m.txt"),
                                           "p2p_path": os.path.join(cap, "nvidia-smi-topo-p2p-rw.txt")},
                       label="nvidia_smi_info-saved")
    if saved is not None and not info.get("failed"):
        same = not saved.get("failed") and saved.get("gpus") == info.get("gpus")
        chk.record("nvidia_smi_info (saved outputs)", "pass" if same else "fail",
                   "the saved -q -x reads the same GPUs" if same else
                   (saved.get("msg") or "the saved -q -x reads other GPUs than the live run"))
    return info


def power_limits(chk, info):
    if not info or info.get("failed") or not info.get("gpus"):
        chk.record("nvidia_power_limit", "skipped", "no GPU read by nvidia_smi_info")
        return
    limits = dict((str(gpu["index"]), gpu["power_limit_w"]) for gpu in info["gpus"]
                  if gpu.get("power_limit_w") is not None)
    if not limits:
        chk.record("nvidia_power_limit", "skipped", "nvidia-smi gives no power limit for these GPUs")
        return
    args = {"limits": limits, "persistence_mode": False, "executable": chk.nvidia_smi}
    for label, check_mode in (("nvidia_power_limit-check", True), ("nvidia_power_limit-same-value", False)):
        res = chk.module("nvidia_power_limit", args, label=label, check_mode=check_mode)
        if res is None:
            continue
        ok = not res.get("failed") and res.get("changed") is False and res.get("commands") == []
        chk.record(label, "pass" if ok else "fail",
                   "limits %s W read back, nothing to change" % limits if ok else
                   "%s (changed=%s, commands=%s)" % (res.get("msg"), res.get("changed"), res.get("commands")))
    # nvidia-smi's own answer to a set of the same value (a real capture for the -pl parser).
    first = info["gpus"][0]
    if first.get("power_limit_w") is not None:
        chk.capture("nvidia-smi-i0-pl-same-value", [chk.nvidia_smi, "-i", first["pci_bus_id"] or "0", "-pl",
                                                    "%g" % first["power_limit_w"]],
                    note="sets GPU %s to the limit it already has (%s W)" % (first["index"], first["power_limit_w"]))


def acs(chk):
    res = chk.module("pci_acs", {"state": "query"})
    if res is None:
        return
    if res.get("failed"):
        chk.record("pci_acs", "fail", res.get("msg"))
    else:
        chk.record("pci_acs", "pass", "%d device(s) with ACS, %d enabled" % (
            len(res.get("devices") or []), res.get("enabled_count") or 0))
    saved = os.path.join(chk.out, "captures", "lspci-D-vvv_full.txt")
    if os.path.exists(saved):
        chk.module("pci_acs", {"state": "query", "lspci_path": saved}, label="pci_acs-saved")


def _find(names, dirs):
    for name in names:
        path = _runner.find_executable(name, [os.path.expanduser(d) for d in dirs])
        if path:
            return path
    return None


def benchmarks(chk, info):
    gpus = (info or {}).get("gpu_count") or 0
    if not gpus:
        chk.record("nccl_test", "skipped", "no GPU read by nvidia_smi_info")
        chk.record("p2p_bandwidth", "skipped", "no GPU read by nvidia_smi_info")
        return
    nccl = _find(["all_reduce_perf"], NCCL_DIRS)
    if nccl:
        res = chk.module("nccl_test", {"executable": nccl, "args": ["-b", "8", "-e", "256M", "-f", "2", "-g",
                                                                    str(gpus)],
                                       "timeout": chk.timeout(90), "fail_on_error": False},
                         timeout=120)
        _verdict(chk, "nccl_test (nccl-tests all_reduce_perf)", res)
    else:
        torch = _runner.run([TORCH_PYTHON, "-c", "import torch; print(torch.__version__, torch.cuda.is_available(), "
                                                 "torch.cuda.device_count())"], chk.timeout(60))
        words = torch["stdout"].split()
        if torch.ok and len(words) == 3 and (words[1] == "True" or TORCH_ARGS):
            res = chk.module("nccl_test", {"executable": TORCH_PYTHON,
                                           "args": [TORCH_BENCH, "--min-bytes", "8", "--max-bytes", "256M",
                                                    "--factor", "4"] + TORCH_ARGS,
                                           "timeout": chk.timeout(90), "fail_on_error": False},
                             label="nccl_test-torch-allreduce", timeout=120)
            _verdict(chk, "nccl_test (PyTorch all_reduce benchmark in the nccl-tests format, not nccl-tests; "
                          "torch %s)" % words[0], res)
            if res and res.get("log"):
                chk.save("torch-allreduce-bench_nccl-tests-format", "txt", res["log"],
                         [TORCH_PYTHON, TORCH_BENCH] + TORCH_ARGS, note="testbed/gpu_check_torch_allreduce.py: PyTorch "
                         "torch.distributed all_reduce over NCCL, printed in the nccl-tests table format")
        else:
            said = ((torch["stderr"] or torch["stdout"]).strip().splitlines() or ["?"])[-1]
            chk.record("nccl_test", "skipped", "no nccl-tests binary (all_reduce_perf in PATH or %s) and no PyTorch "
                       "with CUDA (%s)" % (", ".join(NCCL_DIRS), said[-200:]))
    p2p = _find(["nvbandwidth", "p2pBandwidthLatencyTest"], ("/usr/local/bin", "/opt/nvbandwidth", "/usr/local/cuda/bin",
                                                             "/usr/local/cuda/extras/demo_suite"))
    if p2p:
        res = chk.module("p2p_bandwidth", {"executable": p2p, "timeout": chk.timeout(90), "fail_on_error": False},
                         timeout=120)
        _verdict(chk, "p2p_bandwidth (%s)" % os.path.basename(p2p), res)
        if res and res.get("log"):
            chk.save("p2p-bandwidth_%s" % os.path.basename(p2p), "txt", res["log"], [p2p])
    else:
        chk.record("p2p_bandwidth", "skipped", "neither nvbandwidth nor p2pBandwidthLatencyTest is installed")


def _verdict(chk, name, res):
    if res is None:
        return
    if res.get("traceback") or (res.get("failed") and "passed" not in res):
        chk.record(name, "fail", res.get("msg") or "no result")
    else:
        chk.record(name, "pass" if res.get("passed") else "fail", res.get("msg") or "")


def not_yet(chk):
    for name in ("Xid scan", "ECC and row remapping", "throttle reasons"):
        chk.record(name, "skipped", "no such check in the collection yet (issue 16); the raw outputs it will read "
                                    "are captured (kernel-log_*, nvidia-smi-q-d-*)")


def write_summary(chk, started):
    counts = {}
    for entry in chk.checks:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    summary = dict(machine=chk.machine, elapsed_s=round(time.monotonic() - started, 1), counts=counts,
                   checks=chk.checks, captures=sorted(chk.captures))
    with open(os.path.join(chk.out, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    lines = ["# gpu-check on %s" % chk.machine.get("host"), "", chk.machine.get("summary", ""),
             "driver %s, CUDA %s, %s" % (chk.machine.get("driver"), chk.machine.get("cuda"), chk.machine.get("date")),
             "", "| check | status | detail |", "|---|---|---|"]
    for entry in chk.checks:
        detail = " / ".join(str(entry["detail"]).split("\n")).replace("|", "\\|")[:300]
        lines.append("| %s | %s | %s |" % (entry["name"], entry["status"].upper(), detail))
    lines += ["", "%d captures under captures/ (each with a .source note); module results under results/; %.0f s."
              % (len(chk.captures), summary["elapsed_s"])]
    with open(os.path.join(chk.out, "summary.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("gpu-check: %s in %.0f s; outputs in %s" % (
        ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items())), summary["elapsed_s"], chk.out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or os.path.join(ROOT, "build", "gpu-check", "out"))
    parser.add_argument("--nvidia-smi", default="nvidia-smi")
    parser.add_argument("--budget", type=int, default=170, help="seconds for the whole run (default 170)")
    opts = parser.parse_args(argv)
    started = time.monotonic()
    try:
        import ansible.module_utils.basic  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        if not os.path.isdir(PYLIB):
            print("gpu-check: no ansible-core here and no %s: run `make gpu-check-bundle` on a machine with network "
                  "and carry build/gpu-check/pylib" % PYLIB, file=sys.stderr)
            return 1
    chk = Check(opts.out, opts.nvidia_smi, opts.budget)
    machine_facts(chk)
    print("gpu-check: %s" % chk.machine["summary"], flush=True)
    if not _runner.find_executable(opts.nvidia_smi):
        chk.record("nvidia-smi", "fail", "%s is not installed or not in PATH" % opts.nvidia_smi)
    raw_captures(chk)
    info = modules(chk)
    power_limits(chk, info)
    acs(chk)
    benchmarks(chk, info)
    not_yet(chk)
    write_summary(chk, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
