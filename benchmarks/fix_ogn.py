"""fix ogn against LAMMPS velocity-Verlet and against the Python rollout, in one run.

For each system and size (N of about 265, 2 000 and 10 000, by replicating the system's
equilibrated box), it measures MD-equivalent atom-steps per second:

  velocity-Verlet  N x steps / time, with the system's real potential (`fix nve`)
  fix ogn          N x k / time per inference (`fix ogn`, pair_style zero)
  Python rollout   N x k / time per inference (`ogn_lammps.model.step.step`, same model)
  VV at m* x dt    with --validation DIR: velocity-Verlet at the model's equal-accuracy
                   timestep (DIR/<sys>/summary.json of `ogn_lammps.validate`, the largest m
                   whose RMSE at the judged horizon is no worse than the model's), the figure
                   a user's bigger timestep sets (fix/MD m*)

Each LAMMPS run is timed for --seconds of wall time (LAMMPS's `timer timeout`, after a
warm-up), so its length follows from its measured cost per step: an MLIP gets a few steps, a
pair potential thousands (ogn_lammps.judge.speed, which validate's speed line uses too).

and prints the ratios, with the fix's achieved GFLOP/s (the model's FLOPs from its metadata over
the model time the fix reports) against this CPU's matmul peak measured in the same run, the
model's FLOPs per pair of atoms, where the fix's time goes per inference (graph: pairs from the
neighbour list; model: the kernel or TorchScript; exchange: node rows between ranks, and the
part of it spent waiting for the slower rank), and the
fix's own memory per atom. A summary gives the cost per atom-step across sizes and the speed-up
of more ranks or threads. Both LAMMPS runs use the same cores: fix ogn on `--ranks` MPI ranks
with `--threads` kernel threads each, velocity-Verlet on ranks x threads MPI ranks.

    python benchmarks/fix_ogn.py [--systems lj sio2] [--sizes 265 2000 10000] [--ranks 1 2]
        [--threads 1 2] [--newton on off] [--balance off on] [--repeat 3]
        [--kernel auto|fused|torch] [--seconds S] [--models DIR] [--validation DIR] [--work DIR]

On a shared machine a run is only ever slowed down by the others: --repeat N measures every
point N times, one pass over all points after another (so that a slow minute hits each point
once, not one point N times), and keeps the fastest velocity-Verlet and fix ogn run of each.
--balance on re-balances on several ranks with LAMMPS's `balance` command after 5 inferences,
weighted by fix ogn's measured cost per atom (f_ID per atom): a core that runs slower gets fewer
atoms.

Without --models, each system gets a model of its configs/<sys>_fast.toml architecture
(configs/<sys>_ogn_fast.toml, the paper's Fast-OGN, where there is none) trained for 1 step on a short ground-truth run: its speed is that of a fully
trained model of the same shape. With --models DIR, DIR/<sys>/model.pt and
DIR/<sys>/equilibrated.data are used instead.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from training import matmul_peak  # noqa: E402  (benchmarks/training.py)

from ogn_lammps.data import systems  # noqa: E402
from ogn_lammps.environment import inputs_dir  # noqa: E402
from ogn_lammps.judge import speed  # noqa: E402
from ogn_lammps.judge.verlet_ladder import timed_rungs  # noqa: E402
from ogn_lammps.data.lammps_files import read_dump  # noqa: E402
from ogn_lammps.judge.rollout import load_model  # noqa: E402
from ogn_lammps.model.step import step  # noqa: E402

BIN = Path(sys.executable).parent
SYSTEMS = systems.names()
# a short ground truth, only to get an equilibrated box and a dataset to fit a model's shape to
QUICK = dict(ntrain=1, ntest=1, nsteps=40, neq=1000, npre=300, nconv=1, seed=2468)


def run(cmd: list, cwd: Path, what: str) -> str:
    # the children read the registry this process read (their cwd is the scratch folder)
    env = dict(os.environ, OMP_NUM_THREADS="1", OGN_LAMMPS_INPUTS=str(inputs_dir()))
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"fix_ogn benchmark: {what} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


def prepare(system: str, work: Path) -> tuple[Path, Path]:
    """(model.pt, equilibrated.data) for `system`, built with the project's own commands."""
    out = work / system
    model = out / "model.pt"
    if model.is_file():
        return model, out / "gt" / "equilibrated.data"
    print(f"{system}: short ground truth, dataset, 1 training step, export -> {out}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [BIN / "lmp", "-in", inputs_dir() / f"{system}_ground_truth.in", "-log", "none", "-screen", "none",
           "-var", "out", out / "gt", "-var", "inputs", inputs_dir()]
    for key, value in QUICK.items():
        cmd += ["-var", key, value]
    run(cmd, out.parent, f"{system} ground truth")
    python = [sys.executable, "-m"]
    run(python + ["ogn_lammps.dataset", out / "gt"], out, "dataset")
    config = training_config(system)
    run(python + ["ogn_lammps.train", "--config", config, "--data",
                  out / "gt" / "dataset.h5", "--out", out / "train", "--steps", 1, "--test-every", 1, "--quiet",
                  "--calibration-inferences", 0],
        out, "training")
    run(python + ["ogn_lammps.export", out / "train" / "checkpoint.pt", "-o", model], out, "export")
    return model, out / "gt" / "equilibrated.data"


