"""make gpu-check (testbed/gpu_check.py), run here against the test bed's nvidia-smi stand-in
(molecule/_testbed/files/nvidia-smi-standin, replaying a real captured -q -x, topo -m and
topo -p2p), so the script is known to run before a GPU machine is lent. The real lspci of
this host, real module runs, real files. The PyTorch benchmark runs on the CPU (gloo) where
a CPU torch is at hand (build/torch-venv, made by make test from a local wheel)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from captures import ROOT, fixture_path

SCRIPT = os.path.join(ROOT, "testbed", "gpu_check.py")
STANDIN = os.path.join(ROOT, "molecule", "_testbed", "files", "nvidia-smi-standin")
TORCH_PYTHON = os.environ.get("AISERVER_TORCH_PYTHON") or os.path.join(ROOT, "build", "torch-venv", "bin", "python")


@pytest.fixture
def gpu_box(tmp_path):
    """A folder with the stand-in as nvidia-smi and its captures; returns run(python, **env)."""
    share, state, bindir = tmp_path / "share", tmp_path / "state", tmp_path / "bin"
    for folder in (share, state, bindir):
        folder.mkdir()
    shutil.copyfile(fixture_path("nvidia_smi", "A_dual-rtx-2080_590.xml"), str(share / "nvidia-smi-q-x.xml"))
    shutil.copyfile(fixture_path("nvidia_smi", "D_2x-rtx2080ti_PIX_cpu-numa-affinity_autodl.txt"),
                    str(share / "nvidia-smi-topo-m.txt"))
    shutil.copyfile(fixture_path("nvidia_smi", "D_topo-p2p-p_2x-rtx2080ti_NS_autodl.txt"),
                    str(share / "nvidia-smi-topo-p2p.txt"))
    shutil.copyfile(STANDIN, str(bindir / "nvidia-smi"))
    os.chmod(str(bindir / "nvidia-smi"), 0o755)
    out = tmp_path / "out"

    def run(python=sys.executable, extra_env=None):
        env = dict(os.environ, AISERVER_STANDIN_SHARE=str(share), AISERVER_STANDIN_STATE=str(state),
                   PATH=str(bindir) + os.pathsep + os.environ["PATH"], OUT=str(out))
        env.pop("PYTHONPATH", None)
        env.update(extra_env or {})
        proc = subprocess.run([python, SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=300, check=False)
        return proc, out, state

    return run


def load(out, *path):
    with open(os.path.join(str(out), *path)) as handle:
        return json.load(handle)


def test_gpu_check_against_the_stand_in(gpu_box):
    proc, out, state = gpu_box()
    log = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, log
    summary = load(out, "summary.json")
    status = dict((c["name"], c["status"]) for c in summary["checks"])
    assert status["nvidia_smi_info"] == "pass" and status["nvidia_smi_info (saved outputs)"] == "pass"
    assert status["nvidia_power_limit-check"] == "pass" and status["nvidia_power_limit-same-value"] == "pass"
    assert status["pci_acs"] == "pass"
    assert summary["elapsed_s"] < 180
    assert summary["machine"]["driver"] == "590.44.01" and summary["machine"]["gpus"] == ["NVIDIA GeForce RTX 2080"] * 2
    info = load(out, "results", "nvidia_smi_info.json")
    assert info["gpu_count"] == 2 and info["p2p"]["GPU0"]["GPU1"] == "NS" and info["nvidia_smi_calls"] == 3
    # Every capture has its .source note naming the machine, the driver, the date and the command.
    captures = os.listdir(str(out / "captures"))
    for name in summary["captures"]:
        base = name.rsplit(".", 1)[0]
        assert base + ".source" in captures, name
        note = (out / "captures" / (base + ".source")).read_text()
        assert "driver: 590.44.01" in note and "\ncommand: " in note and "\ndate: " in note
    for wanted in ("nvidia-smi-q-x.xml", "nvidia-smi-topo-m.txt", "nvidia-smi-topo-p2p-rw.txt", "lspci-tv.txt",
                   "error_nvidia-smi-i-99.txt", "nvidia-smi-query-gpu.csv", "proc-cmdline.txt"):
        assert wanted in captures, wanted
    assert "No devices were found" in (out / "captures" / "error_nvidia-smi-i-99.txt").read_text()
    # The only change: GPU 0's limit set to the value it had (the stand-in keeps what it was told).
    kept = json.loads((state / "nvidia-smi-state.json").read_text())
    assert kept == {"0:01:00.0": {"limit": 215.0}}
    calls = [json.loads(line) for line in (state / "nvidia-smi-calls.log").read_text().splitlines()]
    assert [c for c in calls if "-pl" in c or "-pm" in c] == [["-i", "0000:01:00.0", "-pl", "215"]]
    for name in os.listdir(str(out / "results")):
        assert "traceback" not in load(out, "results", name), name
    assert (out / "summary.md").read_text().startswith("# gpu-check on ")


def test_without_ansible_core_it_uses_the_carried_bundle(gpu_box, tmp_path):
    """A GPU machine with Python 3 but no ansible-core: the modules run from the carried
    pylib (here a copy of this venv's ansible package; make gpu-check-bundle unpacks the
    pinned wheel)."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or subprocess.run([python, "-c", "import ansible"], stderr=subprocess.DEVNULL,
                                        check=False).returncode == 0:
        pytest.skip("needs a system python3 without ansible-core")
    import ansible
    pylib = tmp_path / "pylib"
    shutil.copytree(os.path.dirname(ansible.__file__), str(pylib / "ansible"),
                    ignore=shutil.ignore_patterns("__pycache__", "galaxy", "cli", "executor", "playbook"))
    proc, out, _state = gpu_box(python=python, extra_env={"AISERVER_GPU_CHECK_PYLIB": str(pylib)})
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    status = dict((c["name"], c["status"]) for c in load(out, "summary.json")["checks"])
    assert status["nvidia_smi_info"] == "pass" and status["nvidia_power_limit-same-value"] == "pass"
    missing, _out, _state = gpu_box(python=python, extra_env={"AISERVER_GPU_CHECK_PYLIB": str(tmp_path / "none")})
    assert missing.returncode == 1 and b"make gpu-check-bundle" in missing.stderr


