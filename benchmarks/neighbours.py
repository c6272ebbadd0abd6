"""Neighbour search for training graphs: vesin against scipy cKDTree and matscipy.

Prints the time per configuration of each library on frames of a dataset file (or a
random box when none is given), with the ratio against the fastest, and checks that all
three find the same ordered pairs.

    python benchmarks/neighbours.py [data/lj/dataset.h5] [--repeat 20]
"""
import argparse
import time

import numpy as np


def by_vesin(pos, box, rc):
    from vesin import NeighborList
    i, j, d = NeighborList(cutoff=rc, full_list=True).compute(
        points=pos, box=np.diag(box), periodic=True, quantities="ijD")
    return i, j, d


def by_ckdtree(pos, box, rc):
    from scipy.spatial import cKDTree
    wrapped = np.mod(pos, box)
    pairs = cKDTree(wrapped, boxsize=box).query_pairs(rc, output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = wrapped[j] - wrapped[i]
    d -= box * np.round(d / box)
    return i, j, d


def by_matscipy(pos, box, rc):
    from matscipy.neighbours import neighbour_list
    i, j, d = neighbour_list("ijD", positions=pos, cutoff=rc, cell=np.diag(box),
                             pbc=[True] * 3)
    return i, j, d


def canonical(i, j, d):
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", nargs="?")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--replicate", type=int, default=1,
                   help="replicate the frame n x n x n times (larger systems)")
    args = p.parse_args()
    if args.dataset:
        from ogn_lammps.data.dataset import Dataset
        ds = Dataset(args.dataset)
        name = ds.trajectories("train")[0]
        pos = ds.frame("train", name, 0)[0]
        box = ds.box[:, 1] - ds.box[:, 0]
        rc = float(ds.info["cutoff"])
        label = f"{ds.system}"
    else:
        rng = np.random.default_rng(0)
        box = np.full(3, 6.038)
        pos = rng.uniform(0, 6.038, (265, 3))
        rc, label = 3.0, "random 265"
    n = args.replicate
    if n > 1:
        shifts = np.array([(a, b, c) for a in range(n) for b in range(n) for c in range(n)])
        pos = (pos[None] + (shifts * box)[:, None]).reshape(-1, 3)
        box = box * n
    print(f"{label}: N = {len(pos)}, cutoff {rc}, box {box[0]:.3f}")
    results, reference = {}, None
    for name, fn in [("vesin", by_vesin), ("cKDTree", by_ckdtree), ("matscipy", by_matscipy)]:
        out = canonical(*fn(pos, box, rc))
        if reference is None:
            reference = out
        else:
            same = (len(out[0]) == len(reference[0]) and np.array_equal(out[0], reference[0])
                    and np.array_equal(out[1], reference[1])
                    and np.allclose(out[2], reference[2], atol=1e-9))
            if not same:
                raise SystemExit(f"{name} disagrees with vesin: {len(out[0])} against "
                                 f"{len(reference[0])} edges")
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            fn(pos, box, rc)
        results[name] = (time.perf_counter() - t0) / args.repeat
    best = min(results.values())
    print(f"{len(reference[0])} ordered pairs ({len(reference[0]) / len(pos):.1f} per atom)")
    for name, t in results.items():
        print(f"  {name:9s} {t * 1e3:8.3f} ms per configuration   {t / best:5.2f} x fastest")


if __name__ == "__main__":
    main()
