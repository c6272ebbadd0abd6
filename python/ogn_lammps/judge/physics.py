"""Long-run physics of fix ogn against LAMMPS: thermostatted NVT, NVE with and without
`energy yes`, per-type temperatures (docs/physics.md).

    python -m ogn_lammps.physics                          # every system, into docs/physics.md
    python -m ogn_lammps.physics --systems lj --nvt-steps 2000 --doc /tmp/physics.md

For each system, from the held-out ground truth's equilibrated state
(`data/<sys>_heldout/equilibrated.data`, seeds the training never saw) and with
`models/<sys>_fast.pt`, the deck `inputs/long_run.in` runs:

- NVT at the system's temperature for `--nvt-steps` MD steps with `--thermostat`, with fix
  ogn and with LAMMPS velocity-Verlet under the same thermostat, each `--ogn-seeds` /
  `--md-seeds` times with different thermostat seeds (means are compared; the spread over
  seeds is the statistical noise of one run). Compared: the mean temperature against the
  target, the per-type temperatures against each other (equipartition), the radial
  distribution function (L1 difference relative to LAMMPS's) and the diffusion coefficient
  per type from the mean-square displacement over every time origin; and, from the same
  trajectories (judge/dynamics.py), the self intermediate scattering function F_s(q, t) at the
  first peak of LAMMPS's S(q) with its relaxation time tau_alpha (F_s = 1/e) per type, and the
  velocity autocorrelation with its vibrational density of states.
- NVE for `--nve-steps` MD steps with fix ogn, with fix ogn `energy yes`, and with
  velocity-Verlet at dt and at k x dt: temperature and total energy (true potential plus
  kinetic) against time.

A run of some systems (`--systems`) keeps what the report said of the others.

Runs are kept under `--work/<sys>/` and reused while newer than the model, the start state
and the deck (`--rerun` redoes them); velocity-Verlet's runs do not read the model, so a new
model reuses them. Writes the report and its plots (<doc folder>/img/physics/)
atomically; judge/physics_report.py writes them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import systems
from ..atomic import atomic_write_bytes
from ..environment import deck_arguments, inputs_dir, run_lmp
from ..model import model_file
from ..data.lammps_files import read_dump, read_thermo
from . import dynamics

THERMOSTATS = ("csvr", "langevin", "berendsen")
# thermo columns of inputs/long_run.in, as data/lammps_files.py's read_thermo names them
COLUMNS = "md_step time atoms temp T1 T2 pe ke etotal msd1 msd2 pnorm".split()
# the first part of an NVT run is left out of the averages
SETTLE = 0.2
# D is fitted to the all-origin MSD at lags from 20% to 100% of the longest lag (half the run)
FIT = (0.2, 1.0)
MD_SEEDS = 3
OGN_SEEDS = 3
# the vibrational density of states is the transform of the VACF over the first VDOS_LAGS of
# its lags (a tenth of the run): a liquid's or a glass's VACF has decayed long before, and the
# longer lags would only add their noise to the spectrum (on liquid silicon, 128 atoms, 10 ps,
# two LAMMPS seeds overlap to 0.98 over every lag and to 0.99 over a fifth of them)
VDOS_LAGS = 0.2
# the fix ogn variants of the NVT runs: plain, and with the true energy kept across each
# learned step (the thermostat then only has to hold the temperature, as for MD)
VARIANTS = {"ogn": ("fix ogn", "no"), "ogn_energy": ("fix ogn, energy yes", "yes")}
# acceptance of issue 12 (NVT)
LIMITS = {"temp": 0.01, "rdf": 0.02, "diffusion": 0.10, "equipartition": 0.03}


class PhysicsError(RuntimeError):
    pass


@dataclass
class LongRun:
    """One run of inputs/long_run.in, read back from its log and rdf.txt."""

    label: str
    table: dict  # COLUMNS -> np.ndarray, one row per sample
    rdf: np.ndarray | None  # (bins, 2): r, g(r), averaged over the run
    failure: str | None
    seconds: float
    folder: Path | None = None

    @property
    def lost(self) -> int:
        atoms = self.table.get("atoms")
        return int(atoms[0] - atoms[-1]) if atoms is not None and len(atoms) else 0


def parse_log(log: str) -> dict:
    """The thermo rows of inputs/long_run.in (every block of a log, in order; empty columns
    for a log without rows)."""
    return read_thermo(log, COLUMNS)


def parse_rdf(path: Path) -> np.ndarray | None:
    """The last block of fix ave/time's rdf.txt: (r, g(r)) per bin."""
    if not path.is_file():
        return None
    lines = [line.split() for line in path.read_text().splitlines() if line and not line.startswith("#")]
    blocks = [i for i, fields in enumerate(lines) if len(fields) == 2]
    if not blocks:
        return None
    last = blocks[-1]
    rows = lines[last + 1:last + 1 + int(lines[last][1])]
    return np.array([[float(r[1]), float(r[2])] for r in rows])


