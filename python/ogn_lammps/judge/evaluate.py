"""Compare a rollout with the LAMMPS ground truth it started from.

    python -m ogn_lammps.evaluate rollout.h5 -o results/lj_fast

Prints the per-atom position and velocity RMSE against MD step (the paper's ESI Fig. S3),
next to two baselines from the same start: "static" (nothing moves) and "free flight"
(x + v t, v constant). Writes into the output folder:

- rmse.csv: every inference's RMSEs;
- trajectories.png: true and predicted paths of a few atoms (Fig. 2B);
- scatter.png: predicted against true positions and velocities at the last step (Fig. 2C);
- energy.png: potential, kinetic and total energy per atom and total momentum against time
  (Fig. 4B). The potential energy of predicted frames comes from the system's real force
  field, evaluated by the LAMMPS Python module.

RMSE is over atoms and Cartesian components: sqrt(mean((pred - true)^2)).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_write_bytes, save_figure
from ..data import units as unit_styles
from ..data.dataset import Dataset
from ..environment import forcefield_file, start_lammps
from ..model.model_file import ModelError



class EvaluateError(RuntimeError):
    pass


def rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame: sqrt(mean over atoms and components of (a - b)^2)."""
    return np.sqrt(np.mean((a - b) ** 2, axis=(-2, -1)))


def potential_energies(info: dict, box: np.ndarray, types: np.ndarray, masses: np.ndarray,
                       frames: np.ndarray) -> np.ndarray:
    """Potential energy per atom of each frame, from the real force field through LAMMPS."""
    import ctypes

    n = len(types)
    lmp = start_lammps()
    try:
        lo, hi = box[:, 0], box[:, 1]
        lmp.commands_list([
            f"units {info['units']}",
            f"atom_style {info.get('atom_style', 'atomic')}",
            "atom_modify map array sort 0 0.0",
            f"region box block {lo[0]} {hi[0]} {lo[1]} {hi[1]} {lo[2]} {hi[2]}",
            f"create_box {len(masses)} box",
        ])
        lengths = hi - lo
        wrapped = lo + np.mod(frames[0] - lo, lengths)
        lmp.create_atoms(n, list(range(1, n + 1)), [int(t) for t in types], wrapped.ravel().tolist())
        lmp.command(f"include {forcefield_file(info.get('forcefield', info['system']))}")
        lmp.commands_list(["thermo_style custom step pe", "thermo_modify norm no", "run 0 post no"])
        energies = []
        for frame in frames:
            wrapped = lo + np.mod(frame - lo, lengths)
            lmp.scatter_atoms("x", 1, 3, (ctypes.c_double * (3 * n))(*wrapped.ravel()))
            lmp.command("run 0 post no")
            energies.append(lmp.get_thermo("pe") / n)
        return np.array(energies)
    finally:
        lmp.close()