def training_config(system: str) -> Path:
    """configs/<sys>_fast.toml beside the inputs/ folder the registry came from (a user's own
    project), else the repository's; the paper's Fast-OGN (<sys>_ogn_fast.toml) where there is none."""
    folders = list(dict.fromkeys([inputs_dir().parent / "configs", REPO / "configs"]))
    for name in (f"{system}_fast.toml", f"{system}_ogn_fast.toml"):
        for folder in folders:
            if (folder / name).is_file():
                return folder / name
    sys.exit(f"fix_ogn benchmark: no training config {system}_fast.toml or {system}_ogn_fast.toml in "
             + " or ".join(map(str, folders)))


def equal_accuracy_timestep(system: str, model: Path, validation: Path | None) -> int | None:
    """m* of `validation`/<sys>/summary.json (python -m ogn_lammps.validate, or results' work
    folder), which must have judged this very model; None without one."""
    if validation is None:
        print(f"{system}: no --validation: velocity-Verlet at the equal-accuracy timestep not run "
              "(fix/MD m* is nan)", file=sys.stderr)
        return None
    path = validation / system / "summary.json"
    if not path.is_file():
        sys.exit(f"fix_ogn benchmark: --validation {validation}: no {path} (python -m ogn_lammps.validate "
                 f"MODEL --data ... -o {validation / system})")
    summary = json.loads(path.read_text())
    judged = Path(summary["model"])
    if not judged.is_file() or judged.read_bytes() != Path(model).read_bytes():
        sys.exit(f"fix_ogn benchmark: {path} judged {summary['model']}, expected {model} (the same file); "
                 "validate this model, or leave out --validation")
    if not summary.get("equal_accuracy"):
        sys.exit(f"fix_ogn benchmark: {path} has no equal-accuracy timestep (validated with --no-ladder or "
                 "by an older version); validate again")
    m_star = int(summary["equal_accuracy"]["m_star"])
    print(f"{system}: equal-accuracy timestep m* = {m_star} ({path})", file=sys.stderr)
    return m_star


def replication(n0: int, target: int) -> tuple[int, int, int]:
    """Replicas (a, b, c), a >= b >= c, with a x b x c x n0 closest to target."""
    options = [(a, b, c) for a, b, c in itertools.product(range(1, 11), repeat=3) if a >= b >= c]
    return min(options, key=lambda r: (abs(np.prod(r) * n0 - target), r[0] - r[2]))


def deck(units: str, style: str, data: Path, rep: tuple, body: str) -> str:
    return f"""units {units}
atom_style {style}
read_data {data}
replicate {rep[0]} {rep[1]} {rep[2]}
{body}
"""


FIX_REPORT = (r"fix ogn: \d+ inferences, per inference \(slowest rank\): graph ([\d.]+) ms, model ([\d.]+) ms, "
              r"node exchange ([\d.]+) ms \(([\d.]+) ms of it waiting for the other ranks\); (\d+) edges on the "
              r"busiest rank; (\d+) bytes per atom")


# measured on a short run, then one re-balance: the cut moves by fix ogn's cost per atom on
# each rank (f_ID per atom), once; its time is not in the timed run
BALANCE = """variable ogn_cost atom f_ogn
run 5
balance 1.02 shift xyz 10 1.02 weight var ogn_cost
"""


