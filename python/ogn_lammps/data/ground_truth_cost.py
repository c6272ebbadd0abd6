"""What a system's ground-truth deck will cost, measured before it is run in full.

    python -m ogn_lammps.systems plan si                      # the deck at its defaults
    python -m ogn_lammps.systems plan si --minutes 30 --ranks 2 --var nsteps 2000

An expensive potential (an MLIP at 100-300 us per atom-step) makes the default ground truth
take hours. The planner runs the deck once, for one trajectory, with every run length
(`npre`, `neq`, `nwin`, `nquench`, `nglass`, `nsteps`) divided by the same whole number f,
so that it takes about a second. Every `run` of the decks is a sum of those lengths (the
convergence windows are `nconv` x `nwin`), so a full trajectory takes f times the probe's
loop time. It prints the cost at the given settings (wall minutes, core-minutes, atom-steps,
microseconds per atom-step) and, with --minutes, the `-var` settings that fit that budget.
"""

from __future__ import annotations

import math
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..environment import inputs_dir, loop_times, run_lmp
from .systems import get

# The run lengths of the ground-truth decks and their lib/ includes, in MD steps. The probe
# divides all of them by one factor; `nconv` (a count of windows) is left alone.
STEP_VARIABLES = ("npre", "nsw", "neq", "nwin", "nquench", "nglass", "nsteps")
# the probe aims at this much loop time: long enough for the timer, short for an MLIP
PROBE_SECONDS = 1.0


class PlanError(RuntimeError):
    pass


def deck_path(system: str) -> Path:
    return inputs_dir() / f"{system}_ground_truth.in"


def deck_defaults(deck: Path) -> dict[str, str]:
    """The deck's own `variable NAME index VALUE` defaults (what `-var NAME` overrides)."""
    values = {}
    for raw in deck.read_text().splitlines():
        if not raw.startswith("variable"):
            continue  # multi-line strings (system.json) are not settings
        words = shlex.split(raw.split("#", 1)[0])
        # a default that names another variable (`temperature index ${T}`) is derived, not a
        # setting: passed back as -var it would read the literal text
        if len(words) == 4 and words[0] == "variable" and words[2] == "index" and "$" not in words[3]:
            values[words[1]] = words[3]
    return values


@dataclass
class Probe:
    scale: int  # every run length divided by this
    wall: float  # seconds of the whole lmp process
    loops: list[tuple[float, int, int]]  # (seconds, steps, atoms) of every run, in order

    @property
    def loop_seconds(self) -> float:
        return sum(s for s, _, _ in self.loops)

    @property
    def atom_steps(self) -> int:
        return sum(n * a for _, n, a in self.loops)


def run_probe(system: str, settings: dict[str, str], scale: int, ranks: int) -> Probe:
    """One trajectory of the deck with every run length divided by `scale`, in a scratch folder."""
    deck = deck_path(system)
    variables = dict(settings, ntrain=0, ntest=1)
    for name in STEP_VARIABLES:
        if name in settings:
            variables[name] = int(settings[name]) // scale
    with tempfile.TemporaryDirectory(prefix=f"ogn_plan_{system}_") as scratch:
        variables |= {"inputs": inputs_dir(), "out": Path(scratch) / "gt"}
        args = ["-in", deck, "-nocite", "-log", "none"]
        for name, value in variables.items():
            args += ["-var", name, value]
        run = run_lmp(args, ranks, cwd=scratch)
    if run.error:
        raise PlanError(f"the probe of {deck} (run lengths / {scale}) failed: {run.error}")
    loops = loop_times(run.stdout)
    if not loops:
        raise PlanError(f"the probe of {deck} printed no 'Loop time' line: is its screen output off?")
    return Probe(scale, run.seconds, loops)


def divisors(n: int) -> list[int]:
    return sorted(d for d in range(1, n + 1) if n % d == 0)


@dataclass
class Plan:
    system: str
    settings: dict[str, str]
    ranks: int
    probe: Probe
    trajectories: int

    @property
    def trajectory_seconds(self) -> float:
        """Loop time of one full trajectory (equilibration and recording)."""
        return self.probe.scale * self.probe.loop_seconds

    @property
    def recording_seconds(self) -> float:
        """Of which the NVE recording (`run ${nsteps}`, the trajectory's last run)."""
        return self.probe.scale * self.probe.loops[-1][0]

    @property
    def overhead_seconds(self) -> float:
        """Start-up and set-up outside the runs, once per deck."""
        return max(0.0, self.probe.wall - self.probe.loop_seconds)

    @property
    def seconds(self) -> float:
        return self.overhead_seconds + self.trajectories * self.trajectory_seconds

    @property
    def atom_steps(self) -> int:
        return self.trajectories * self.probe.scale * self.probe.atom_steps

    @property
    def us_per_atom_step(self) -> float:
        """Core-microseconds per atom-step over the probe's runs."""
        return 1e6 * self.probe.loop_seconds * self.ranks / self.probe.atom_steps

    def fit(self, minutes: float) -> dict[str, int] | None:
        """The most training trajectories (with the settings' test ones) inside `minutes` of
        wall time, as -var settings; None when not even one training trajectory fits."""
        ntest = int(self.settings["ntest"])
        most = math.floor((60 * minutes - self.overhead_seconds) / self.trajectory_seconds) - ntest
        return {"ntrain": most, "ntest": ntest} if most >= 1 else None


