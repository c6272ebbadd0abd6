"""The system registry: one `inputs/systems/<name>.in` per system, read here and by the decks.

Each entry is a LAMMPS include of plain `variable NAME STYLE VALUE` lines (units, atom style,
force field, type names, masses, T, dt, k, the paper OGN's graph cutoff and the cage length).
The ground-truth deck and `inputs/ogn.in` include it, so LAMMPS and Python read the same
numbers; `tests/test_systems.py` checks that every ground-truth deck's system.json agrees.
Adding a system means one entry here, one force field and one ground-truth deck
(docs/systems.md).

    python -m ogn_lammps.systems            # the table of every registered system
    python -m ogn_lammps.systems plan si    # what si's ground-truth deck will cost (ground_truth_cost)
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sys

from ..environment import inputs_location
from . import units as unit_styles


# The paper's own accuracy targets where its text gives them (section 2.2: LJ, position and
# velocity RMSE at 100 MD steps, as the issues set them), in place of 0.1 x the cage length and
# 0.1 x sqrt(k_B T / m) (ESI S2).
PAPER_TARGETS = {"lj": (0.04, 0.4)}

REQUIRED = ("system", "title", "units", "atom_style", "forcefield", "type_names", "masses",
            "T", "dt", "k", "cutoff", "cage", "judge")


class RegistryError(ValueError):
    """A registry entry is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class System:
    name: str
    title: str
    units: str
    atom_style: str
    forcefield: str
    type_names: tuple[str, ...]
    masses: tuple[float, ...]
    temperature: float
    dt: float
    k: int
    cutoff: float  # graph cutoff of the paper's OGN
    cage_length: float  # 0: not given by the paper, measured from the data
    judge_steps: int  # MD steps at which accuracy is judged (paper Fig. 2C, 3C)
    source: str = ""  # the entry file it was read from

    @property
    def length_unit(self) -> str:
        return unit_styles.LENGTH_UNIT[self.units]

    @property
    def velocity_unit(self) -> str:
        return unit_styles.VELOCITY_UNIT[self.units]

    def velocity_scales(self) -> tuple[float, ...]:
        """sqrt(k_B T / m) per type: the paper's velocity scale (section 2.2)."""
        return tuple(unit_styles.thermal_velocity(self.units, self.temperature, m) for m in self.masses)

    def velocity_scale(self, counts=None) -> float:
        """sqrt(k_B T / m) over the atoms: per-type scales weighted by `counts` (else equally)."""
        scales = self.velocity_scales()
        counts = counts if counts is not None else [1] * len(scales)
        return math.sqrt(sum(c * s * s for c, s in zip(counts, scales)) / sum(counts))

    def accuracy_targets(self, cage: float, v_scale: float, temperature: float | None = None) -> tuple[float, float]:
        """Position and velocity RMSE targets at the judged steps: 0.1 x `cage` and 0.1 x
        `v_scale` (sqrt(k_B T / m) at `temperature`), or the paper's own numbers, whose velocity
        target scales as sqrt(T) away from the registry's T."""
        if self.name not in PAPER_TARGETS:
            return 0.1 * cage, 0.1 * v_scale
        pos, vel = PAPER_TARGETS[self.name]
        return pos, vel * math.sqrt((temperature or self.temperature) / self.temperature)

    def facts(self) -> dict:
        """The fields a ground-truth deck writes to system.json, for comparison."""
        return {"system": self.name, "units": self.units, "atom_style": self.atom_style,
                "forcefield": self.forcefield, "type_names": list(self.type_names),
                "temperature": self.temperature, "dt": self.dt, "k": self.k, "cutoff": self.cutoff}


def parse_entry(path: Path) -> dict[str, str]:
    """The `variable NAME STYLE VALUE` lines of a registry file, as strings."""
    values: dict[str, str] = {}
    for number, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = shlex.split(line)
        if len(words) != 4 or words[0] != "variable" or words[2] not in ("string", "equal", "index"):
            raise RegistryError(f"{path}:{number}: expected 'variable NAME string|equal|index VALUE', got {raw!r}")
        values[words[1]] = words[3]
    return values