@pytest.mark.skipif(not os.path.exists(TORCH_PYTHON), reason="no CPU torch at %s (make test builds it from a "
                                                             "local torch 2.13.0 wheel when there is one)" % TORCH_PYTHON)
def test_the_pytorch_benchmark_through_nccl_test(gpu_box):
    """No nccl-tests binary: the PyTorch all_reduce benchmark runs (gloo on 2 CPU ranks here,
    NCCL on the GPUs there), printed in the nccl-tests format and read by nccl_test."""
    proc, out, _state = gpu_box(extra_env={
        "AISERVER_TORCH_PYTHON": TORCH_PYTHON,
        "AISERVER_TORCH_BENCH_ARGS": "--backend gloo --device cpu --ranks 2 --max-bytes 1M --iters 3 --warmup 1"})
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    checks = load(out, "summary.json")["checks"]
    bench = [c for c in checks if c["name"].startswith("nccl_test (PyTorch all_reduce benchmark")]
    assert len(bench) == 1 and bench[0]["status"] == "pass", checks
    result = load(out, "results", "nccl_test-torch-allreduce.json")
    assert result["passed"] is True and result["wrong_total"] == 0 and len(result["devices"]) == 2
    assert [row["size_bytes"] for row in result["results"]] == [8 * 4 ** k for k in range(9)]  # 8 B to 512 KiB by 4
    log = (out / "captures" / "torch-allreduce-bench_nccl-tests-format.txt").read_text()
    assert "NOT nccl-tests" in log
