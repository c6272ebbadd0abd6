"""The ablation table of docs/ablation.md: models judged through fix ogn on held-out states.

    python benchmarks/ablation.py --data data/lj_heldout/dataset.h5 --work runs/ablation_eval \\
        NAME=runs/ablation/impulse_s3/model.pt NAME2=... [--no-drag NAME ...]

For every model (NAME=PATH) it runs `python -m ogn_lammps.validate` (one start per held-out
test trajectory, 100 MD steps, and one 2000-MD-step NVE run) and reads from its outputs:
the position and velocity RMSE at 25 and 100 MD steps, the mean temperature of the long run
against the reference, the test loss and FLOPs per pair from the model's metadata, and the
microseconds per atom per MD step of fix ogn (pair_style zero, no output) from the same
start. LAMMPS velocity-Verlet with the real potential runs on the same atoms, in the same
script, on the same core, as the baseline. `--no-drag NAME` adds a row for NAME's model with the calibrated drag set to 0
(same weights): the effect of the temperature-bias correction alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from ogn_lammps.model import model_file
from ogn_lammps.environment import forcefield_file

BIN = Path(sys.executable).parent


def without_drag(model: Path, out: Path) -> Path:
    """A copy of `model` with the drag buffer set to 0 and the calibration marked as removed."""
    module, meta = model_file.load(model)
    with torch.no_grad():
        module.drag.fill_(0.0)
    meta = dict(meta, calibration=dict(meta.get("calibration", {}), drag=0.0, note="drag removed for the ablation"))
    model_file.save(module, meta, out)
    return out


def loop_time(log: str) -> tuple[float, int, int]:
    seconds, steps, atoms = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps with (\d+) atoms", log)[-1]
    return float(seconds), int(steps), int(atoms)


def microseconds(data: Path, meta: dict, work: Path, model: Path | None = None, steps: int = 2000) -> float:
    """Microseconds per atom per MD step on one core: LAMMPS NVE with the system's real
    potential (model None), or fix ogn with pair_style zero; no dump, no thermo output."""
    if model is None:
        body = f"include {forcefield_file(meta['system'])}\ntimestep {meta['dt']}\nfix nve all nve"
        warm, n = 100, steps
    else:
        body = (f"pair_style zero {meta['cutoff']}\npair_coeff * *\ntimestep {meta['timestep']}\n"
                f"fix ogn all ogn {model} {meta['k']}")
        warm, n = 5, max(10, steps // meta["k"] // 10)
    deck = work / "in.speed"
    deck.write_text(f"units {meta['units']}\natom_style atomic\nread_data {Path(data).resolve()}\n{body}\nthermo 0\nrun {warm}\nrun {n}\n")
    proc = subprocess.run([str(BIN / "lmp"), "-in", str(deck.resolve()), "-log", "none", "-nocite"], cwd=work,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ablation: speed run failed:\n{proc.stdout[-2000:]}")
    seconds, n, atoms = loop_time(proc.stdout)
    return seconds / (n * atoms * (1 if model is None else meta["k"])) * 1e6


def evaluate(name: str, model: Path, data: Path, work: Path) -> dict:
    out = work / name
    cmd = [sys.executable, "-m", "ogn_lammps.validate", str(model), "--data", str(data), "-o", str(out),
           "--starts", "1", "--horizon", "100", "--long", "2000", "--quiet"]
    # a finished validation in the work folder is reused: an interrupted table resumes there
    if not (out / "summary.json").is_file():
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"ablation: validate {name} failed:\n{proc.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    _, meta = model_file.load(model)
    row = dict(name=name, architecture=meta["architecture"], test_loss=meta.get("test_loss"),
               minutes=meta.get("trained_minutes"),
               flops_per_pair=meta["flops_per_atom"] / meta["edges_per_atom"],
               rmse25=summary["rmse"]["25"], rmse100=summary["rmse"]["100"], long=summary["long"][0])
    row["start_data"] = next((out / "runs").glob("*_long")) / "start.data"
    row["us_per_atom_md_step"] = microseconds(row["start_data"], meta, out, model.resolve())
    row["meta"] = meta
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="NAME=path/to/model.pt")
    p.add_argument("--data", type=Path, required=True, help="held-out dataset file")
    p.add_argument("--work", type=Path, default=Path("runs/ablation_eval"))
    p.add_argument("--no-drag", action="append", default=[], metavar="NAME",
                   help="also run NAME's model with the drag set to 0 (repeatable)")
    args = p.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    models = dict(item.rsplit("=", 1) for item in args.models)
    for name in args.no_drag:
        safe = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
        models[f"{name}, drag 0"] = str(without_drag(Path(models[name]), args.work / f"{safe}_nodrag.pt"))
    rows = []
    for name, path in models.items():
        print(f"ablation: {name} ...", file=sys.stderr, flush=True)
        rows.append(evaluate(re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_"), Path(path), args.data, args.work))
        rows[-1]["name"] = name
    vv = microseconds(rows[0]["start_data"], rows[0]["meta"], args.work)
    print("| model | arch | minutes | test loss | pos / vel RMSE, 25 MD steps | pos / vel RMSE, 100 MD steps "
          "| 2000-step T (ref) | FLOPs/pair | us/atom/MD step (lj/cut VV) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lg = r["long"]
        temp = "stopped" if lg["stopped"] else f"{lg['temperature_mean']:.3f} ({lg['temperature_reference']:.3f})"
        us = r.get("us_per_atom_md_step", float("nan"))
        print(f"| {r['name']} | {r['architecture']} | {r['minutes']} | {r['test_loss']:.3g} | "
              f"{r['rmse25']['pos']:.4f} / {r['rmse25']['vel']:.3f} | {r['rmse100']['pos']:.4f} / {r['rmse100']['vel']:.3f} | "
              f"{temp} | {r['flops_per_pair'] / 1e3:.1f} k | {us:.1f} ({vv:.2f}) |")
    base = rows[0]["rmse25"]
    print(f"\nbaselines: static {base['pos_static']:.4f} / {base['vel_static']:.3f} at 25 MD steps, "
          f"{rows[0]['rmse100']['pos_static']:.4f} / {rows[0]['rmse100']['vel_static']:.3f} at 100; free flight "
          f"{base['pos_free']:.4f} / {base['vel_free']:.3f} at 25, {rows[0]['rmse100']['pos_free']:.4f} / "
          f"{rows[0]['rmse100']['vel_free']:.3f} at 100")
    return 0


if __name__ == "__main__":
    sys.exit(main())
