"""How fast do the nvidia-smi parsers run, and how many times does nvidia_smi_info call
nvidia-smi? Prints figures; asserts nothing.

  .venv/bin/python bench/nvidia_smi.py          (part of make bench)

- parse time of the largest captured `nvidia-smi -q -x` XML and `topo -m` text in
  tests/unit/fixtures/nvidia_smi/ (median of REPEAT runs, and per MiB);
- nvidia-smi invocations per nvidia_smi_info run, counted by the test-bed stand-in
  (molecule/_testbed/files/nvidia-smi-standin), which logs every call.
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = os.path.join(ROOT, "build", "collections")
sys.path.insert(0, NS)

from ansible_collections.aiserver.gpu.plugins.module_utils import _nvidia_smi  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "nvidia_smi")
REPEAT = int(os.environ.get("REPEAT", "50"))


def largest(pattern):
    return max(glob.glob(os.path.join(FIXTURES, pattern)), key=os.path.getsize)


def timed(func, text):
    runs = []
    for _run in range(REPEAT):
        start = time.perf_counter()
        func(text, lambda msg: None)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def parse_figures():
    for label, pattern, func in (("-q -x XML", "A_*.xml", _nvidia_smi.parse_query_xml),
                                 ("topo -m", "D_*.txt", _nvidia_smi.parse_topology)):
        path = largest(pattern)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        seconds = timed(func, text)
        print("parse %-10s %-55s %8d bytes  %8.3f ms  (%.1f MiB/s, median of %d)"
              % (label, os.path.basename(path), len(text), seconds * 1e3,
                 len(text) / seconds / 2 ** 20, REPEAT))


def count_calls():
    tmp = tempfile.mkdtemp(prefix="aiserver-bench-")
    try:
        share, state = os.path.join(tmp, "share"), os.path.join(tmp, "state")
        os.makedirs(share)
        shutil.copy(largest("A_*.xml"), os.path.join(share, "nvidia-smi-q-x.xml"))
        shutil.copy(largest("D_*.txt"), os.path.join(share, "nvidia-smi-topo-m.txt"))
        with open(os.path.join(ROOT, "molecule", "_testbed", "files", "nvidia-smi-standin")) as f:
            standin = f.read().replace("/usr/local/share/aiserver-testbed", share).replace("/var/lib/aiserver-testbed", state)
        smi = os.path.join(tmp, "nvidia-smi")
        with open(smi, "w") as f:
            f.write(standin.replace("#!/usr/bin/python3", "#!" + sys.executable, 1))
        os.chmod(smi, 0o755)
        for topology in (True, False):
            args = os.path.join(tmp, "args.json")
            with open(args, "w") as f:
                json.dump({"ANSIBLE_MODULE_ARGS": {"executable": smi, "topology": topology}}, f)
            log = os.path.join(state, "nvidia-smi-calls.log")
            if os.path.exists(log):
                os.remove(log)
            start = time.perf_counter()
            out = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "nvidia_smi_info.py"), args],
                                 env=dict(os.environ, PYTHONPATH=NS), capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            result = json.loads(out.stdout)
            with open(log) as f:
                calls = [json.loads(line) for line in f]
            print("nvidia_smi_info topology=%-5s: %d nvidia-smi call(s) %s, module run %.0f ms, failed=%s, gpus=%s"
                  % (topology, len(calls), calls, elapsed * 1e3, result.get("failed", False), result.get("gpu_count")))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    parse_figures()
    count_calls()