def kinetic_energies(units: str, types: np.ndarray, masses: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """Per frame, per atom, in the data's energy unit."""
    return unit_styles.kinetic_energy(units, masses[types - 1], velocities) / velocities.shape[1]


def momenta(types: np.ndarray, masses: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """Total momentum per atom (frames, 3)."""
    m = masses[types - 1][None, :, None]
    return np.sum(m * velocities, axis=1) / velocities.shape[1]


def plot_trajectories(path: Path, true_x: np.ndarray, pred_x: np.ndarray, atoms: np.ndarray, title: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), sharex=True, sharey=True)
    for ax, x, label in ((axes[0], true_x, "true (LAMMPS)"), (axes[1], pred_x, "predicted (OGN)")):
        for n, a in enumerate(atoms):
            ax.plot(x[:, a, 0], x[:, a, 1], "-", color=f"C{n % 10}", lw=1.2)
            ax.plot(x[0, a, 0], x[0, a, 1], "o", color=f"C{n % 10}", ms=3)
        ax.set_title(label)
        ax.set_xlabel("x")
        ax.set_aspect("equal", adjustable="box")
    axes[0].set_ylabel("y")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def plot_scatter(path: Path, true_x, pred_x, true_v, pred_v, title: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    for ax, t, p, label in ((axes[0], true_x, pred_x, "position"), (axes[1], true_v, pred_v, "velocity")):
        t, p = t.ravel(), p.ravel()
        lo, hi = min(t.min(), p.min()), max(t.max(), p.max())
        ax.hist2d(t, p, bins=80, range=[[lo, hi], [lo, hi]], norm=LogNorm(), cmap="viridis")
        ax.plot([lo, hi], [lo, hi], "--", color="grey", lw=1)
        ax.set_xlabel(f"true {label} (x, y, z)")
        ax.set_ylabel(f"predicted {label}")
        ax.set_title(f"{label}: RMSE {np.sqrt(np.mean((t - p) ** 2)):.3g}")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def plot_energy(path: Path, time_true, e_true: dict, time_pred, e_pred: dict, p_true, p_pred, units: str, title: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    for ax, key in zip(axes[:3], ("pe", "ke", "total")):
        ax.plot(time_true, e_true[key], "-", color="k", label="LAMMPS")
        ax.plot(time_pred, e_pred[key], "-", color="C1", label="OGN")
        name = {"pe": "potential", "ke": "kinetic", "total": "total"}[key] + " energy per atom"
        # A diverging rollout reaches 1e10: keep the axis on the physical range and say so.
        true_lo, true_hi = float(np.min(e_true[key])), float(np.max(e_true[key]))
        span = max(true_hi - true_lo, 0.05 * abs(true_hi) + 1e-12)
        lo, hi = true_lo - 4 * span, true_hi + 4 * span
        if np.nanmin(e_pred[key]) < lo or np.nanmax(e_pred[key]) > hi:
            ax.set_ylim(lo, hi)
            name += " (OGN off scale)"
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(f"time ({units} units)")
    axes[0].legend()
    ax = axes[3]
    ax.plot(time_true, np.linalg.norm(p_true, axis=1), "-", color="k", label="LAMMPS")
    ax.plot(time_pred, np.linalg.norm(p_pred, axis=1), "-", color="C1", label="OGN")
    ax.set_title("|total momentum| per atom")
    ax.set_xlabel(f"time ({units} units)")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def evaluate(rollout_path: Path, data: Path | None, out: Path, n_atoms_plot: int = 10, quiet: bool = False) -> list[dict]:
    if not rollout_path.is_file():
        raise EvaluateError(f"{rollout_path}: rollout file not found; make one with python -m ogn_lammps.rollout")
    with h5py.File(rollout_path, "r") as h5:
        attrs = dict(h5.attrs)
        pred_x = h5["positions"][()]
        pred_v = h5["velocities"][()]
        md_steps = h5["md_steps"][()]
    meta = json.loads(attrs["model_metadata"])
    data = Path(data or attrs["dataset"])
    if not data.is_file():
        raise EvaluateError(f"{data}: dataset file not found (pass --data)")
    k, stride, start = int(attrs["k"]), int(attrs["frame_stride"]), int(attrs["start_frame"])
    with Dataset(data) as ds:
        traj = ds.trajectory("test", str(attrs["trajectory"]))
        info, box, types, masses, units, dt = ds.info, ds.box, ds.types, ds.masses, ds.units, ds.dt
    if ds.frame_stride != stride:
        raise EvaluateError(f"{data}: frame stride {ds.frame_stride}, the rollout was made with {stride}")
    frames = start + np.arange(len(pred_x)) * (k // stride)
    overlap = int(np.sum(frames < len(traj["positions"])))
    if overlap < 2:
        raise EvaluateError(f"{data}: trajectory {attrs['trajectory']} has no ground truth after frame {start}")
    true_x = traj["positions"][frames[:overlap]]
    true_v = traj["velocities"][frames[:overlap]]
    px, pv = pred_x[:overlap], pred_v[:overlap]
    offsets = md_steps[:overlap] - md_steps[0]
    t_md = offsets * dt
    rows = []
    for i in range(overlap):
        rows.append({
            "md_step": int(offsets[i]),
            "position_rmse": float(rmse(px[i], true_x[i])),
            "velocity_rmse": float(rmse(pv[i], true_v[i])),
            "static_position_rmse": float(rmse(true_x[0], true_x[i])),
            "free_flight_position_rmse": float(rmse(true_x[0] + true_v[0] * t_md[i], true_x[i])),
            "static_velocity_rmse": float(rmse(true_v[0], true_v[i])),
        })
    out.mkdir(parents=True, exist_ok=True)

    title = f"{meta['system']}: {meta['architecture']}, k = {k}, {len(px) - 1} inferences"
    if attrs.get("failure"):
        title += " (diverged)"
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    atoms = rng.choice(len(types), size=min(n_atoms_plot, len(types)), replace=False)
    plot_trajectories(out / "trajectories.png", true_x, px, atoms, title)
    plot_scatter(out / "scatter.png", true_x[-1], px[-1], true_v[-1], pv[-1], title + f", MD step {offsets[-1]}")
    if not quiet:
        print(f"evaluate: potential energies of {len(pred_x)} predicted and {overlap} true frames with LAMMPS ...",
              file=sys.stderr, flush=True)
    e_pred = {"pe": potential_energies(info, box, types, masses, pred_x),
              "ke": kinetic_energies(units, types, masses, pred_v)}
    e_true = {"pe": potential_energies(info, box, types, masses, true_x),
              "ke": kinetic_energies(units, types, masses, true_v)}
    for e in (e_pred, e_true):
        e["total"] = e["pe"] + e["ke"]
    plot_energy(out / "energy.png", t_md, e_true, (md_steps - md_steps[0]) * dt, e_pred,
                momenta(types, masses, true_v), momenta(types, masses, pred_v), units, title)
    for row, pe, ke in zip(rows, e_pred["pe"], e_pred["ke"]):
        row["predicted_total_energy"] = float(pe + ke)
    for row, pe, ke in zip(rows, e_true["pe"], e_true["ke"]):
        row["true_total_energy"] = float(pe + ke)
    text = io.StringIO()
    writer = csv.DictWriter(text, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "rmse.csv", text.getvalue().encode())
    return rows


def format_table(rows: list[dict], max_rows: int = 25) -> str:
    picks = range(len(rows))
    if len(rows) > max_rows:
        picks = sorted(set(np.linspace(0, len(rows) - 1, max_rows).round().astype(int)) |
                       {i for i, r in enumerate(rows) if r["md_step"] == 100})
    lines = [f"{'MD step':>8} {'pos RMSE':>10} {'vel RMSE':>10} | {'static pos':>10} {'free flight':>11} {'static vel':>10} | {'E true':>10} {'E OGN':>10}"]
    for i in picks:
        r = rows[i]
        lines.append(
            f"{r['md_step']:8d} {r['position_rmse']:10.4g} {r['velocity_rmse']:10.4g} | "
            f"{r['static_position_rmse']:10.4g} {r['free_flight_position_rmse']:11.4g} {r['static_velocity_rmse']:10.4g} | "
            f"{r.get('true_total_energy', float('nan')):10.5g} {r.get('predicted_total_energy', float('nan')):10.5g}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("rollout", help="rollout.h5 from python -m ogn_lammps.rollout")
    p.add_argument("--data", help="dataset file (default: the one the rollout names)")
    p.add_argument("-o", "--out", default="evaluation", help="folder for rmse.csv and the plots")
    p.add_argument("--atoms", type=int, default=10, help="atoms drawn in trajectories.png")
    args = p.parse_args(argv)
    try:
        rows = evaluate(Path(args.rollout), Path(args.data) if args.data else None, Path(args.out), args.atoms)
    except (EvaluateError, ModelError) as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows))
    print(f"evaluate: wrote {args.out}/rmse.csv, trajectories.png, scatter.png, energy.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