def run_long(system: str, data: Path, out: Path, integrator: str, model: Path | None = None, multiple: int = 1,
             thermostat: str = "none", energy: str = "no", md_steps: int = 2000, every: int = 10,
             seed: int = 4928, ranks: int = 1, rerun: bool = False, inputs: list[Path] | None = None,
             positions: bool = False, k: int | None = None) -> LongRun:
    """inputs/long_run.in once (or its kept result, while newer than every file of `inputs`).
    k: the model's stride, passed to the deck (whose default is the registry's)."""
    label = out.name
    done = out / "done.json"
    sources = [p for p in (inputs or []) if p is not None]
    if not rerun and done.is_file() and all(done.stat().st_mtime > p.stat().st_mtime for p in sources):
        kept = json.loads(done.read_text())
        return LongRun(label, parse_log((out / "log.lammps").read_text()), parse_rdf(out / "rdf.txt"),
                       kept["failure"], kept["seconds"], out)
    out.mkdir(parents=True, exist_ok=True)
    variables = {"inputs": inputs_dir(), "system": system, "data": data, "out": out, "integrator": integrator,
                 "multiple": multiple, "thermostat": thermostat, "energy": energy, "md_steps": md_steps,
                 "every": every, "seed": seed, "positions": int(positions)}
    if model is not None:
        variables["model"] = model
    if k is not None:
        variables["k"] = k
    run = run_lmp(deck_arguments(inputs_dir() / "long_run.in", variables), ranks, log=out / "log.lammps")
    cmd, log, seconds, failure = run.command, run.log, run.seconds, run.error
    if failure and not log:
        raise PhysicsError(f"{' '.join(cmd)} wrote no log: {failure}")
    table = parse_log(log)
    if failure is None and (not len(table["md_step"]) or table["md_step"][-1] < md_steps):
        failure = f"the log ends at MD step {table['md_step'][-1] if len(table['md_step']) else 0}"
    atomic_write_bytes(done, json.dumps({"failure": failure, "seconds": seconds, "command": cmd}).encode())
    return LongRun(label, table, parse_rdf(out / "rdf.txt"), failure, seconds, out)


@dataclass
class Trajectory:
    """A positions.dump read once: what the MSD, F_s and the VACF need."""

    steps: np.ndarray       # (frames,) LAMMPS timesteps
    types: np.ndarray       # (atoms,) LAMMPS types from 1 (ids sorted, so the same every frame)
    positions: np.ndarray   # (frames, atoms, 3) unwrapped
    velocities: np.ndarray  # (frames, atoms, 3)
    box: np.ndarray         # (3, 2) of the first frame (NVT: every frame's)

    @property
    def density(self) -> float:
        """Atoms per volume of the box."""
        return len(self.types) / float(np.prod(self.box[:, 1] - self.box[:, 0]))


def read_trajectory(dump: Path) -> Trajectory:
    frames = list(read_dump(dump))
    return Trajectory(np.array([f.timestep for f in frames]), frames[0].types,
                      np.stack([f.positions for f in frames]), np.stack([f.velocities for f in frames]),
                      frames[0].box)


def number_density(dump: Path) -> float:
    """Atoms per box volume in the first frame of a dump (the NVT runs keep the volume)."""
    frame = next(iter(read_dump(dump)))
    return len(frame.ids) / float(np.prod(frame.box[:, 1] - frame.box[:, 0]))


