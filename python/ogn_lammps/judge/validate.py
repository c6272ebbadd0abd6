"""Judge a model through fix ogn in LAMMPS on held-out trajectories (design §4d).

    python -m ogn_lammps.validate models/lj_fast.pt --data data/lj_heldout/dataset.h5 -o results/lj_fast
    python -m ogn_lammps.validate MODEL --data DATA -o OUT --starts 4 --long 2000 --ranks 2

The held-out dataset comes from the system's ground-truth deck with seeds the training never
saw (e.g. `lmp -in inputs/lj_ground_truth.in -var out data/lj_heldout -var seed 2026 -var
ntrain 0 -var ntest 5 -var nsteps 2000`, then `python -m ogn_lammps.dataset`). From
`--starts` states of every test trajectory, the deck `inputs/ogn.in` runs
`fix ogn` for `--horizon` MD steps; the position and velocity RMSE (per component) against
LAMMPS at the multiples of k nearest 25, 50, 100, 200 (and 400) MD steps (k = 10: 30, 50, 100,
200; a tie goes up), and after every inference, is set beside three
baselines from the same states: static (nothing moves), free flight (x + v t), and LAMMPS
velocity-Verlet with the true potential at the model's stride, k x dt (what the physics itself
gives at that step). From the first frame of up to
`--long-runs` trajectories, it also runs `--long` MD steps in NVE and reports lost atoms,
the temperature against the reference's mean, the total energy with the true potential
(the deck's real pair style) and its drift, and the net momentum.

The user's own alternative, a bigger timestep (judge/verlet_ladder.py): from the same starts,
LAMMPS velocity-Verlet at m x dt for m = 2, 3, 4, 5, 6, 8, 10, 15, 20, ... until it blows up,
judged at the system's judged steps (or the longest checkpoint short of them); m* is the
largest m with position and velocity RMSE both no worse than the model's (`--no-ladder`
skips it). From the long run's state it then times
fix ogn with `pair_style zero` (as a production run: no true potential at all) and LAMMPS
velocity-Verlet at dt and at m* x dt with the true potential, on the same ranks, a few seconds each
(`judge/speed.py`, the same measurement as `benchmarks/fix_ogn.py`). The NVE run's own speed
is printed beside it, labelled: it evaluates the true potential every inference for thermo,
which caps its speed-up at k for an expensive potential.

Writes into OUT: summary.json, rmse.csv (every start at the checkpoints), series.json (the
curves), rmse.png (RMSE against MD steps, paper Fig. S3), trajectories.png (paths of a few
atoms against LAMMPS's, Fig. 2B) and long.png (temperature, total energy and RMS
displacement against time, with the ground truth's, Fig. S4).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes, save_figure
from . import speed as timing
from .contrast import run_nve
from .verlet_ladder import equal_accuracy, ladder, timed_rungs, verlet_path
from ..data.dataset import Dataset
from ..environment import deck_arguments, inputs_dir, run_lmp
from ..data.lammps_files import read_dump, read_thermo
from ..model.model_file import ModelError, check_compatible, load
from ..data import systems
from ..data import units as unit_styles

HORIZONS = (25, 50, 100, 200, 400)
CURVE_KEYS = ("pos", "vel", "pos_static", "vel_static", "pos_free", "vel_free", "pos_verlet", "vel_verlet")
# atoms whose paths trajectories.png draws (paper Fig. 2B, 3B)
N_TRACED = 3


class ValidateError(RuntimeError):
    pass


def write_data(path: Path, box: np.ndarray, ids, types, masses, x: np.ndarray, v: np.ndarray,
               atom_style: str = "atomic") -> None:
    """A LAMMPS data file of one state; unwrapped x is kept through image flags. atom_style
    charge writes q = 0: the force field sets the charges by type."""
    if atom_style not in ("atomic", "charge"):
        raise ValidateError(f"write_data: atom_style {atom_style!r} not supported, expected atomic or charge")
    charge = " 0" if atom_style == "charge" else ""
    lengths = box[:, 1] - box[:, 0]
    image = np.floor((x - box[:, 0]) / lengths).astype(int)
    wrapped = x - image * lengths
    lines = ["held-out state written by ogn_lammps.validate", "", f"{len(ids)} atoms", f"{len(masses)} atom types", ""]
    lines += [f"{lo:.17g} {hi:.17g} {a}lo {a}hi" for (lo, hi), a in zip(box, "xyz")]
    lines += ["", "Masses", ""] + [f"{t + 1} {m:.17g}" for t, m in enumerate(masses)]
    lines += ["", f"Atoms # {atom_style}", ""]
    lines += [f"{i} {t}{charge} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g} {n[0]} {n[1]} {n[2]}"
              for i, t, p, n in zip(ids, types, wrapped, image)]
    lines += ["", "Velocities", ""] + [f"{i} {u[0]:.17g} {u[1]:.17g} {u[2]:.17g}" for i, u in zip(ids, v)]
    path.write_text("\n".join(lines) + "\n")


def run_fix(model: Path, system: str, data: Path, out: Path, inferences: int, ranks: int, k: int) -> str:
    """inputs/ogn.in for `system` from `data` for `inferences` steps of the model's stride `k`
    (the deck's default is the registry's: a model trained at another k would stop at the
    fix's check); its output folder is `out`. Returns the log."""
    run = run_lmp(deck_arguments(inputs_dir() / "ogn.in", {
        "inputs": inputs_dir(), "system": system, "model": model, "k": k, "data": data, "out": out,
        "ninf": inferences, "pair": "real", "thermo": 1, "device": "cpu"}), ranks, log=out / "log.lammps")
    if run.error:
        raise ValidateError(f"fix ogn run from {data} failed ({run.returncode}): {run.error}")
    return run.log


def read_run(out: Path, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = list(read_dump(out / "trajectory.dump"))
    for f in frames:
        if not np.array_equal(f.ids, ids):
            raise ValidateError(f"{out}/trajectory.dump: atom ids differ from the dataset's (lost atoms?)")
    return np.stack([f.positions for f in frames]), np.stack([f.velocities for f in frames])


def checkpoints(k: int, horizon: int) -> dict[int, int]:
    """{MD steps: nominal} for the judged steps HORIZONS: each the multiple of k nearest to it
    (a tie goes up; at least k), up to `horizon`; where two share a multiple, the nearer names it."""
    found: dict[int, int] = {}
    for nominal in HORIZONS:
        steps = max(k, k * math.floor(nominal / k + 0.5))
        if steps <= horizon and abs(found.get(steps, -10**9) - steps) > abs(nominal - steps):
            found[steps] = nominal
    return dict(sorted(found.items()))


def measure_speed(model: Path, meta: dict, entry, data: Path, ranks: int, folder: Path, say, stable: int,
                  m_star: int | None = None) -> dict:
    """fix ogn with pair_style zero and velocity-Verlet at dt with the true potential, from
    `data` on `ranks` ranks each, timed for a few seconds (judge/speed.py), and VV at m_star x
    dt (the equal-accuracy timestep) where given. A model that
    diverges within those seconds is timed again over the `stable` inferences its NVE run held
    from the same state; `note` says so, or why there is no figure."""
    say(f"speed: fix ogn (pair_style zero) and velocity-Verlet at dt, {timing.SECONDS:g} s each on {ranks} rank(s)")
    note = ""
    try:
        try:
            ogn = timing.fix_ogn(model, meta, entry, data, ranks, folder=folder / "ogn")
        except timing.SpeedError as err:
            if "diverged" not in str(err) or stable < 1:
                raise
            note = (f"timed over the {stable} inferences the NVE run held: the model diverged within "
                    f"{timing.SECONDS:g} s")
            say(f"speed: {note}")
            ogn = timing.fix_ogn(model, meta, entry, data, ranks, folder=folder / "ogn",
                                  max_inferences=max(1, stable - 2))  # after its 2 warm-up inferences
        vv = timing.verlet(entry, data, 1, ranks, folder=folder / "verlet")
        # m* = 1: velocity-Verlet at dt is itself the equal-accuracy run
        star, m_timed = (vv, 1) if m_star == 1 else (None, m_star)
        # m* is judged at the horizon; a longer timed run may outlast its stability (SNAP silicon
        # at 15 dt loses atoms after about 25 steps): then the largest rung below m* that holds,
        # which is what a user could run
        for m in timed_rungs(m_star) if m_star and m_star > 1 else []:
            try:
                star, m_timed = timing.verlet(entry, data, m, ranks, folder=folder / f"verlet_{m}"), m
                break
            except timing.SpeedError as err:
                say(f"speed: velocity-Verlet at {m} x dt: {str(err).splitlines()[0][:200]}")
        if star is not None and m_timed != m_star:
            note = (note + "; " if note else "") + (f"velocity-Verlet at m* = {m_star} x dt did not hold over the "
                                                    f"timed run: the equal-accuracy speed is against {m_timed} x dt")
    except timing.SpeedError as err:
        say(f"speed: not measured: {err}")
        return dict(ogn_atom_steps_per_s=math.nan, ogn_ranks=ranks, verlet_atom_steps_per_s=math.nan,
                    verlet_ranks=ranks, ratio=math.nan, ogn_inferences=0, verlet_steps=0, m_star=m_star,
                    verlet_m_star_atom_steps_per_s=math.nan, equal_accuracy_ratio=math.nan,
                    note=f"not measured: {str(err).splitlines()[0][:300]}")
    result = dict(ogn_atom_steps_per_s=ogn.rate, ogn_ranks=ranks, verlet_atom_steps_per_s=vv.rate, verlet_ranks=ranks,
                  ratio=ogn.rate / vv.rate, ogn_inferences=ogn.steps, verlet_steps=vv.steps, note=note)
    if star is not None:
        result.update(m_star=m_star, m_timed=m_timed, verlet_m_star_atom_steps_per_s=star.rate,
                      equal_accuracy_ratio=ogn.rate / star.rate)
    elif m_star:
        result.update(m_star=m_star, verlet_m_star_atom_steps_per_s=math.nan, equal_accuracy_ratio=math.nan,
                      note=(note + "; " if note else "") + "no velocity-Verlet timestep up to m* held over the timed run")
    return result


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def temperature(units: str, masses: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per frame, with 3N - 3 degrees of freedom as LAMMPS's compute temp."""
    return unit_styles.temperature(units, masses, v)


def validate(model: Path, data: Path, out: Path, starts: int = 2, horizon: int | None = None, long: int = 2000,
             long_runs: int = 1, ranks: int = 1, quiet: bool = False, verlet_ladder: bool = True) -> dict:
    if not Path(data).is_file():
        raise ValidateError(f"held-out dataset {data} not found (make it with the system's ground-truth deck and a "
                            "new -var seed, then python -m ogn_lammps.dataset)")
    _, meta = load(model)
    k = int(meta["k"])
    entry = systems.get(meta["system"])
    horizon = horizon or max(200, entry.judge_steps)
    nominal = checkpoints(k, horizon)
    horizons = list(nominal)
    if not horizons:
        raise ValidateError(f"--horizon {horizon}: shorter than the first checkpoint, {min(checkpoints(k, 10 ** 9))} "
                            f"MD steps (the multiple of k = {k} nearest 25)")
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda msg: print(f"validate: {msg}", file=sys.stderr, flush=True))
    with Dataset(data) as ds:
        check_compatible(meta, ds.units, ds.dt, ds.type_names, ds.masses, f"dataset {data}")
        if ds.frame_stride != 1:
            raise ValidateError(f"{data}: frame stride {ds.frame_stride}; validation needs every MD step")
        names = ds.trajectories("test")
        if not names:
            raise ValidateError(f"{data}: no test trajectories")
        masses = np.asarray(ds.masses)[ds.types - 1]
        ds_types = np.asarray(ds.types)
        rows = []
        # RMSE after every inference, summed over the starts (paper Fig. S3)
        n_steps = max(horizons) // k
        curve_sum = np.zeros((n_steps + 1, len(CURVE_KEYS)))
        traced = None
        ladder_starts = []
        for name in names:
            traj = ds.trajectory("test", name)
            n_frames = len(traj["positions"])
            last = n_frames - 1 - max(horizons)
            if last < 0:
                raise ValidateError(f"{data}: {name} has {n_frames} frames, fewer than {max(horizons) + 1}")
            for start in np.linspace(0, last, starts).round().astype(int):
                folder = out / "runs" / f"{name}_{start}"
                folder.mkdir(parents=True, exist_ok=True)
                write_data(folder / "start.data", ds.box, ds.ids, ds.types, ds.masses, traj["positions"][start],
                           traj["velocities"][start], entry.atom_style)
                run_fix(model.resolve(), meta["system"], folder / "start.data", folder / "ogn", max(horizons) // k, ranks, k)
                xs, vs = read_run(folder / "ogn", ds.ids)
                xl, vl = verlet_path(folder / "start.data", entry.facts(), k, n_steps, folder / "verlet_k_dt")
                if xl.shape[1] != len(ds.ids):  # no frame at all: the baseline is missing, not zero
                    xl = vl = np.full((n_steps + 1, len(ds.ids), 3), np.nan)
                x0, v0 = traj["positions"][start], traj["velocities"][start]
                # RMSE after every inference: [pos, vel, pos_static, vel_static, pos_free, vel_free,
                # pos_verlet, vel_verlet]
                errs = np.zeros((n_steps + 1, len(CURVE_KEYS)))
                for i in range(n_steps + 1):
                    xt, vt = traj["positions"][start + i * k], traj["velocities"][start + i * k]
                    errs[i] = [rmse(xs[i], xt), rmse(vs[i], vt), rmse(x0, xt), rmse(v0, vt),
                               rmse(x0 + v0 * i * k * ds.dt, xt), rmse(v0, vt), rmse(xl[i], xt), rmse(vl[i], vt)]
                curve_sum += errs
                ladder_starts.append(dict(data=folder / "start.data", positions=traj["positions"][start:start + max(horizons) + 1],
                                          velocities=traj["velocities"][start:start + max(horizons) + 1]))
                if traced is None:
                    atoms = np.random.default_rng(0).choice(len(ds.ids), size=min(N_TRACED, len(ds.ids)), replace=False)
                    n_trace = max(1, min(n_steps, entry.judge_steps // k))
                    truth = traj["positions"][start:start + n_trace * k + 1, atoms]
                    traced = dict(ids=ds.ids[atoms].tolist(), dt=ds.dt, k=k, model=xs[: n_trace + 1, atoms].tolist(),
                                  truth=truth.tolist(), trajectory=name, start=int(start))
                rows += [dict(trajectory=name, start=int(start), md_steps=h, **dict(zip(CURVE_KEYS, map(float, errs[h // k]))))
                         for h in horizons]
                say(f"{name} from MD step {start}: RMSE at {max(horizons)} MD steps "
                    f"{rows[-1]['pos']:.4g} / {rows[-1]['vel']:.4g}")
        curve_mean = curve_sum / (len(rows) // len(horizons))
        curve = [dict(md_steps=i * k, **dict(zip(CURVE_KEYS, map(float, row)))) for i, row in enumerate(curve_mean)]
        table = {h: dict(zip(CURVE_KEYS, map(float, curve_mean[h // k]))) for h in horizons}
        # the user's own alternative: velocity-Verlet at m x dt from the same states, judged
        # where the model is (the system's judged steps, or the longest checkpoint short of them)
        at_or_below = [h for h in horizons if h <= entry.judge_steps]
        judged = max(at_or_below) if at_or_below else min(horizons)
        rungs = ladder(ladder_starts, entry.facts(), judged, out / "runs" / "ladder", say) if verlet_ladder else []
        m_star = equal_accuracy(rungs, table[judged]["pos"], table[judged]["vel"]) if verlet_ladder else None
        if verlet_ladder:
            say(f"equal-accuracy timestep at {judged} MD steps: {m_star} x dt")
        long_results = []
        for name in names[:long_runs] if long else []:
            traj = ds.trajectory("test", name)
            n_inf = long // k
            folder = out / "runs" / f"{name}_long"
            folder.mkdir(parents=True, exist_ok=True)
            write_data(folder / "start.data", ds.box, ds.ids, ds.types, ds.masses, traj["positions"][0],
                       traj["velocities"][0], entry.atom_style)
            say(f"{name}: {long} MD steps ({n_inf} inferences) in NVE")
            result = dict(trajectory=name, md_steps=long)
            try:
                log = run_fix(model.resolve(), meta["system"], folder / "start.data", folder / "ogn", n_inf, ranks, k)
                xs, vs = read_run(folder / "ogn", ds.ids)
                result["stopped"] = ""
            except ValidateError as err:
                result["stopped"] = str(err)
                long_results.append(result)
                continue
            th = read_thermo(log)  # inputs/ogn.in: step time temp ke pe etotal px py pz pnorm
            n = len(ds.ids)
            # velocity-Verlet with the true potential from the same state, at dt and at k x dt
            # (paper Fig. 4B), and the speed of both (MD-equivalent atom-steps per second)
            facts = entry.facts() | {"k": k}
            verlet = {label: run_nve(folder / "start.data", facts, multiple, long)
                      for label, multiple in (("dt", 1), ("k_dt", k))}
            loop = re.findall(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps", log)
            ogn_seconds = float(loop[-1][0]) if loop else float("nan")
            speed = measure_speed(model, meta, entry, folder / "start.data", ranks, folder / "speed", say, n_inf, m_star)
            speed["ogn_with_true_potential_atom_steps_per_s"] = n * long / ogn_seconds
            per_atom = 1.0 if ds.units == "lj" else 1.0 / n  # thermo normalizes in lj units only
            t_model = temperature(ds.units, masses, vs)
            t_ref = temperature(ds.units, masses, traj["velocities"])
            p = (masses[None, :, None] * vs).sum(1)
            e_total = th["etotal"] * per_atom
            steps = min(len(xs), (len(traj["positions"]) - 1) // k + 1)
            rmsd_model = np.sqrt(np.mean(np.sum((xs - xs[0]) ** 2, axis=2), axis=1))
            ref = traj["positions"][: (steps - 1) * k + 1: k]
            rmsd_ref = np.sqrt(np.mean(np.sum((ref - ref[0]) ** 2, axis=2), axis=1))
            result.update(
                lost_atoms=0,
                temperature_mean=float(t_model.mean()),
                temperature_reference=float(t_ref.mean()),
                temperature_last_quarter=float(t_model[3 * len(t_model) // 4:].mean()),
                momentum_drift=float(np.abs(p - p[0]).max() / np.abs(masses[None, :, None] * vs).sum(axis=(1, 2)).min()),
                energy_start=float(e_total[0]),
                energy_drift_per_atom=float(e_total[-1] - e_total[0]),
                energy_drift_slope=float(np.polyfit(th["time"], e_total, 1)[0]),
                time=th["time"].tolist(), etotal=e_total.tolist(), temp_model=t_model.tolist(),
                temp_reference=t_ref[: long + 1: k].tolist() if len(t_ref) > long else t_ref[::k].tolist(),
                position_rmse=rmse(xs[-1], traj["positions"][long]) if len(traj["positions"]) > long else None,
                # root-mean-square displacement from the start, 3D (paper Fig. S4); its plateau
                # in a glass is the cage length
                rmsd_model=rmsd_model.tolist(), rmsd_reference=rmsd_ref.tolist(),
                rmsd_reference_end=float(rmsd_ref[-1]),
                rmsd_reference_plateau=float(rmsd_ref[len(rmsd_ref) // 2:].mean()),
                verlet={label: dict(timestep=r.timestep, steps=r.steps, energy_drift_per_atom=r.drift,
                                    max_energy_deviation=r.max_deviation, lost_atoms=r.lost, failure=r.failure or "",
                                    seconds=r.seconds) for label, r in verlet.items()},
                speed=speed,
                energy_verlet_dt=verlet["dt"].energy, energy_verlet_k_dt=verlet["k_dt"].energy,
                time_verlet_dt=verlet["dt"].time, time_verlet_k_dt=verlet["k_dt"].time,
            )
            long_results.append(result)
    summary = {"model": str(model), "data": str(data), "system": meta["system"], "architecture": meta["architecture"],
               "k": k, "judge_steps": entry.judge_steps, "cage_length": entry.cage_length,
               "velocity_scale": entry.velocity_scale(np.bincount(ds_types, minlength=len(entry.masses) + 1)[1:]),
               "units": entry.units, "length_unit": entry.length_unit, "velocity_unit": entry.velocity_unit,
               "ranks": ranks, "starts": len(rows) // len(horizons), "rmse": {str(h): v for h, v in table.items()},
               "nominal_steps": {str(h): nominal[h] for h in horizons},
               "equal_accuracy": dict(md_steps=judged, pos=table[judged]["pos"], vel=table[judged]["vel"], ladder=rungs,
                                      m_star=m_star) if verlet_ladder else None,
               "long": [{key: value for key, value in r.items() if not isinstance(value, list)} for r in long_results]}
    series = {"curve": curve, "traced": traced,
              "long": [{key: value for key, value in r.items() if isinstance(value, list)} | {"trajectory": r["trajectory"]}
                       for r in long_results]}
    atomic_write_bytes(out / "series.json", json.dumps(series).encode())
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    text = io.StringIO()
    writer = csv.DictWriter(text, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "rmse.csv", text.getvalue().encode())
    plot(out, table, curve, traced, long_results, meta, meta["units"])
    print(format_summary(summary))
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"{'MD steps':>8} | {'position RMSE':>13} {'static':>8} {'free':>8} {'VV k dt':>8} | {'velocity RMSE':>13} "
             f"{'static':>8} {'free':>8} {'VV k dt':>8}   (mean over {summary['starts']} held-out starts, via fix ogn; "
             f"VV k dt: velocity-Verlet with the true potential at {summary['k']} x dt)"]
    def vv(x: float) -> str:  # NaN: the run at k x dt lost atoms before this horizon
        return f"{x:>8.4g}" if x == x else f"{'blew up':>8}"

    for h, r in summary["rmse"].items():
        near = summary.get("nominal_steps", {}).get(h)
        label = f"{h} (~{near})" if near is not None and str(near) != h else h
        lines.append(f"{label:>8} | {r['pos']:>13.4g} {r['pos_static']:>8.4g} {r['pos_free']:>8.4g} "
                     f"{vv(r.get('pos_verlet', float('nan')))} | {r['vel']:>13.4g} {r['vel_static']:>8.4g} "
                     f"{r['vel_free']:>8.4g} {vv(r.get('vel_verlet', float('nan')))}")
    ea = summary.get("equal_accuracy")
    if ea:
        rungs = "; ".join(f"{r['m']}x " + ("blew up" if r["blew_up"] else f"{r['pos']:.3g} / {r['vel']:.3g}")
                          + (f" (at {r['md_steps']})" if r["md_steps"] != ea["md_steps"] else "") for r in ea["ladder"])
        lines.append(f"velocity-Verlet at m x dt, position / velocity RMSE at {ea['md_steps']} MD steps: {rungs or 'none'}")
        lines.append(f"  fix ogn {ea['pos']:.3g} / {ea['vel']:.3g}: equal-accuracy timestep m* = {ea['m_star']} "
                     "(the largest m with both no worse than fix ogn's)")
    for r in summary["long"]:
        if r["stopped"]:
            lines.append(f"{r['trajectory']}, {r['md_steps']} MD steps: STOPPED: {r['stopped']}")
        else:
            dev = r["temperature_mean"] / r["temperature_reference"] - 1
            lines.append(
                f"{r['trajectory']}, {r['md_steps']} MD steps: no lost atoms; mean T {r['temperature_mean']:.4g} against "
                f"the reference's {r['temperature_reference']:.4g} ({100 * dev:+.1f}%), last quarter "
                f"{r['temperature_last_quarter']:.4g}; total energy drift {r['energy_drift_per_atom']:+.3g} per atom "
                f"(from {r['energy_start']:.4g}); max |P(t) - P(0)| / sum |m v| = {r['momentum_drift']:.2g}")
            for label, name in (("dt", "dt"), ("k_dt", "k x dt")):
                vv = r["verlet"][label]
                lines.append(f"    velocity-Verlet at {name} ({vv['timestep']:g}): total energy drift "
                             f"{vv['energy_drift_per_atom']:+.3g} per atom" + (f", {vv['failure']}" if vv["failure"] else ""))
            s = r["speed"]
            lines.append(f"    speed: fix ogn (pair_style zero) {s['ogn_atom_steps_per_s']:.4g} MD-equivalent atom-steps/s, "
                         f"velocity-Verlet at dt {s['verlet_atom_steps_per_s']:.4g}, both on {s['ogn_ranks']} rank(s): "
                         f"ratio {s['ratio']:.3g}" + (f" ({s['note']})" if s.get("note") else ""))
            if s.get("m_star"):
                timed = s.get("m_timed", s["m_star"])
                at = f"m* x dt = {s['m_star']} x dt" if timed == s["m_star"] else \
                    f"{timed} x dt (m* = {s['m_star']} did not hold over the timed run)"
                lines.append(f"    equal accuracy: velocity-Verlet at {at} "
                             f"{s['verlet_m_star_atom_steps_per_s']:.4g} MD-equivalent atom-steps/s: fix ogn / VV at "
                             f"that timestep {s['equal_accuracy_ratio']:.3g}")
            if "ogn_with_true_potential_atom_steps_per_s" in s:
                lines.append(f"    (the NVE run above, which evaluates the true potential every inference for thermo: "
                             f"{s['ogn_with_true_potential_atom_steps_per_s']:.4g}, "
                             f"ratio {s['ogn_with_true_potential_atom_steps_per_s'] / s['verlet_atom_steps_per_s']:.3g})")
    return "\n".join(lines)


def plot(out: Path, table: dict, curve: list, traced: dict | None, long_results: list, meta: dict,
         ds_units: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [c["md_steps"] for c in curve]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "pos", "position"), (axes[1], "vel", "velocity")):
        ax.plot(steps, [c[key] for c in curve], "-", label=f"fix ogn ({meta['architecture']})")
        ax.plot(steps, [c[f"{key}_static"] for c in curve], "--", label="static")
        ax.plot(steps, [c[f"{key}_free"] for c in curve], ":", label="free flight")
        if f"{key}_verlet" in curve[0]:
            ax.plot(steps, [c[f"{key}_verlet"] for c in curve], "-.", label=f"velocity-Verlet at {meta['k']} x dt")
        h = sorted(table)
        ax.plot(h, [table[s][key] for s in h], "o", color="C0")
        ax.set_xlabel("MD steps")
        ax.set_ylabel(f"{label} RMSE per component ({ds_units} units)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{meta['system']}: held-out starts, k = {meta['k']}")
    fig.tight_layout()
    save_figure(fig, out / "rmse.png")
    if traced:
        model, truth = np.asarray(traced["model"]), np.asarray(traced["truth"])
        t_truth = np.arange(len(truth)) * traced["dt"]
        fig, axes = plt.subplots(1, len(traced["ids"]), figsize=(4 * len(traced["ids"]), 3.8))
        for j, (ax, atom) in enumerate(zip(np.atleast_1d(axes), traced["ids"])):
            ax.plot(truth[:, j, 0], truth[:, j, 1], "-", color="0.4", label="LAMMPS (every MD step)")
            ax.plot(model[:, j, 0], model[:, j, 1], "o-", ms=3, color="C3", label="fix ogn (every inference)")
            ax.plot(truth[0, j, 0], truth[0, j, 1], "k*", ms=10)
            ax.set_title(f"atom {atom}")
            ax.set_xlabel(f"x ({ds_units} units)")
            ax.set_ylabel("y")
            ax.set_aspect("equal", adjustable="datalim")
        np.atleast_1d(axes)[0].legend(fontsize=8)
        fig.suptitle(f"{meta['system']}: paths over {t_truth[-1]:.3g} time units from {traced['trajectory']} "
                     f"MD step {traced['start']} (star: start)")
        fig.tight_layout()
        save_figure(fig, out / "trajectories.png")
    done = [r for r in long_results if not r.get("stopped")]
    if done:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        for i, r in enumerate(done):
            t = np.asarray(r["time"])
            c = f"C{i}"
            axes[0].plot(t, r["temp_model"], color=c, label=f"fix ogn, {r['trajectory']}")
            axes[0].plot(t[: len(r["temp_reference"])], r["temp_reference"], "--", color=c, label=f"LAMMPS, {r['trajectory']}")
            e = np.asarray(r["etotal"])
            axes[1].plot(t, e - e[0], color=c, label=f"fix ogn, {r['trajectory']}")
            if i == 0 and r.get("energy_verlet_dt"):
                for key, style, name in (("dt", ":", "dt"), ("k_dt", "-.", f"{meta['k']} x dt")):
                    ev = np.asarray(r[f"energy_verlet_{key}"])
                    axes[1].plot(r[f"time_verlet_{key}"], ev - ev[0], style, color="k" if key == "dt" else "C3",
                                 label=f"velocity-Verlet at {name}, {r['trajectory']}")
            axes[2].plot(t, r["rmsd_model"], color=c, label=f"fix ogn, {r['trajectory']}")
            axes[2].plot(t[: len(r["rmsd_reference"])], r["rmsd_reference"], "--", color=c, label=f"LAMMPS, {r['trajectory']}")
        axes[0].set_ylabel("temperature")
        axes[1].set_ylabel("E(t) - E(0) per atom (true potential + kinetic)")
        axes[1].set_yscale("symlog", linthresh=1e-3)
        axes[2].set_ylabel("RMS displacement from the start")
        for ax in axes:
            ax.set_xlabel(f"time ({ds_units} units)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{meta['system']}: {done[0]['md_steps']} MD steps in NVE")
        fig.tight_layout()
        save_figure(fig, out / "long.png")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.validate", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="model.pt")
    p.add_argument("--data", type=Path, required=True, help="held-out dataset file (its test trajectories)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--starts", type=int, default=2, help="start states per test trajectory (default 2)")
    p.add_argument("--horizon", type=int, default=None,
                   help="MD steps of each short run (default: 200, or the system's judged steps if more)")
    p.add_argument("--long", type=int, default=2000, help="MD steps of the long NVE run (0: none)")
    p.add_argument("--long-runs", type=int, default=1, help="trajectories with a long run (default 1)")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks for fix ogn")
    p.add_argument("--no-ladder", action="store_true",
                   help="skip velocity-Verlet at m x dt (the equal-accuracy timestep m* and its speed)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        validate(args.model, args.data, args.output, args.starts, args.horizon, args.long, args.long_runs,
                 args.ranks, args.quiet, verlet_ladder=not args.no_ladder)
    except (ValidateError, ModelError) as err:
        print(f"validate: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