def _system(path: Path) -> System:
    v = parse_entry(path)
    missing = [key for key in REQUIRED if key not in v]
    if missing:
        raise RegistryError(f"{path}: missing variables {missing}")
    name = path.stem
    if v["system"] != name:
        raise RegistryError(f"{path}: variable system is {v['system']!r}, expected the file name {name!r}")
    if v["units"] not in unit_styles.STYLES:
        raise RegistryError(f"{path}: units {v['units']!r} not supported, expected one of {sorted(unit_styles.STYLES)}")
    type_names = tuple(v["type_names"].split())
    masses = tuple(float(m) for m in v["masses"].split())
    if len(masses) != len(type_names):
        raise RegistryError(f"{path}: {len(masses)} masses for {len(type_names)} types {list(type_names)}")
    return System(name=name, title=v["title"], units=v["units"], atom_style=v["atom_style"],
                  forcefield=v["forcefield"], type_names=type_names, masses=masses,
                  temperature=float(v["T"]), dt=float(v["dt"]), k=int(v["k"]), cutoff=float(v["cutoff"]),
                  cage_length=float(v["cage"]), judge_steps=int(v["judge"]), source=str(path))


def registry(directory: str | None = None) -> dict[str, System]:
    """Every entry of `directory`, by default the `systems/` of the inputs folder the tools read
    (`environment.inputs_location`: ./inputs, $OGN_LAMMPS_INPUTS, the package's own). The first
    read of the default registry in a process says which folder it is, on stderr."""
    if directory:
        return _read(str(Path(directory).resolve()))
    root, why = inputs_location()
    folder = str(root / "systems")
    if folder not in _ANNOUNCED:
        _ANNOUNCED.add(folder)
        print(f"ogn_lammps: system registry {folder} ({why})", file=sys.stderr, flush=True)
    return _read(folder)


_ANNOUNCED: set[str] = set()


@lru_cache(maxsize=None)
def _read(folder: str) -> dict[str, System]:
    root = Path(folder)
    entries = sorted(root.glob("*.in"))
    if not entries:
        raise RegistryError(f"no system registry entries (*.in) in {root}")
    return {p.stem: _system(p) for p in entries}


def names() -> tuple[str, ...]:
    """Every registered system, in the paper's order where it has one."""
    order = ("lj", "lj_glass", "sio2", "si", "cuzr")
    known = registry()
    return tuple([n for n in order if n in known] + sorted(n for n in known if n not in order))


def get(name: str) -> System:
    known = registry()
    if name not in known:
        raise RegistryError(f"unknown system {name!r}; registered: {', '.join(names())}")
    return known[name]


def table() -> str:
    rows = [f"{'system':<9} {'units':<6} {'types':<8} {'T':>7} {'dt':>6} {'k':>3} {'r_c':>5} {'cage':>5}  "
            f"{'v scale per type':<22} entry"]
    for n in names():
        s = get(n)
        cage = f"{s.cage_length:5.2f}" if s.cage_length > 0 else " data"
        scales = " ".join(f"{x:.3g}" for x in s.velocity_scales()) + f" {s.velocity_unit}"
        rows.append(f"{n:<9} {s.units:<6} {' '.join(s.type_names):<8} {s.temperature:7g} {s.dt:6g} {s.k:3d} "
                    f"{s.cutoff:5g} {cage}  {scales:<22} {s.source}")
    return "\n".join(rows)


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m ogn_lammps.systems",
                                description="The system registry: the table of every entry (no command), "
                                            "or `plan SYS`: what its ground-truth deck will cost.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("list", help="the table of every registered system and the file it came from (the default)")
    plan = sub.add_parser("plan", help="time the ground-truth deck of SYS on one short trajectory and print its "
                                       "cost, and with --minutes the -var settings that fit")
    plan.add_argument("system")
    plan.add_argument("--var", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="a deck setting, as lmp's -var (e.g. --var ntrain 4 --var nsteps 2000)")
    plan.add_argument("--minutes", type=float, help="a wall-time budget: print the settings that fit it")
    plan.add_argument("--ranks", type=int, default=1, help="MPI ranks of the deck (default 1)")
    args = p.parse_args(argv)
    if args.command == "plan":
        from .ground_truth_cost import PlanError, plan as measure, report

        if args.ranks < 1 or (args.minutes is not None and args.minutes <= 0):
            p.error(f"--ranks must be >= 1 and --minutes > 0, got {args.ranks} and {args.minutes}")
        try:
            print(report(measure(args.system, dict(args.var), args.ranks), args.minutes))
        except (PlanError, RegistryError) as err:
            print(f"systems plan: error: {err}", file=sys.stderr)
            return 2
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