def msd_all_origins(dump: Path | Trajectory, ntypes: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-square displacement per type against the lag, averaged over every time origin of
    a positions.dump (unwrapped coordinates; or its Trajectory, read once), for lags up to half
    the run: (lags in LAMMPS timesteps, msd of shape (lags, types))."""
    trajectory = dump if isinstance(dump, Trajectory) else read_trajectory(dump)
    x, steps, types = trajectory.positions, trajectory.steps, trajectory.types
    nlags = len(steps) // 2
    msd = np.zeros((nlags, ntypes))
    for lag in range(1, nlags):
        d2 = ((x[lag:] - x[:-lag]) ** 2).sum(-1).mean(0)
        for t in range(ntypes):
            msd[lag, t] = d2[types == t + 1].mean()
    return (steps[:nlags] - steps[0]).astype(float), msd


def diffusion(t: np.ndarray, msd: np.ndarray, window: tuple[float, float] = FIT) -> float:
    """D = slope / 6 of a straight-line fit of MSD(t) for t in window x the longest t."""
    keep = (t >= window[0] * t[-1]) & (t <= window[1] * t[-1])
    return float(np.polyfit(t[keep], msd[keep], 1)[0] / 6.0)


def rdf_l1(g: np.ndarray, reference: np.ndarray) -> float:
    """sum |g - g_ref| / sum g_ref over the same bins (equal widths)."""
    if g.shape != reference.shape or not np.allclose(g[:, 0], reference[:, 0]):
        raise PhysicsError("RDFs on different bins")
    return float(np.abs(g[:, 1] - reference[:, 1]).sum() / reference[:, 1].sum())


def _vdos(lag_times, z: np.ndarray) -> dict:
    """The VDOS entry of a summary from a VACF (lags, types), over its first VDOS_LAGS."""
    n = max(3, int(round(VDOS_LAGS * len(lag_times))))
    freq, dos = dynamics.vibrational_dos(np.asarray(lag_times[:n], float), np.asarray(z)[:n])
    return {"freq": freq.tolist(), "dos": dos.T.tolist()}


def dynamics_summary(trajectory: Trajectory, rdf: np.ndarray | None, ntypes: int, lag_times: np.ndarray,
                     q: float | None = None) -> dict:
    """F_s(q, t), tau_alpha, F_s at the longest lag, the VACF and the VDOS of one run, on the
    lags of its MSD (lag_times: half the run). q: the wavenumber of F_s; None takes the first
    peak of S(q) from this run's own g(r). Empty (the report then says "not measured") for a
    run too short for three lags; without a q (no g(r)), the VACF and VDOS only."""
    nlags = len(lag_times)
    if nlags < 3:
        return {}
    out = {}
    if q is None and rdf is not None:
        q = dynamics.first_peak_q(rdf[:, 0], rdf[:, 1], trajectory.density)
    if q is not None and np.isfinite(q):
        _, fs = dynamics.self_intermediate_scattering(trajectory.positions, trajectory.types, q, ntypes, nlags - 1)
        out["fs"] = {"q": float(q), "lag": lag_times.tolist(), "fs": fs.T.tolist()}
        out["tau_alpha"] = [dynamics.relaxation_time(lag_times, fs[:, i]) for i in range(ntypes)]
        out["fs_last"] = fs[-1].tolist()
    _, z = dynamics.velocity_autocorrelation(trajectory.velocities, trajectory.types, ntypes, nlags - 1)
    out["vacf"] = {"lag": lag_times.tolist(), "z": z.T.tolist()}
    out["vdos"] = _vdos(lag_times, z)
    return out


def nvt_summary(run: LongRun, target: float, ntypes: int, timestep: float, q: float | None = None) -> dict:
    """One NVT run: temperatures, D, the MSD, and dynamics_summary's F_s, tau_alpha, VACF and
    VDOS (q: F_s's wavenumber; `study` passes that of LAMMPS's mean g(r), None takes the run's
    own), all from one read of its positions.dump."""
    t = run.table
    keep = t["time"] >= t["time"][0] + SETTLE * (t["time"][-1] - t["time"][0])
    temps = [float(t[c][keep].mean()) for c in ("T1", "T2")[:ntypes]]
    mean_t = float(t["temp"][keep].mean())
    trajectory = read_trajectory(run.folder / "positions.dump")
    lags, msd = msd_all_origins(trajectory, ntypes)
    lag_times = lags * timestep
    return {
        "T": mean_t, "T_offset": mean_t / target - 1.0, "T_types": temps,
        "equipartition": (max(temps) - min(temps)) / mean_t,
        "D": [diffusion(lag_times, msd[:, i]) for i in range(ntypes)],
        "msd": {"lag": lag_times.tolist(), "msd": msd.T.tolist()},
        "lost": run.lost, "failure": run.failure, "seconds": run.seconds,
        **dynamics_summary(trajectory, run.rdf, ntypes, lag_times, q),
    }


def _spread(values: np.ndarray) -> list[float]:
    """The sample standard deviation over runs (axis 0) relative to the mean: one run's noise."""
    if len(values) < 2:
        return [float("nan")] * values.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values.std(0, ddof=1) / values.mean(0)).tolist()


