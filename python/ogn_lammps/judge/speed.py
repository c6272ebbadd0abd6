"""MD-equivalent atom-steps per second of fix ogn and of velocity-Verlet, as a user would run them.

Each measurement is one `lmp` process: the state, a short warm-up run (TorchScript's profiling
runs, the fused kernel's check, neighbour lists), then a timed run that LAMMPS itself stops
after `seconds` of wall time (`timer timeout`). So every run is sized by its own measured cost
per step: a few steps of an MLIP, thousands of a pair potential. The rate comes from the
timed run's "Loop time" line. fix ogn runs with `pair_style zero` at the model's cutoff: a
production run never evaluates the true potential, and evaluating it for thermo every
inference would cap the speed-up at k.

Used by `ogn_lammps.validate` and `benchmarks/fix_ogn.py`, so both print the same figure.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..environment import inputs_dir, loop_times, run_lmp

# long enough for the timer and the start of a run, short beside a validation
SECONDS = 2.0


class SpeedError(RuntimeError):
    pass


@dataclass
class Timed:
    seconds: float  # loop time of the timed run
    steps: int  # LAMMPS timesteps it ran
    atoms: int
    md_per_step: int  # MD steps per LAMMPS timestep: k for fix ogn, the multiple m for VV at m x dt
    output: str  # the screen output, for other reports (fix ogn's own timings)

    @property
    def rate(self) -> float:
        """MD-equivalent atom-steps per second."""
        return self.atoms * self.steps * self.md_per_step / self.seconds


def timed_deck(setup: str, md_per_step: int, ranks: int = 1, seconds: float = SECONDS, warmup: int = 2,
               folder: Path | None = None, every: int = 1, max_steps: int | None = None) -> Timed:
    """Run `setup` (a deck up to and including its fixes), `warmup` steps, then steps until
    `seconds` have passed (checked every `every` steps) or `max_steps` were run; the timed run's rate."""
    text = (f"{setup}\nthermo 0\nrun {warmup}\ntimer timeout {seconds:g} every {every}\n"
            f"run {max_steps or 1000000000}\n")
    with tempfile.TemporaryDirectory(prefix="ogn_speed_") as scratch:
        # the run's cwd is `where`: every path in `setup` is absolute
        where = Path(folder).resolve() if folder else Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        (where / "in.speed").write_text(text)
        run = run_lmp(["-in", where / "in.speed", "-nocite", "-log", "none"], ranks, cwd=where)
    if run.error:
        raise SpeedError(f"timed run failed: {run.error}")
    loops = loop_times(run.stdout)
    if len(loops) < 2:
        raise SpeedError(f"timed run printed {len(loops)} 'Loop time' line(s), expected 2:\n{run.stdout[-1500:]}")
    loop, steps, atoms = loops[-1]
    if steps == 0 or loop <= 0:
        raise SpeedError(f"timed run ran {steps} steps in {loop} s")
    if atoms < loops[0][2]:  # (a timestep past the integrator's limit: the atoms fly apart)
        raise SpeedError(f"timed run lost atoms: {loops[0][2]} at the start of the timed run, {atoms} at its end")
    return Timed(loop, steps, atoms, md_per_step, run.stdout + run.stderr)


def state(units: str, atom_style: str, data: Path, replicate: tuple[int, int, int] = (1, 1, 1)) -> str:
    rep = "" if tuple(replicate) == (1, 1, 1) else f"replicate {replicate[0]} {replicate[1]} {replicate[2]}\n"
    return f"units {units}\natom_style {atom_style}\nread_data {Path(data).resolve()}\n{rep}"


def verlet(entry, data: Path, multiple: int = 1, ranks: int = 1, seconds: float = SECONDS,
           replicate=(1, 1, 1), folder: Path | None = None) -> Timed:
    """LAMMPS velocity-Verlet (`fix nve`) with the system's true potential at `multiple` x dt."""
    setup = (state(entry.units, entry.atom_style, data, replicate)
             + f"include {inputs_dir() / 'forcefields' / (entry.forcefield + '.in')}\n"
             + f"timestep {multiple * entry.dt!r}\nfix nve all nve\n")
    return timed_deck(setup, multiple, ranks, seconds, warmup=10, folder=folder, every=10)


def fix_ogn(model: Path, meta: dict, entry, data: Path, ranks: int = 1, seconds: float = SECONDS,
            replicate=(1, 1, 1), folder: Path | None = None, options: str = "", before: str = "",
            max_inferences: int | None = None) -> Timed:
    """fix ogn with `pair_style zero` at the model's cutoff; `options` go on the fix line,
    `before` between the warm-up and the timed run (a re-balance); at most `max_inferences`
    timed (a model known to hold only that long from this state)."""
    k = int(meta["k"])
    setup = (state(entry.units, entry.atom_style, data, replicate)
             + f"pair_style zero {meta['cutoff']}\npair_coeff * *\ntimestep {k * entry.dt!r}\n"
             + f"fix ogn all ogn {Path(model).resolve()} {k} {options}\n")
    if before:
        setup += f"thermo 0\nrun 2\n{before}\n"
    return timed_deck(setup, k, ranks, seconds, warmup=2, folder=folder, max_steps=max_inferences)
