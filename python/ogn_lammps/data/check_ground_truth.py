"""Quality table of ground-truth deck outputs: size, density, temperature, drift, momentum.

    python -m ogn_lammps.check_ground_truth data/lj data/sio2 ...

Reads what the deck wrote (system.json, <traj>.data, the NVE log of every trajectory) and
prints one row per system; `--per-trajectory` adds one row per trajectory. The energy
drift is the slope of a straight-line fit to the total energy per atom, per 1000 MD steps.
Exit status 1 when a row is outside the bounds of the design notes (temperature within 5%
of the target; drift below 2e-3 eps or 2e-4 eV per atom per 1000 steps).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .dataset import find_dumps
from .lammps_files import read_data_header, read_dump, read_thermo_blocks

AVOGADRO = 6.02214076e23
DRIFT_BOUND = {"lj": 2e-3, "metal": 2e-4}


def _thermo(path: Path) -> dict:
    """The last thermo table of a trajectory's log (its NVE run)."""
    blocks = read_thermo_blocks(path.read_text())
    if not blocks:
        raise ValueError(f"{path}: no thermo output")
    return blocks[-1]


def check(folder: Path) -> dict:
    system = json.loads((folder / "system.json").read_text())
    dumps = [entry for split in ("train", "test") for entry in find_dumps(folder)[split]]
    names = [name for name, _ in dumps]
    if not names:
        raise ValueError(f"{folder}: no trajectories")
    header = read_data_header(folder / f"{names[0]}.data")
    volume = float(np.prod(header.box[:, 1] - header.box[:, 0]))
    rows = []
    for name in names:
        run = _thermo(folder / f"{name}.log")
        steps = run["step"]
        energy = run["etotal"] / header.n_atoms
        momentum = np.abs(np.array([run["px"], run["py"], run["pz"]])).max()
        rows.append(
            dict(
                name=name,
                T=float(np.mean(run["temp"])),
                drift=float(np.polyfit(steps, energy, 1)[0] * 1000),
                momentum=float(momentum),
                steps=int(steps[-1]),
            )
        )
    grams = None
    if system["units"] == "metal":
        types = next(read_dump(dumps[0][1])).types
        grams = float(header.masses[types - 1].sum()) / AVOGADRO
    return dict(
        system=system["system"],
        units=system["units"],
        target_T=float(system["temperature"]),
        n_atoms=header.n_atoms,
        number_density=header.n_atoms / volume,
        mass_density=grams / (volume * 1e-24) if grams is not None else None,
        trajectories=rows,
    )


def format_report(results: list[dict], per_trajectory: bool = False) -> tuple[str, bool]:
    ok = True
    head = f"{'system':<9} {'N':>5} {'N/volume':>9} {'g/cm3':>7} {'traj':>4} {'T target':>9} {'T mean':>9} {'T range':>17} {'drift worst':>11} {'drift mean':>10} {'max|P|':>9}  ok"
    out = [head]
    for r in results:
        temps = [t["T"] for t in r["trajectories"]]
        drifts = [t["drift"] for t in r["trajectories"]]
        bound = DRIFT_BOUND["lj" if r["units"] == "lj" else "metal"]
        within = all(abs(t / r["target_T"] - 1) < 0.05 for t in temps) and all(abs(d) < bound for d in drifts)
        ok &= within
        grams = f"{r['mass_density']:.4f}" if r["mass_density"] else "-"
        worst = max(drifts, key=abs)
        out.append(
            f"{r['system']:<9} {r['n_atoms']:>5} {r['number_density']:>9.5f} {grams:>7} {len(temps):>4} {r['target_T']:>9g} {np.mean(temps):>9.4g} "
            f"{min(temps):>8.4g}-{max(temps):<8.4g} {worst:>11.2e} {np.mean(drifts):>10.2e} {max(t['momentum'] for t in r['trajectories']):>9.1e}  {'yes' if within else 'NO'}"
        )
        if per_trajectory:
            for t in r["trajectories"]:
                out.append(f"    {t['name']:<10} steps {t['steps']:>6}  T {t['T']:9.4g}  drift {t['drift']:10.2e}")
    out.append("N/volume: atoms per sigma^3 (lj) or per A^3 (metal)")
    out.append("drift: slope of E_total per atom, eps (lj) or eV (metal) per 1000 MD steps; largest |.| and mean over trajectories")
    return "\n".join(out), ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ogn_lammps.check_ground_truth", description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="ground-truth deck output folders, e.g. data/lj")
    parser.add_argument("--per-trajectory", action="store_true", help="one row per trajectory as well")
    args = parser.parse_args(argv)
    results = []
    for folder in args.folders:
        try:
            results.append(check(folder))
        except (OSError, ValueError, KeyError) as err:
            print(f"ogn_lammps.check_ground_truth: error: {folder}: {err}", file=sys.stderr)
            return 2
    text, ok = format_report(results, args.per_trajectory)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