def _mean_curves(curves: list[dict], lag_key: str, value_key: str) -> tuple[list, np.ndarray]:
    """The mean over runs of per-type curves, on the lags they all have (a run that stopped
    early has fewer)."""
    n = min(len(c[lag_key]) for c in curves)
    return curves[0][lag_key][:n], np.mean([np.asarray(c[value_key], float)[:, :n] for c in curves], axis=0)


def mean_summary(summaries: list[dict], target: float) -> dict:
    """The mean of several runs' NVT summaries, with the spread of D (one run's noise)."""
    mean = {key: float(np.mean([x[key] for x in summaries])) for key in ("T", "equipartition", "seconds")}
    mean["T_offset"] = mean["T"] / target - 1.0
    mean["T_types"] = np.mean([x["T_types"] for x in summaries], axis=0).tolist()
    d = np.array([x["D"] for x in summaries])
    mean["D"] = d.mean(0).tolist()
    mean["D_spread"] = (d.std(0, ddof=1) / d.mean(0)).tolist() if len(d) > 1 else [float("nan")] * d.shape[1]
    # the dynamics (dynamics_summary), where every run has them (summaries from before they were
    # measured have not): tau_alpha and F_s at the longest lag with their spread as for D (a
    # type whose F_s does not reach 1/e in some run has a nan mean tau_alpha, and the report
    # compares F_s at the longest lag instead), the mean F_s and VACF curves, the VDOS of the
    # mean VACF, and q, the same in every run when `study` passes LAMMPS's (else the mean of
    # each run's own)
    if all("fs" in x for x in summaries):
        for key in ("tau_alpha", "fs_last"):
            values = np.array([x[key] for x in summaries], float)
            mean[key] = values.mean(0).tolist()
            mean[f"{key}_spread"] = _spread(values)
        lag, fs = _mean_curves([x["fs"] for x in summaries], "lag", "fs")
        mean["fs"] = {"q": float(np.mean([x["fs"]["q"] for x in summaries])), "lag": lag, "fs": fs.tolist()}
    if all("vacf" in x for x in summaries):
        lag, z = _mean_curves([x["vacf"] for x in summaries], "lag", "z")
        mean["vacf"] = {"lag": lag, "z": z.tolist()}
        mean["vdos"] = _vdos(np.asarray(lag, float), z.T)
    mean["lost"] = sum(x["lost"] for x in summaries)
    mean["failure"] = next((x["failure"] for x in summaries if x["failure"]), None)
    mean["runs"] = len(summaries)
    return mean


def vdos_overlap(vdos: dict, reference: dict) -> list[float]:
    """dynamics.dos_overlap per type of two summaries' "vdos" entries, on the reference's
    frequencies (a run that stopped early has a coarser grid: interpolated onto the
    reference's, zero above its own highest frequency)."""
    f = np.asarray(reference["freq"], float)
    own = np.asarray(vdos["freq"], float)
    return [dynamics.dos_overlap(f, np.interp(f, own, a, right=0.0), b) for a, b in zip(vdos["dos"], reference["dos"])]


def nve_summary(run: LongRun, ntypes: int) -> dict:
    t = run.table
    e = t["etotal"]
    return {
        "T": float(t["temp"].mean()) if len(e) else float("nan"),
        "T_types": [float(t[c].mean()) for c in ("T1", "T2")[:ntypes]] if len(e) else [],
        "energy_drift": float(e[-1] - e[0]) if run.failure is None else float("nan"),
        "energy_max_rel": float(np.max(np.abs(e - e[0])) / abs(e[0])) if len(e) else float("nan"),
        "lost": run.lost, "failure": run.failure, "seconds": run.seconds,
    }