def benchmark(system: str, model_path: Path, data: Path, target: int, ranks: int, threads: int, folder: Path,
              kernel: str, python_up_to: int, newton: str = "on", balance: str = "off",
              seconds: float = speed.SECONDS, m_star: int | None = None) -> dict:
    """One system and size: velocity-Verlet on ranks x threads MPI ranks, fix ogn on `ranks`
    ranks of `threads` threads each (the same cores), the Python rollout on one thread."""
    entry = systems.get(system)
    units, style, forcefield, dt = entry.units, entry.atom_style, entry.forcefield, entry.dt
    model, meta = load_model(model_path)
    k, cutoff = meta["k"], meta["cutoff"]
    n0 = int(re.search(r"^\s*(\d+)\s+atoms", data.read_text(), re.M).group(1))
    rep = replication(n0, target)
    n = n0 * int(np.prod(rep))
    folder.mkdir(parents=True, exist_ok=True)
    # each timed run lasts `seconds`, whatever a step costs (LAMMPS's timer timeout): a few
    # steps of an MLIP, thousands of a pair potential
    md = speed.timed_deck(deck(units, style, data, rep, f"""include {inputs_dir()}/forcefields/{forcefield}.in
timestep {dt}
fix nve all nve"""), 1, ranks * threads, seconds, warmup=10, folder=folder, every=10)
    md_rate = md.rate
    # velocity-Verlet at the equal-accuracy timestep m* x dt (from the model's validation), the
    # same atoms and cores: a run of its own, as neighbour-list rebuilds differ from dt's
    md_star_rate, m_timed = float("nan"), m_star
    # m* is judged at the model's horizon; where VV at m* x dt does not hold over the timed run
    # (SNAP silicon at 15 dt), the largest rung below it that holds (judge/validate.py does the same)
    for m in timed_rungs(m_star) if m_star else []:
        try:
            md_star_rate = speed.timed_deck(deck(units, style, data, rep, f"""include {inputs_dir()}/forcefields/{forcefield}.in
timestep {m * dt}
fix nve all nve"""), m, ranks * threads, seconds, warmup=10, folder=folder / f"m{m}", every=10).rate
            m_timed = m
            if m != m_star:
                print(f"{system}: velocity-Verlet at m* = {m_star} x dt did not hold over the timed run; "
                      f"timed at {m} x dt instead", file=sys.stderr)
            break
        except speed.SpeedError as err:
            print(f"{system}: velocity-Verlet at {m} x dt: {str(err).splitlines()[0][:200]}", file=sys.stderr)

    # the warm-up (2 inferences) includes the fused kernel's check against the TorchScript
    # forward() and TorchScript's profiling runs; the run after it is timed
    ogn = speed.timed_deck(deck(units, style, data, rep, f"""pair_style zero {cutoff}
pair_coeff * *
timestep {k * dt}
write_dump all custom start.dump id type xu yu zu vx vy vz modify sort id format float %.17g
fix ogn all ogn {model_path} {k} kernel {kernel} threads {threads} newton {newton}
{BALANCE if balance == "on" and ranks > 1 else ""}"""), k, ranks, seconds, warmup=2, folder=folder)
    fix_rate = ogn.rate
    inferences = ogn.steps
    graph_ms, model_ms, exchange_ms, wait_ms, edges, bytes_per_atom = (
        float(x) for x in re.findall(FIX_REPORT, ogn.output)[-1])

    python_rate = float("nan")
    if ranks == 1 and threads == 1 and n <= python_up_to:
        frame = next(read_dump(folder / "start.dump"))
        lengths = frame.box[:, 1] - frame.box[:, 0]
        types = torch.as_tensor(frame.types, dtype=torch.int64)
        x, v = frame.positions.copy(), frame.velocities.copy()
        python_times = []
        for i in range(min(inferences, 5) + 1):
            t0 = time.perf_counter()
            change = step(model, types, x, v, lengths, cutoff)
            if i:    # the first call includes TorchScript's profiling runs
                python_times.append(time.perf_counter() - t0)
            x, v = x + change[:, :3], v + change[:, 3:]
        python_rate = n * k / float(np.median(python_times))

    # the model's FLOPs per atom on its training graph (metadata), scaled to the busiest rank's edges;
    # a pair is an unordered pair of atoms (two edges of the graph)
    per_pair = meta["flops_per_atom"] / (meta["edges_per_atom"] / 2)
    flops = per_pair * edges / 2
    return dict(system=system, n=n, k=k, ranks=ranks, threads=threads, newton=newton if ranks > 1 else "-",
                balance=balance if ranks > 1 else "-",
                cores=ranks * threads, edges_per_atom=edges / (n / ranks), md=md_rate, fix=fix_rate,
                m_star=m_timed or 0, md_star=md_star_rate,  # (the m it ran: m*, or below where m* did not hold)
                python=python_rate, gflops=flops / (model_ms / 1e3) / 1e9, flops_per_pair=per_pair,
                graph_ms=graph_ms, model_ms=model_ms, exchange_ms=exchange_ms, wait_ms=wait_ms,
                bytes_per_atom=bytes_per_atom,
                us_per_atom_step=1e6 / fix_rate * ranks * threads)