def plan(system: str, overrides: dict[str, str] | None = None, ranks: int = 1) -> Plan:
    """Measure the deck of `system` at its defaults with `overrides` (-var NAME VALUE)."""
    get(system)  # an unknown system is named with the registered ones
    deck = deck_path(system)
    if not deck.is_file():
        raise PlanError(f"system {system!r} has no ground-truth deck {deck}")
    settings = deck_defaults(deck) | {k: str(v) for k, v in (overrides or {}).items()}
    for name in ("ntrain", "ntest"):
        if name not in settings:
            raise PlanError(f"{deck}: no 'variable {name} index N' line; the planner needs the deck's trajectory counts")
    lengths = [int(settings[n]) for n in STEP_VARIABLES if n in settings]
    if not lengths or min(lengths) < 1:
        raise PlanError(f"{deck}: run lengths {dict((n, settings[n]) for n in STEP_VARIABLES if n in settings)}; "
                        "expected whole numbers of MD steps >= 1")
    common = math.gcd(*lengths)
    # first a probe of about 100 MD steps per trajectory, then one as long as PROBE_SECONDS needs
    steps = sum(lengths)  # an estimate only: nwin counts nconv times
    scale = max(d for d in divisors(common) if steps / d >= 100 or d == 1)
    probe = run_probe(system, settings, scale, ranks)
    if probe.loop_seconds < PROBE_SECONDS and scale > 1:
        wanted = scale * probe.loop_seconds / (2 * PROBE_SECONDS)
        scale = max([d for d in divisors(common) if d <= wanted] or [1])
        probe = run_probe(system, settings, scale, ranks)
    return Plan(system, settings, ranks, probe, int(settings["ntrain"]) + int(settings["ntest"]))


def report(p: Plan, minutes: float | None = None) -> str:
    varied = {n: p.settings[n] for n in ("ntrain", "ntest", "rep", *STEP_VARIABLES) if n in p.settings}
    lines = [
        f"{p.system}: {deck_path(p.system)} on {p.ranks} rank(s), at " + " ".join(f"{k}={v}" for k, v in varied.items()),
        f"  measured: one trajectory with every run length / {p.probe.scale}, {p.probe.atom_steps} atom-steps in "
        f"{p.probe.loop_seconds:.3g} s: {p.us_per_atom_step:.3g} core-us per atom-step",
        f"  per trajectory: {p.trajectory_seconds / 60:.3g} min ({p.recording_seconds / 60:.3g} of it the NVE recording)",
        f"  the deck: {p.trajectories} trajectories, {p.atom_steps:.3g} atom-steps, {p.seconds / 60:.3g} min wall, "
        f"{p.seconds * p.ranks / 60:.3g} core-min",
    ]
    if minutes is not None:
        fitted = p.fit(minutes)
        command = f"lmp -in inputs/{p.system}_ground_truth.in"
        if fitted is None:
            lines.append(f"  in {minutes:g} min: not even 1 training trajectory beside {p.settings['ntest']} test one(s); "
                         "lower -var ntest, -var nsteps or the equilibration (-var neq, checking that T converges), "
                         "or run on more ranks (--ranks)")
        elif fitted["ntrain"] >= int(p.settings["ntrain"]):
            lines.append(f"  in {minutes:g} min: these settings fit ({p.seconds / 60:.3g} min)")
        else:
            others = " ".join(f"-var {k} {v}" for k, v in p.settings.items()
                              if k in varied and k not in ("ntrain", "ntest") and k in (overrides_of(p)))
            lines.append(f"  in {minutes:g} min: -var ntrain {fitted['ntrain']} -var ntest {fitted['ntest']}, about "
                         f"{(p.overhead_seconds + (fitted['ntrain'] + fitted['ntest']) * p.trajectory_seconds) / 60:.3g} "
                         f"min: {(command + ' ' + others).strip()} -var ntrain {fitted['ntrain']} "
                         f"-var ntest {fitted['ntest']}" + (f" (under mpirun -np {p.ranks})" if p.ranks > 1 else ""))
    return "\n".join(lines)


def overrides_of(p: Plan) -> set[str]:
    """The settings that differ from the deck's defaults (the ones a command must repeat)."""
    defaults = deck_defaults(deck_path(p.system))
    return {k for k, v in p.settings.items() if defaults.get(k) != v}