def study(system: str, model: Path, start: Path, work: Path, thermostat: str, nvt_steps: int, nve_steps: int,
          seed: int, ranks: int, rerun: bool, md_seeds: int = MD_SEEDS, ogn_seeds: int = OGN_SEEDS,
          log=print) -> dict:
    """Every run of one system, summarized."""
    facts = systems.get(system)
    if not model.is_file():
        raise PhysicsError(f"{system}: no model {model} (see models/README.md)")
    k = int(model_file.load(model)[1]["k"])  # the model's stride, whatever the registry's
    if not start.is_file():
        raise PhysicsError(f"{system}: no start state {start}; make the held-out ground truth with "
                           f"lmp -in inputs/{system}_ground_truth.in -var out {start.parent} -var seed 2026 "
                           f"-var ntrain 0 -var ntest 2 -var nsteps 2000")
    deck = inputs_dir() / "long_run.in"
    sources = [model, start, deck]
    every = k * max(1, round(20 / k))    # samples every ~20 MD steps, on inference boundaries
    runs = {}

    def go(name, **kw):
        log(f"physics: {system}: {name} ...", flush=True)
        # LAMMPS's own runs do not read the model: a new model leaves them valid (an MLIP's
        # reference costs tens of core-minutes)
        own = sources if kw["integrator"] == "ogn" else [start, deck]
        run = run_long(system, start, work / system / name, md_steps=kw.pop("md_steps"), every=every,
                       ranks=ranks, rerun=rerun, inputs=own, k=k, **kw)
        runs[name] = run
        state = run.failure or "ok"
        log(f"physics: {system}: {name}: {run.table['md_step'][-1] if len(run.table['md_step']) else 0:.0f} MD steps "
            f"in {run.seconds:.0f} s ({state})", flush=True)
        return run

    nvt_md = [f"nvt_md_{i + 1}" for i in range(md_seeds)]
    nvt_ogn = {v: [f"nvt_{v}_{i + 1}" for i in range(ogn_seeds)] for v in VARIANTS}
    for v, names in nvt_ogn.items():
        for i, name in enumerate(names):
            go(name, integrator="ogn", model=model, thermostat=thermostat, energy=VARIANTS[v][1],
               md_steps=nvt_steps, seed=seed + i, positions=True)
    for i, name in enumerate(nvt_md):
        go(name, integrator="verlet", thermostat=thermostat, md_steps=nvt_steps, seed=seed + i, positions=True)
    go("nve_ogn", integrator="ogn", model=model, md_steps=nve_steps)
    go("nve_ogn_energy", integrator="ogn", model=model, energy="yes", md_steps=nve_steps)
    go("nve_md", integrator="verlet", md_steps=nve_steps)
    go("nve_md_k", integrator="verlet", multiple=k, md_steps=nve_steps)

    target = float(facts.temperature)
    ntypes = len(facts.type_names)
    learned = [name for names in nvt_ogn.values() for name in names]
    md_rdf = np.mean([runs[name].rdf for name in nvt_md], axis=0)
    # every run's F_s is read at one q, the first peak of S(q) of LAMMPS's mean g(r): the
    # reference's length scale, so that a fix ogn run with a slightly different structure is
    # still compared at the same q
    q = dynamics.first_peak_q(md_rdf[:, 0], md_rdf[:, 1], number_density(runs[nvt_md[0]].folder / "positions.dump"))
    nvt = {name: nvt_summary(runs[name], target, ntypes, float(facts.dt) * (k if name in learned else 1), q)
           for name in learned + nvt_md}
    # both sides are means over runs that differ only in the thermostat's seed; the spread
    # (sample standard deviation of one run) is the noise of a single run
    md = mean_summary([nvt[name] for name in nvt_md], target)
    comparison = {
        "md_runs": nvt_md,
        "md_T": md["T"],
        "md_T_types": md["T_types"],
        "md_D": md["D"],
        "md_D_spread": md["D_spread"],
        "md_equipartition": md["equipartition"],
        "rdf_l1_md_seeds": float(np.mean([rdf_l1(runs[name].rdf, md_rdf) for name in nvt_md])),
        "md_rdf": md_rdf.tolist(),
        "md_q": q,
        **{f"md_{key}": md[key] for key in ("tau_alpha", "tau_alpha_spread", "fs_last", "fs_last_spread", "fs",
                                           "vacf", "vdos") if key in md},
        "variants": {},
    }
    if "vdos" in md:
        # the noise of the VDOS overlap: each LAMMPS seed's against the LAMMPS mean (as for the RDF)
        comparison["md_vdos_overlap_seeds"] = np.mean(
            [vdos_overlap(nvt[name]["vdos"], md["vdos"]) for name in nvt_md], axis=0).tolist()
    for v, names in nvt_ogn.items():
        ogn = mean_summary([nvt[name] for name in names], target)
        ogn_rdf = np.mean([runs[name].rdf for name in names], axis=0)
        nvt[f"nvt_{v}"] = ogn
        comparison["variants"][v] = {
            "runs": names, "rdf": ogn_rdf.tolist(), "rdf_l1": rdf_l1(ogn_rdf, md_rdf),
            "D_rel": [o / m - 1.0 for o, m in zip(ogn["D"], md["D"])],
        }
        if "vdos" in ogn and "vdos" in md:
            comparison["variants"][v]["vdos_overlap"] = vdos_overlap(ogn["vdos"], md["vdos"])
    nve = {name: nve_summary(runs[name], ntypes) for name in ("nve_ogn", "nve_ogn_energy", "nve_md", "nve_md_k")}
    for name in ("nve_ogn", "nve_ogn_energy", "nve_md_k"):
        nve[name]["T_offset"] = nve[name]["T"] / nve["nve_md"]["T"] - 1.0
    return {"system": system, "title": facts.title, "units": facts.units, "k": k, "dt": float(facts.dt),
            "T": target, "type_names": list(facts.type_names), "thermostat": thermostat, "model": str(model),
            "start": str(start), "nvt_steps": nvt_steps, "nve_steps": nve_steps, "nvt": nvt,
            "comparison": comparison, "nve": nve, "runs": runs}


