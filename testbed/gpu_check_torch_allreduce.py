"""A PyTorch all_reduce benchmark that prints its figures in the nccl-tests table format.

NOT nccl-tests: for a GPU machine that has PyTorch but no nccl-tests binary (make
gpu-check). One process per GPU (torch.multiprocessing), torch.distributed over NCCL
(``--backend gloo --device cpu`` runs the same code on CPUs, for the project's tests),
float32 sum, sizes from ``--min-bytes`` to ``--max-bytes`` by ``--factor``, ``--warmup``
then ``--iters`` timed iterations of each size, out of place and in place. Every result is
checked: each rank fills its buffer with (rank + 1) and the sum must be n(n+1)/2 in every
element; mismatching elements are counted in ``#wrong``. algbw = bytes / time, busbw =
algbw * 2(n-1)/n, as nccl-tests computes them (its PERFORMANCE.md), so the collection's
nccl-tests parser (module_utils/_nccl_tests.py) reads this output unchanged.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def size(text):
    text = str(text).strip().upper()
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def _sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


def _time_one(torch, dist, buf, out_of_place, device, warmup, iters):
    for _warm in range(warmup):
        work = buf.clone() if out_of_place else buf
        dist.all_reduce(work)
    _sync(torch, device)
    start = time.perf_counter()
    for _iter in range(iters):
        work = buf.clone() if out_of_place else buf
        dist.all_reduce(work)
    _sync(torch, device)
    return (time.perf_counter() - start) / iters, work


def worker(rank, world, opts, port):
    import torch
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if opts.device == "cuda":
        torch.cuda.set_device(rank)
    dist.init_process_group(opts.backend, rank=rank, world_size=world)
    device = torch.device("cuda", rank) if opts.device == "cuda" else torch.device("cpu")
    if rank == 0:
        print("# aiserver.gpu PyTorch all_reduce benchmark (torch %s, backend %s%s): torch.distributed, "
              "NOT nccl-tests; table in the nccl-tests format" % (
                  torch.__version__, opts.backend,
                  ", NCCL %s" % ".".join(str(v) for v in torch.cuda.nccl.version()) if opts.backend == "nccl" else ""))
        print("# nThread 1 nGpus %d minBytes %d maxBytes %d step: %d(factor) warmup iters: %d iters: %d "
              "agg iters: 1 validation: 1 graph: 0" % (world, opts.min_bytes, opts.max_bytes, opts.factor,
                                                       opts.warmup, opts.iters))
        print("#")
        print("# Using devices")
    dist.barrier()
    for r in range(world):
        if r == rank:
            if opts.device == "cuda":
                props = torch.cuda.get_device_properties(rank)
                bus = "0x%02x" % getattr(props, "pci_bus_id", 0)
                name = props.name
            else:
                bus, name = "0x00", "CPU"
            print("#  Rank %2d Group  0 Pid %6d on %10s device %2d [%s] %s" % (
                rank, os.getpid(), socket.gethostname(), rank, bus, name), flush=True)
        dist.barrier()
    if rank == 0:
        print("#")
        print("#                                                              out-of-place                       "
              "in-place          ")
        print("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   "
              "algbw   busbw #wrong")
        print("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  "
              "(GB/s)  (GB/s)       ")
    expected = world * (world + 1) / 2.0
    nbytes, busbws, wrong_total = opts.min_bytes, [], 0
    while nbytes <= opts.max_bytes:
        count = max(1, nbytes // 4)
        cells = []
        for out_of_place in (True, False):
            buf = torch.full((count,), float(rank + 1), dtype=torch.float32, device=device)
            # in place, the buffer accumulates: time it on a fresh one each round and check one result
            seconds, work = _time_one(torch, dist, buf, out_of_place, opts.device, opts.warmup, opts.iters)
            check = torch.full((count,), float(rank + 1), dtype=torch.float32, device=device)
            dist.all_reduce(check)
            wrong = int((check != expected).sum().item())
            wrongs = torch.tensor([wrong], device=device)
            dist.all_reduce(wrongs)
            times = torch.tensor([seconds], device=device, dtype=torch.float64)
            dist.all_reduce(times, op=dist.ReduceOp.MAX)
            seconds = times.item()
            algbw = count * 4 / seconds / 1e9
            busbw = algbw * 2 * (world - 1) / world
            cells.append((seconds * 1e6, algbw, busbw, int(wrongs.item())))
            del work
        if rank == 0:
            line = "%12d  %12d     float     sum      -1" % (count * 4, count)
            for usec, algbw, busbw, wrong in cells:
                line += " %8.2f %7.2f %7.2f %6d" % (usec, algbw, busbw, wrong)
                busbws.append(busbw)
                wrong_total += wrong
            print(line, flush=True)
        nbytes *= opts.factor
    if rank == 0:
        print("# Out of bounds values : %d %s" % (wrong_total, "OK" if wrong_total == 0 else "FAILED"))
        print("# Avg bus bandwidth    : %g " % (sum(busbws) / len(busbws) if busbws else 0.0))
        print("#", flush=True)
    dist.destroy_process_group()


def main(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch all_reduce benchmark, nccl-tests table format")
    parser.add_argument("--min-bytes", type=size, default=8)
    parser.add_argument("--max-bytes", type=size, default=256 << 20)
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--backend", default="nccl", choices=["nccl", "gloo"])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--ranks", type=int, default=0, help="processes (default: every GPU; 2 on CPU)")
    opts = parser.parse_args(argv)
    if opts.factor < 2 or opts.min_bytes < 4 or opts.max_bytes < opts.min_bytes:
        parser.error("need --factor >= 2 and 4 <= --min-bytes <= --max-bytes")
    import torch
    import torch.multiprocessing as mp
    world = opts.ranks or (torch.cuda.device_count() if opts.device == "cuda" else 2)
    if world < 1:
        print("# aiserver.gpu PyTorch all_reduce benchmark: no CUDA device", file=sys.stderr)
        return 2
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(worker, args=(world, opts, port), nprocs=world, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