def layout_name(r: dict) -> str:
    """How fix ogn ran: ranks, threads, and on several ranks its newton and balance settings."""
    extra = f", newton {r['newton']}" if r["newton"] != "-" else ""
    extra += ", balanced" if r["balance"] == "on" else ""
    return f"{r['ranks']} rank(s) x {r['threads']} thread(s){extra}"


def fastest(runs: list) -> dict:
    """The fastest of repeated measurements of one point: velocity-Verlet and fix ogn each at
    their best run (the fix's timings and GFLOP/s from that run), the Python rollout from the
    run that timed it."""
    best = dict(max(runs, key=lambda r: r["fix"]))
    best["md"] = max(r["md"] for r in runs)
    best["md_star"] = max(r["md_star"] for r in runs)
    timed = [r["python"] for r in runs if not np.isnan(r["python"])]
    best["python"] = max(timed) if timed else float("nan")
    return best


def print_summary(rows: list) -> None:
    """Cost per atom across sizes (flat is the goal) and the speed-up of more ranks or threads."""
    print("\ncost per atom and MD step of fix ogn (core-microseconds: wall time x cores / atom-steps)")
    for system in dict.fromkeys(r["system"] for r in rows):
        for layout in dict.fromkeys(layout_name(r) for r in rows if r["system"] == system):
            mine = [r for r in rows if r["system"] == system and layout_name(r) == layout]
            costs = [r["us_per_atom_step"] for r in mine]
            sizes = ", ".join(f"{r['n']}: {r['us_per_atom_step']:.3g}" for r in mine)
            print(f"  {system:<9} {layout}: {sizes}; largest/smallest {max(costs) / min(costs):.2f}")
    single = {(r["system"], r["n"]): r for r in rows if r["cores"] == 1}
    more = [r for r in rows if r["cores"] > 1 and (r["system"], r["n"]) in single]
    if more:
        print("speed-up over 1 core (same atoms): fix ogn, and velocity-Verlet on as many ranks as cores")
        for r in more:
            one = single[(r["system"], r["n"])]
            print(f"  {r['system']:<9} N {r['n']:>6}: {layout_name(r)} "
                  f"{r['fix'] / one['fix']:.2f}x (velocity-Verlet on {r['cores']} ranks {r['md'] / one['md']:.2f}x)")