def main(argv=None) -> int:
    from .physics_report import checks, energy_check, plot, report  # the report's half (imports this module)

    p = argparse.ArgumentParser(prog="python -m ogn_lammps.physics", description=__doc__.splitlines()[0])
    p.add_argument("--systems", nargs="+", default=list(systems.names()), choices=list(systems.names()))
    p.add_argument("--models", type=Path, default=Path("models"), help="folder of <sys>_fast.pt")
    p.add_argument("--data", type=Path, default=Path("data"), help="folder of <sys>_heldout/equilibrated.data")
    p.add_argument("--work", type=Path, default=Path("results/physics"), help="folder of the runs")
    p.add_argument("--doc", type=Path, default=Path("docs/physics.md"), help="the report (plots in <its folder>/img/physics)")
    p.add_argument("--thermostat", default="csvr", choices=THERMOSTATS)
    p.add_argument("--nvt-steps", type=int, default=10000)
    p.add_argument("--nve-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=4928, help="the thermostat's seed")
    p.add_argument("--md-seeds", type=int, default=MD_SEEDS, help="LAMMPS NVT runs (thermostat seeds) for the reference")
    p.add_argument("--ogn-seeds", type=int, default=OGN_SEEDS, help="fix ogn NVT runs (thermostat seeds)")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks per run")
    p.add_argument("--rerun", action="store_true", help="run again even where kept runs are newer than their inputs")
    args = p.parse_args(argv)
    image_dir = args.doc.parent / "img" / "physics"
    results = []
    try:
        for s in args.systems:
            result = study(s, args.models / f"{s}_fast.pt", args.data / f"{s}_heldout" / "equilibrated.data",
                           args.work, args.thermostat, args.nvt_steps, args.nve_steps, args.seed, args.ranks,
                           args.rerun, args.md_seeds, args.ogn_seeds)
            plot(result, image_dir)
            results.append(result)
            for variant in VARIANTS:
                for q, v, ok in checks(result, variant):
                    print(f"physics: {s}: {VARIANTS[variant][0]}: {q}: {v} ({'met' if ok else 'missed'})")
            q, v, ok = energy_check(result)
            print(f"physics: {s}: {q}: {v} ({'met' if ok else 'missed'})")
    except PhysicsError as err:
        print(f"physics: error: {err}", file=sys.stderr)
        return 2
    command = "python -m ogn_lammps.physics " + " ".join(argv if argv is not None else sys.argv[1:])
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    # systems left out of this run keep what the report last said of them
    atomic_write_bytes(args.doc, report(results, args.doc, image_dir, command.strip(), systems.names()).encode())
    summary = [{key: value for key, value in r.items() if key != "runs"} for r in results]
    atomic_write_bytes(args.work / "summary.json", json.dumps(summary, indent=1).encode())
    print(f"physics: wrote {args.doc} and its plots in {image_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
