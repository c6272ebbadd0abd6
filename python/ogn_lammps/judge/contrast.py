"""Velocity-Verlet at dt against velocity-Verlet at k x dt, from the same state.

The paper's Fig. 4B (orange curve): the learned simulator advances k MD steps per call,
while plain MD at a k times longer timestep loses energy conservation or atoms. For each
system this runs LAMMPS NVE from the deck's `equilibrated.data` over the same physical time
at both timesteps, then prints a table and saves a plot.

    python -m ogn_lammps.contrast                       # every system found under data/
    python -m ogn_lammps.contrast --systems lj sio2 --md-steps 1000 -o contrast.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import systems as system_registry
from ..atomic import save_figure
from ..environment import forcefield_file, start_lammps

SYSTEMS = system_registry.names()


@dataclass
class Run:
    """Total energy per atom and atom count every k MD steps of physical time."""

    system: str
    label: str  # "dt" or "k x dt"
    timestep: float
    steps: int  # integrator steps taken (or attempted)
    time: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)  # total energy per atom
    atoms: list[int] = field(default_factory=list)
    failure: str | None = None
    seconds: float = math.nan

    @property
    def drift(self) -> float:
        """Total energy change per atom over the run (NaN once the run failed)."""
        return self.energy[-1] - self.energy[0] if self.failure is None else math.nan

    @property
    def max_deviation(self) -> float:
        e = np.asarray(self.energy)
        return float(np.max(np.abs(e - e[0]))) if len(e) else math.nan

    @property
    def lost(self) -> int:
        return self.atoms[0] - self.atoms[-1] if self.atoms else 0


def nve_setup(data_file: Path, system: dict, timestep: float) -> list[str]:
    """LAMMPS commands for NVE with the system's force field from a data file (run_nve, and
    validate's velocity-Verlet baseline at k x dt)."""
    return [
        f"units {system['units']}",
        f"atom_style {system.get('atom_style', 'atomic')}",
        "atom_modify map array",
        f"read_data {data_file}",
        f"include {forcefield_file(system.get('forcefield', system['system']))}",
        f"timestep {timestep}",
        "fix integrate all nve",
    ]


def run_nve(data_file: Path, system: dict, multiple: int, md_steps: int) -> Run:
    """NVE from a data file at `multiple` x dt for md_steps MD steps of time; `seconds` is the
    wall time of the integration (with a thermo sample every k MD steps)."""
    dt = float(system["dt"])
    k = int(system["k"])
    timestep = multiple * dt
    steps = md_steps // multiple
    sample = max(k // multiple, 1)  # sample both runs at the same physical times
    label = "dt" if multiple == 1 else f"{multiple} x dt"
    run = Run(system=system["system"], label=label, timestep=timestep, steps=steps)
    lmp = start_lammps()
    try:
        lmp.commands_list(nve_setup(data_file, system, timestep) + [
            "thermo_style custom step etotal atoms",
            "thermo_modify lost ignore norm yes",
            "run 0",
        ])
        clock = time.perf_counter()
        for step in range(0, steps + 1, sample):
            if step:
                lmp.command(f"run {sample} pre no post no")
            energy = lmp.get_thermo("etotal")
            natoms = lmp.get_natoms()
            run.time.append(step * timestep)
            run.atoms.append(natoms)
            run.energy.append(energy)
            if not math.isfinite(energy):
                run.failure = f"non-finite energy by step {step}"
                break
            if natoms < run.atoms[0]:
                # Energy per atom means nothing once atoms are gone: stop here.
                run.failure = f"{run.atoms[0] - natoms} atoms lost by step {step}"
                break
        run.seconds = time.perf_counter() - clock
    except Exception as err:  # LAMMPS stops on a blown-up state ("Out of range atoms", ...)
        run.failure = str(err).strip().splitlines()[0][:100]
    finally:
        lmp.close()
    return run


def contrast(data_root: Path, systems: list[str], md_steps: int) -> list[tuple[Run, Run]]:
    pairs = []
    for name in systems:
        folder = data_root / name
        meta_path = folder / "system.json"
        if not (folder / "equilibrated.data").is_file() or not meta_path.is_file():
            raise FileNotFoundError(
                f"{folder}: needs equilibrated.data and system.json; run lmp -in inputs/{name}_ground_truth.in first"
            )
        system = json.loads(meta_path.read_text())
        print(f"contrast: {name}: NVE for {md_steps} MD steps at dt and at {system['k']} x dt ...", file=sys.stderr, flush=True)
        start = folder / "equilibrated.data"
        pairs.append((run_nve(start, system, 1, md_steps), run_nve(start, system, int(system["k"]), md_steps)))
    return pairs


def format_table(pairs: list[tuple[Run, Run]]) -> str:
    rows = [
        f"{'system':<9} {'run':<9} {'timestep':>9} {'steps':>6} {'dE/atom':>11} {'max|dE|/atom':>13} {'lost':>5}  status",
    ]
    for pair in pairs:
        for run in pair:
            status = run.failure or "ok"
            rows.append(
                f"{run.system:<9} {run.label:<9} {run.timestep:>9.4g} {run.steps:>6d} {run.drift:>11.3e} "
                f"{run.max_deviation:>13.3e} {run.lost:>5d}  {status}"
            )
    rows.append("dE/atom: total-energy change per atom over the run, in eps (lj) or eV (metal).")
    return "\n".join(rows)


def plot(pairs: list[tuple[Run, Run]], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import SymmetricalLogLocator

    fig, axes = plt.subplots(1, len(pairs), figsize=(max(3.8 * len(pairs), 6.0), 3.6), squeeze=False)
    for ax, (ref, long) in zip(axes[0], pairs):
        for run, style in ((ref, "-"), (long, "o-")):
            e = np.asarray(run.energy)
            text = f"{run.label} ({run.timestep:g})"
            if run.lost:
                text += f", {run.lost} lost"
            if run.failure and not run.lost:
                text += ", failed"
            ax.plot(run.time, e - e[0], style, ms=3, label=text)
        ax.set_title(ref.system)
        ax.set_xlabel("time (LJ tau)" if ref.system.startswith("lj") else "time (ps)")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.yaxis.set_major_locator(SymmetricalLogLocator(linthresh=1e-4, base=100))
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("E(t) - E(0) per atom")
    fig.suptitle("Velocity-Verlet at dt and at k x dt from the same state (paper Fig. 4B)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ogn_lammps.contrast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default="data", type=Path, help="folder holding <sys>/ deck outputs (default: data)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, help="systems to run (default: every one found)")
    parser.add_argument("--md-steps", type=int, default=1000, help="physical time to cover, in MD steps of dt (default: 1000)")
    parser.add_argument("-o", "--output", type=Path, default=Path("contrast.png"), help="plot file (default: contrast.png)")
    args = parser.parse_args(argv)
    systems = args.systems or [s for s in SYSTEMS if (args.data_root / s / "equilibrated.data").is_file()]
    if not systems:
        print(f"ogn_lammps.contrast: error: no <sys>/equilibrated.data under {args.data_root}; run a ground-truth deck first", file=sys.stderr)
        return 2
    try:
        pairs = contrast(args.data_root, systems, args.md_steps)
    except FileNotFoundError as err:
        print(f"ogn_lammps.contrast: error: {err}", file=sys.stderr)
        return 2
    print(format_table(pairs))
    plot(pairs, args.output)
    print(f"saved {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
