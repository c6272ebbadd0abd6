"""The fix ogn GPU checks, run by scripts/gpu_check.sh (docs/fix_ogn.md, "On a GPU").

    python scripts/gpu_check.py checks --lmp LMP --mpiexec MPIEXEC --states DIR --work DIR
        --out DIR --device cuda|cpu [--sizes 3 6 14] [--vv-ranks 16] [--train-steps 200]
    python scripts/gpu_check.py train-reference --states DIR --work DIR   (prints JSON)

`checks` runs, each in its own LAMMPS process so that one failure is reported and the rest go on:

  agree      fix ogn on --device against device cpu from the same held-out LJ and silica
             states: largest position and velocity difference after 1 and 20 inferences
  momentum   the total momentum of the --device run over its 20 inferences
  energy     `energy yes` on --device: the total energy over 20 inferences
  ranks      two MPI ranks sharing the one device against one rank
  speed      silica replicated n x n x n (--sizes): fix ogn on --device (pair_style zero)
             against velocity-Verlet with the real potential on --vv-ranks CPU ranks, as
             MD-equivalent atom-steps per second
  train      gradient steps of configs/sio2_fast.toml on --device, the time per step against
             this machine's (states/reference.json, written when the carry was packed)

It writes OUT/gpu_check.json and OUT/gpu_check.md (the tables of docs/fix_ogn.md) and prints
the tables. The exit status is 1 when a check fails, so that the device tool's rc says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from ogn_lammps.data import systems
from ogn_lammps.data.lammps_files import read_data_header, read_dump, read_thermo
from ogn_lammps.environment import LammpsRun

REPO = Path(__file__).resolve().parents[1]
INPUTS = REPO / "inputs"
SYSTEMS = ("lj", "sio2")
INFERENCES = 20
# float32 rounding of a coordinate of a 10-30 box length is 1e-6 to 2e-6; after 20
# inferences of chaotic dynamics the two runs may have drifted a few hundred ulp apart
AGREE = {"1": 1e-4, "20": 1e-3}  # largest difference / RMS change per inference
MOMENTUM = 1e-5  # largest |P(t) - P(0)| / sum_i m_i |v_i|
ENERGY = 1e-4  # largest |E(t) - E(0)| / |E(0)| with energy yes
LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps with (\d+) atoms")


def deck(system: str, data: Path, *, integrator: str, device: str = "cpu", rep: int = 1, pair: str = "real",
         energy: str = "no", runs: tuple[int, ...] = (INFERENCES,), dump: Path | None = None) -> str:
    """A LAMMPS input for `system` from `data`: fix ogn (one timestep = k MD steps) or fix nve."""
    entry = systems.get(system)
    model = REPO / "models" / f"{system}_fast.pt"
    lines = [f"include {INPUTS}/systems/{system}.in", "units ${units}", "atom_style ${atom_style}",
             f"read_data {data}"]
    if rep > 1:
        lines.append(f"replicate {rep} {rep} {rep}")
    if pair == "real":
        lines.append(f"include {INPUTS}/forcefields/{entry.forcefield}.in")
    else:  # fix ogn builds its graph from this neighbour list; no force is computed
        lines += [f"pair_style zero {entry.cutoff}", "pair_coeff * *"]
    if integrator == "ogn":
        lines += ["timestep $(v_k*v_dt)",
                  f"fix ogn all ogn {model} ${{k}} device {device} energy {energy}"]
    else:
        lines += ["timestep ${dt}", "fix nve all nve"]
    lines += ["thermo_style custom step temp pe etotal", "thermo_modify format float %.12g", "thermo 1"]
    if dump:
        lines += [f"dump d all custom 1 {dump} id type xu yu zu vx vy vz",
                  "dump_modify d sort id format float %.12g"]
    lines += [f"run {n}" for n in runs]
    return "\n".join(lines) + "\n"


class Lammps:
    def __init__(self, lmp: str, mpiexec: str, work: Path):
        self.lmp, self.mpiexec, self.work = lmp, mpiexec, work
        work.mkdir(parents=True, exist_ok=True)

    def run(self, name: str, text: str, ranks: int = 1, timeout: int = 240) -> str:
        """Runs the deck; its output, or RuntimeError with the ERROR line (or the tail)."""
        path = self.work / f"in.{name}"
        path.write_text(text)
        cmd = [self.lmp, "-in", str(path), "-log", str(self.work / f"log.{name}"), "-nocite"]
        if ranks > 1:
            cmd = [self.mpiexec, "-np", str(ranks)] + cmd
        # not environment.run_lmp: this lmp is the carried one, and a run on the device needs a
        # time limit; its ERROR line is read the project's one way (LammpsRun.error)
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=self.work, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{name}: no result within {timeout} s") from None
        done = LammpsRun(cmd, proc.returncode, "", proc.stdout, proc.stderr, time.perf_counter() - start)
        (self.work / f"out.{name}").write_text(proc.stdout + proc.stderr)
        if done.error:
            raise RuntimeError(f"{name}: {done.error}")
        return proc.stdout + proc.stderr


def frames(path: Path) -> list:
    return list(read_dump(path))


def agree_and_momentum(lammps: Lammps, states: Path, device: str) -> tuple[list, list, dict]:
    agree, momentum, finals = [], [], {}
    for system in SYSTEMS:
        data = states / system / "equilibrated.data"
        runs = {}
        for dev in dict.fromkeys([device, "cpu"]):
            dump = lammps.work / f"{system}_{dev}.dump"
            lammps.run(f"{system}_{dev}", deck(system, data, integrator="ogn", device=dev, dump=dump))
            runs[dev] = frames(dump)
        row = dict(system=system, atoms=len(runs[device][0].ids))
        step = np.sqrt(np.mean((runs["cpu"][1].positions - runs["cpu"][0].positions) ** 2))
        vscale = np.sqrt(np.mean((runs["cpu"][1].velocities - runs["cpu"][0].velocities) ** 2))
        finals[system] = (runs[device][-1], step, vscale)
        for n in (1, INFERENCES):
            a, b = runs[device][n], runs["cpu"][n]
            row[f"dx_{n}"] = float(np.abs(a.positions - b.positions).max() / step)
            row[f"dv_{n}"] = float(np.abs(a.velocities - b.velocities).max() / vscale)
        row["ok"] = all(row[f"d{q}_{n}"] <= AGREE[str(n)] for q in "xv" for n in (1, INFERENCES))
        agree.append(row)

        masses = read_data_header(data).masses
        p, scale = [], 0.0
        for frame in runs[device]:
            m = masses[frame.types - 1][:, None]
            p.append((m * frame.velocities).sum(axis=0))
            scale = max(scale, float(np.abs(m * frame.velocities).sum()))
        drift = float(np.abs(np.array(p) - p[0]).max() / scale)
        momentum.append(dict(system=system, drift=drift, ok=drift <= MOMENTUM))
    return agree, momentum, finals


def energy(lammps: Lammps, states: Path, device: str) -> list:
    rows = []
    for system in SYSTEMS:
        out = lammps.run(f"{system}_energy", deck(system, states / system / "equilibrated.data", integrator="ogn",
                                                  device=device, energy="yes"))
        e = read_thermo(out)["etotal"]
        free = lammps.run(f"{system}_noenergy", deck(system, states / system / "equilibrated.data",
                                                     integrator="ogn", device=device))
        e_free = read_thermo(free)["etotal"]
        drift = float(np.abs(e - e[0]).max() / abs(e[0]))
        rows.append(dict(system=system, drift=drift, drift_without=float(np.abs(e_free - e_free[0]).max() / abs(e[0])),
                         ok=drift <= ENERGY))
    return rows


def two_ranks(lammps: Lammps, states: Path, device: str, finals: dict) -> list:
    rows = []
    for system in SYSTEMS:
        dump = lammps.work / f"{system}_{device}_2ranks.dump"
        lammps.run(f"{system}_2ranks", deck(system, states / system / "equilibrated.data", integrator="ogn",
                                            device=device, dump=dump), ranks=2)
        last = frames(dump)[-1]
        one, step, vscale = finals[system]
        # the same measure and tolerance as against the CPU, after 20 inferences
        dx = float(np.abs(last.positions - one.positions).max() / step)
        dv = float(np.abs(last.velocities - one.velocities).max() / vscale)
        rows.append(dict(system=system, dx=dx, dv=dv, ok=dx <= AGREE["20"] and dv <= AGREE["20"]))
    return rows


def speed(lammps: Lammps, states: Path, device: str, sizes: list[int], vv_ranks: int) -> list:
    data = states / "sio2" / "equilibrated.data"
    k = systems.get("sio2").k
    rows = []
    for rep in sizes:
        row = dict(rep=rep)
        try:
            n0 = int(re.search(r"^\s*(\d+)\s+atoms", data.read_text(), re.M).group(1))
            n = n0 * rep ** 3
            row["atoms"] = n
            # about 10 s of each at rough rates, never fewer than 5 timed steps
            inferences = max(5, min(200, int(2e7 / n)))
            md_steps = max(5, min(500, int(5e6 * vv_ranks / n)))
            t0 = time.perf_counter()
            out = lammps.run(f"speed_ogn_{rep}", deck("sio2", data, integrator="ogn", device=device, rep=rep,
                                                      pair="zero", runs=(2, inferences)), timeout=300)
            seconds, steps, _ = LOOP.findall(out)[-1]
            row["ogn"] = n * k * int(steps) / float(seconds)
            row["ogn_wall_s"] = time.perf_counter() - t0
            out = lammps.run(f"speed_vv_{rep}", deck("sio2", data, integrator="verlet", rep=rep, runs=(2, md_steps)),
                             ranks=vv_ranks, timeout=300)
            seconds, steps, _ = LOOP.findall(out)[-1]
            row["vv"] = n * int(steps) / float(seconds)
            row["ratio"] = row["ogn"] / row["vv"]
            row["ok"] = True
        except Exception as error:  # a size that does not fit is a result, not the end of the checks
            row.update(ok=False, error=str(error))
        rows.append(row)
    return rows


def train_steps(work: Path, states: Path, device: str, steps: int) -> float:
    """Seconds per gradient step of configs/sio2_fast.toml (batch of [train] batch_size)."""
    out = work / f"train_{device}"
    subprocess.run([sys.executable, "-m", "ogn_lammps.train", "--config", str(REPO / "configs" / "sio2_fast.toml"),
                    "--data", str(states / "sio2" / "dataset.h5"), "--out", str(out), "--steps", str(steps),
                    "--test-every", str(10 * steps), "--device", device, "--calibration-inferences", "0",
                    "--quiet"], check=True, cwd=REPO, capture_output=True, text=True)
    with open(out / "log.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["wall_s"]]
    if len(rows) < 2:
        raise RuntimeError(f"{out / 'log.csv'}: {len(rows)} rows; run more than [train] log_every steps")
    # from the first logged row on: torch's warm-up and the dataset's loading are before it
    first, last = rows[0], rows[-1]
    return (float(last["wall_s"]) - float(first["wall_s"])) / (int(last["step"]) - int(first["step"]))


def table(rows: list, columns: list[str]) -> str:
    def cell(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def run_checks(args) -> int:
    lammps = Lammps(args.lmp, args.mpiexec, Path(args.work))
    states = Path(args.states)
    report: dict = {"device": args.device}
    try:
        import torch
        report["torch"] = torch.__version__
        report["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except Exception as error:
        report["torch"] = f"not importable: {error}"

    def attempt(name, fn, *a):
        t0 = time.perf_counter()
        try:
            report[name] = fn(*a)
        except Exception as error:
            report[name] = {"error": f"{type(error).__name__}: {error}"}
            traceback.print_exc()
        print(f"gpu_check: {name} done in {time.perf_counter() - t0:.0f} s", flush=True)

    attempt("agree", agree_and_momentum, lammps, states, args.device)
    if isinstance(report["agree"], tuple):
        report["agree"], report["momentum"], finals = report["agree"]
        attempt("ranks", two_ranks, lammps, states, args.device, finals)
    attempt("energy", energy, lammps, states, args.device)
    attempt("speed", speed, lammps, states, args.device, args.sizes, args.vv_ranks)
    if args.train_steps:
        def train():
            here = train_steps(Path(args.work), states, args.device, args.train_steps)
            reference = json.loads((states / "reference.json").read_text())
            return [dict(device=args.device, s_per_step=here, reference_s_per_step=reference["s_per_step"],
                         speedup=reference["s_per_step"] / here, ok=True)]
        attempt("train", train)

    sections = {"agree": ["system", "atoms", "dx_1", "dv_1", "dx_20", "dv_20", "ok"],
                "momentum": ["system", "drift", "ok"], "energy": ["system", "drift", "drift_without", "ok"],
                "ranks": ["system", "dx", "dv", "ok"],
                "speed": ["rep", "atoms", "ogn", "vv", "ratio", "ogn_wall_s", "ok", "error"],
                "train": ["device", "s_per_step", "reference_s_per_step", "speedup", "ok"]}
    text = [f"device {args.device}, torch {report.get('torch')}, GPU {report.get('gpu')}"]
    failed = []
    for name, columns in sections.items():
        value = report.get(name)
        if value is None:
            continue
        if isinstance(value, dict):
            text.append(f"\n{name}: FAILED: {value['error']}")
            failed.append(name)
            continue
        text.append(f"\n{name}\n\n" + table(value, columns))
        if not all(r.get("ok") for r in value):
            failed.append(name)
    text.append("\nall checks passed" if not failed else f"\nfailed: {', '.join(failed)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=float))
    (out / "gpu_check.md").write_text("\n".join(text) + "\n")
    print("\n".join(text), flush=True)
    return 1 if failed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("checks")
    c.add_argument("--lmp", required=True)
    c.add_argument("--mpiexec", required=True)
    c.add_argument("--states", required=True)
    c.add_argument("--work", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--device", choices=["cuda", "cpu"], required=True)
    c.add_argument("--sizes", type=int, nargs="+", default=[3, 6, 14], help="silica replicated n x n x n")
    c.add_argument("--vv-ranks", type=int, default=os.cpu_count())
    c.add_argument("--train-steps", type=int, default=200)
    r = sub.add_parser("train-reference")
    r.add_argument("--states", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--steps", type=int, default=20)
    args = p.parse_args(argv)
    if args.command == "train-reference":
        print(json.dumps({"s_per_step": train_steps(Path(args.work), Path(args.states), "cpu", args.steps),
                          "machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}))
        return 0
    return run_checks(args)


if __name__ == "__main__":
    sys.exit(main())
