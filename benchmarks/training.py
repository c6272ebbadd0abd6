"""Training throughput and forward GFLOP/s of the OGN, against this machine's matmul peak.

    python benchmarks/training.py --data data/lj/dataset.h5                 # Fast-OGN and reference
    python benchmarks/training.py --data data/lj/dataset.h5 --layers 2 --threads 2
    python benchmarks/training.py                                            # random LJ-like box

For each number of layers it times real training steps (graph, statistics, forward,
backward, Adam: one configuration each, as in ogn_lammps.train) and no-grad forward passes
of the scripted model. The baseline, measured in the same run on the same threads, is a
(8192 x 64) @ (64 x 64) float32 matmul, the shape that dominates the edge MLPs, and a
1024^3 matmul. Absolute times on a shared machine mean little; the ratios are the result.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ogn_lammps.model.ogn import OGN, ModelConfig, forward_flops
from ogn_lammps.train.objectives import OGNObjective


def best_time(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def matmul_peak() -> dict:
    a, b = torch.randn(8192, 64), torch.randn(64, 64)
    c = torch.randn(1024, 1024)
    t_edge = best_time(lambda: a @ b, 50)
    t_big = best_time(lambda: c @ c, 10)
    return {"edge": 2 * 8192 * 64 * 64 / t_edge / 1e9, "square": 2 * 1024**3 / t_big / 1e9}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="dataset file (default: a random 265-atom box at LJ density 1.2)")
    p.add_argument("--layers", type=int, nargs="+", default=[2, 10])
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    if args.data:
        from ogn_lammps.data.dataset import Dataset
        from ogn_lammps.train.pairs import Pairs

        with Dataset(args.data) as ds:
            pairs = Pairs(ds, "train", args.k, float(ds.info["cutoff"]), cache_mb=0)
            n_types, label = len(ds.type_names), f"{ds.system} (N = {len(ds.types)})"
    else:
        pairs, n_types, label = None, 2, "random LJ-like box (N = 265)"
    rng = np.random.default_rng(0)

    def sample(i):
        if pairs is not None:
            return pairs.sample(int(rng.integers(len(pairs))), int(rng.integers(48)))
        from ogn_lammps.model.graph import build_graph
        from ogn_lammps.train.pairs import Sample

        x = rng.uniform(0, 6.038, (265, 3))
        ei, ev = build_graph(x, np.full(3, 6.038), 3.0)
        types = torch.as_tensor(np.where(np.arange(265) < 212, 1, 2))
        return Sample(types, torch.as_tensor(rng.normal(size=(265, 3))), torch.as_tensor(ei), torch.as_tensor(ev),
                      torch.as_tensor(rng.normal(size=(265, 6))))

    peak = matmul_peak()
    print(f"{label}, {args.threads} thread(s)")
    print(f"matmul peak: {peak['edge']:.1f} GFLOP/s (8192x64 @ 64x64), {peak['square']:.1f} GFLOP/s (1024^3)")
    print(f"{'L':>3} {'edges/atom':>10} {'MFLOP/atom':>10} {'train conf/s':>12} {'fwd ms':>8} {'fwd GFLOP/s':>11} "
          f"{'/ edge peak':>11} {'/ 1024^3':>9}")
    for layers in args.layers:
        torch.manual_seed(0)
        config = ModelConfig(n_types=n_types, n_layers=layers)
        model = OGN(config)
        objective = OGNObjective()
        opt = torch.optim.Adam(model.parameters(), 1e-4)
        batches = [sample(i) for i in range(args.steps + 2)]
        counter = iter(range(10**9))

        def train_step():
            s = batches[next(counter) % len(batches)]
            objective.observe(model, s)
            loss = objective.loss(model, s)
            opt.zero_grad()
            loss.backward()
            opt.step()

        t_train = best_time(train_step, args.steps)
        scripted = torch.jit.script(model.eval())
        s = batches[0]
        with torch.no_grad():
            t_fwd = best_time(lambda: scripted(s.types, s.velocities, s.edge_index, s.edge_vectors), 10)
        n, e = len(s.types), s.edge_index.shape[1]
        flops = forward_flops(config, n, e)
        gflops = flops / t_fwd / 1e9
        print(f"{layers:3d} {e / n:10.1f} {flops / n / 1e6:10.2f} {1 / t_train:12.2f} {t_fwd * 1e3:8.1f} {gflops:11.1f} "
              f"{gflops / peak['edge']:11.2f} {gflops / peak['square']:9.2f}")


if __name__ == "__main__":
    main()
