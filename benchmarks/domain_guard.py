"""What fix ogn's training-domain guard costs: the same run with `domain off` and `domain warn`.

    python benchmarks/domain_guard.py [--systems si sio2 cuzr] [--atoms 10000] [--every 1]
        [--repeat 3] [--work DIR]

For each system, the shipped model (models/<sys>_fast.pt, which must record a training
domain) runs on one core from a short ground-truth state replicated to about --atoms atoms
(pair_style zero), once with `domain off` and once with `domain warn domain/every N`. The
runs alternate, --repeat times each (a slow minute on a shared machine hits both), and the
fastest of each is kept. It prints the time per inference of both and the guard's share of
the step, (warn - off) / off. The issue's target is at most 3% at 10 000 atoms.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fix_ogn import BIN, QUICK, REPO, deck, lammps, loop_time, replication, run  # noqa: E402  (benchmarks/fix_ogn.py)

from ogn_lammps.data import systems  # noqa: E402
from ogn_lammps.model import model_file  # noqa: E402


def start_state(system: str, work: Path) -> Path:
    """An equilibrated box of `system` from a short run of its ground-truth deck (reused)."""
    data = work / system / "gt" / "equilibrated.data"
    if not data.is_file():
        print(f"{system}: short ground truth -> {data.parent}", flush=True)
        cmd = [BIN / "lmp", "-in", REPO / "inputs" / f"{system}_ground_truth.in", "-log", "none", "-screen", "none",
               "-var", "out", data.parent, "-var", "inputs", REPO / "inputs"]
        for key, value in QUICK.items():
            cmd += ["-var", key, value]
        data.parent.mkdir(parents=True, exist_ok=True)
        run(cmd, work, f"{system} ground truth")
    return data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--systems", nargs="+", default=["si", "sio2", "cuzr"])
    p.add_argument("--atoms", type=int, default=10_000)
    p.add_argument("--every", type=int, default=1, help="domain/every N of the guarded run")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--work", type=Path, default=REPO / "build" / "bench_domain")
    args = p.parse_args(argv)
    rows = []
    for system in args.systems:
        model = REPO / "models" / f"{system}_fast.pt"
        _, meta = model_file.load(model)
        if "domain" not in meta:
            sys.exit(f"domain_guard: {model} records no training domain (python -m ogn_lammps.export --add-domain)")
        entry = systems.get(system)
        data = start_state(system, args.work)
        n0 = int(re.search(r"^\s*(\d+)\s+atoms", data.read_text(), re.M).group(1))
        rep = replication(n0, args.atoms)
        n = n0 * int(np.prod(rep))
        inferences = max(10, min(200, int(2e6 / n)))
        folder = args.work / system
        times = {"off": [], "warn": []}
        for _ in range(args.repeat):
            for mode in times:
                keyword = "domain off" if mode == "off" else f"domain warn domain/every {args.every}"
                out = lammps(deck(entry.units, entry.atom_style, data, rep, f"""pair_style zero {meta['cutoff']}
pair_coeff * *
timestep {meta['k'] * entry.dt}
fix ogn all ogn {model} {meta['k']} threads 1 {keyword}
thermo 0
run 2
run {inferences}"""), folder, 1, f"guard_{mode}")
                seconds, steps = loop_time(out)
                times[mode].append(seconds / steps)
                if mode == "warn" and "outside the training domain" in out:
                    print(f"{system}: note: the guarded run left the training domain (warnings count in its time)")
        off, warn = min(times["off"]), min(times["warn"])
        rows.append((system, n, off, warn))
        print(f"{system}: {n} atoms, {inferences} inferences: domain off {off * 1e3:.2f} ms, "
              f"domain warn (every {args.every}) {warn * 1e3:.2f} ms per inference: guard {100 * (warn / off - 1):+.1f}%",
              flush=True)
    print("\n| system | atoms | domain off, ms per inference | domain warn | guard's share |\n|---|---|---|---|---|")
    for system, n, off, warn in rows:
        print(f"| {system} | {n} | {off * 1e3:.2f} | {warn * 1e3:.2f} | {100 * (warn / off - 1):+.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