def print_row(r: dict, peak: float) -> None:
    print(f"{r['system']:<9} {r['n']:>6} {r['k']:>3} {r['ranks']:>5} {r['threads']:>4} {r['newton']:>5} "
          f"{r['balance']:>4} {r['edges_per_atom']:>10.1f} | "
          f"{r['md']:>15.3g} {r['fix']:>10.3g} {r['python']:>10.3g} | {r['fix'] / r['md']:>7.3f} "
          f"{r['m_star'] or '-':>3} {r['fix'] / r['md_star']:>9.3f} "
          f"{r['fix'] / r['python']:>10.2f} | {r['gflops']:>7.1f} {r['gflops'] / peak:>6.2f} | "
          f"{r['flops_per_pair']:>9.0f} | {r['graph_ms']:>8.2f} {r['model_ms']:>8.2f} "
          f"{r['exchange_ms']:>8.2f} {r['wait_ms']:>7.2f} | {r['bytes_per_atom']:>10.0f}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    p.add_argument("--sizes", nargs="+", type=int, default=[265, 2000, 10000])
    p.add_argument("--ranks", nargs="+", type=int, default=[1],
                   help="MPI rank counts of fix ogn (default 1; e.g. 1 2)")
    p.add_argument("--threads", nargs="+", type=int, default=[1],
                   help="fused-kernel threads per rank (default 1; e.g. 1 2); velocity-Verlet runs on "
                        "ranks x threads MPI ranks, the same cores")
    p.add_argument("--newton", nargs="+", choices=["on", "off"], default=["on"],
                   help="fix ogn's newton keyword on several ranks (default on; e.g. on off): a pair with "
                        "another rank's atom computed once and its share sent back, or by both ranks")
    p.add_argument("--balance", nargs="+", choices=["off", "on"], default=["off"],
                   help="on several ranks, re-balance once by fix ogn's measured cost per atom (LAMMPS's "
                        "balance command, weight var on f_ID) before the timed run (default off; e.g. off on)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measure every point this many times, in passes over all points, and keep the "
                        "fastest (default 1)")
    p.add_argument("--kernel", choices=["auto", "fused", "torch"], default="auto",
                   help="fix ogn's kernel keyword (default auto: fused for the structured OGN on a CPU)")
    p.add_argument("--seconds", type=float, default=speed.SECONDS,
                   help=f"wall time of each timed LAMMPS run (default {speed.SECONDS:g}); its step count follows "
                        "from the measured cost per step")
    p.add_argument("--python-up-to", type=int, default=20000,
                   help="time the Python rollout only up to this many atoms (default 20000)")
    p.add_argument("--models", type=Path, help="folder with <sys>/model.pt and <sys>/equilibrated.data")
    p.add_argument("--validation", type=Path,
                   help="folder with <sys>/summary.json, validate's output for the same model (e.g. results/): "
                        "its equal-accuracy timestep m* sets a velocity-Verlet run at m* x dt")
    p.add_argument("--work", type=Path, default=Path("/tmp/ogn_benchmark"), help="scratch folder")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat must be at least 1, got {args.repeat}")
    torch.set_num_threads(1)

    peak = matmul_peak()
    print(f"matmul peak on 1 thread: {peak['edge']:.1f} GFLOP/s for (8192x64)@(64x64), "
          f"{peak['square']:.1f} for 1024^3", flush=True)
    header = (f"{'system':<9} {'N':>6} {'k':>3} {'ranks':>5} {'thr.':>4} {'newt.':>5} {'bal.':>4} "
              f"{'edges/atom':>10} | {'MD atom-steps/s':>15} "
              f"{'fix ogn':>10} {'Python':>10} | {'fix/MD':>7} {'m*':>3} {'fix/MD m*':>9} {'fix/Python':>10} | {'GFLOP/s':>7} {'/peak':>6} | "
              f"{'FLOP/pair':>9} | {'graph ms':>8} {'model ms':>8} {'exch. ms':>8} {'wait ms':>7} | {'bytes/atom':>10}")
    points, stars = [], {}
    for system in args.systems:
        if args.models:
            model, data = args.models / system / "model.pt", args.models / system / "equilibrated.data"
        else:
            model, data = prepare(system, args.work)
        stars[system] = equal_accuracy_timestep(system, model, args.validation)
        for size in args.sizes:
            for ranks, threads, newton, balance in itertools.product(args.ranks, args.threads, args.newton,
                                                                     args.balance):
                if ranks == 1 and (newton, balance) != (args.newton[0], args.balance[0]):
                    continue    # one rank has no other rank's atoms
                points.append((system, model, data, size, ranks, threads, newton, balance))
    runs = {point: [] for point in points}
    for attempt in range(args.repeat):
        if args.repeat > 1:
            print(f"pass {attempt + 1} of {args.repeat} over {len(points)} point(s)", file=sys.stderr, flush=True)
        for point in points:
            system, model, data, size, ranks, threads, newton, balance = point
            folder = args.work / system / f"n{size}_r{ranks}_t{threads}_newton{newton}_balance{balance}"
            # the Python rollout is timed in the first pass only
            runs[point].append(benchmark(system, model, data, size, ranks, threads, folder, args.kernel,
                                         args.python_up_to if attempt == 0 else 0, newton, balance, args.seconds,
                                         stars[system]))
            if args.repeat == 1:
                if point == points[0]:
                    print(header)
                print_row(runs[point][0], peak["edge"])
    rows = [fastest(runs[point]) for point in points]
    if args.repeat > 1:
        print(f"fastest of {args.repeat} runs of each point")
        print(header)
        for r in rows:
            print_row(r, peak["edge"])
    print_summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
