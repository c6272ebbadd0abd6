"""The training domain of a model: the ranges of the states it learned from, with margins.

Export writes them into metadata.json's "domain" block, and fix ogn checks every inference
(or every `domain/every N`) the state it hands the model against them (docs/fix_ogn.md, "The
training domain"). The quantities are the ones the fix measures, the same way:

  temperature       per type, sum m v^2 / (3 N_t k_B) (3 N_t degrees of freedom, as f_ID[t])
  density           number density N / V
  min_distance      the closest pair of each pair of types (symmetric, n_types x n_types)
  max_displacement  the largest |r(t + k dt) - r(t)| of one atom in one inference

Each range is widened by its margin (MARGINS, recorded in the block). The margins are a
judgement: the data's extremes are those of a finite sample, and a held-out state or a
thermostatted run of the same system should stay inside. The distribution of the largest
displacement (percentiles) is recorded for the reader; the fix uses only its bound. The
ground-truth datasets hold no potential energy, so no energy range is recorded.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from vesin import NeighborList

from ..data.dataset import Dataset
from ..model.graph import box_lengths
from ..data.units import BOLTZ, kinetic_energy

# relative widening of each range: temperature and density on both sides, the closest pair
# down, the largest displacement up
MARGINS = {"temperature": 0.25, "density": 0.1, "min_distance": 0.1, "max_displacement": 0.25}
PERCENTILES = (50, 90, 99, 100)


def closest_pairs(positions: np.ndarray, types: np.ndarray, lengths: np.ndarray, n_types: int,
                  cutoff: float) -> np.ndarray:
    """(n_types, n_types) closest distance of each pair of types in a periodic box; inf where no
    such pair is within `cutoff`."""
    i, j, d = NeighborList(cutoff=cutoff, full_list=False).compute(
        points=np.mod(positions, lengths), box=np.diag(lengths), periodic=True, quantities="ijd")
    closest = np.full((n_types, n_types), np.inf)
    a, b = types[i] - 1, types[j] - 1
    np.minimum.at(closest, (a, b), d)
    return np.minimum(closest, closest.T)


def type_temperatures(velocities: np.ndarray, types: np.ndarray, masses: np.ndarray, units: str) -> np.ndarray:
    """(..., n_types) kinetic temperature per type with 3 N_t degrees of freedom, for
    velocities (..., N, 3): one frame or a whole trajectory."""
    velocities = np.asarray(velocities, dtype=np.float64)
    columns = []
    for t in range(1, len(masses) + 1):
        mine = types == t
        ke = kinetic_energy(units, masses[types[mine] - 1], velocities[..., mine, :])
        columns.append(2.0 * ke / (3 * max(int(mine.sum()), 1) * BOLTZ[units]))
    return np.stack(columns, axis=-1)


def measure(dataset: str | Path, k: int, cutoff: float, split: str = "train") -> dict:
    """The raw ranges (no margins) over every frame of `split` of the dataset."""
    with Dataset(dataset) as data:
        if k % data.frame_stride:
            raise ValueError(f"{dataset}: k = {k} MD steps is not a multiple of the frame stride {data.frame_stride}")
        lag = k // data.frame_stride
        types = np.asarray(data.types)
        masses = np.asarray(data.masses, dtype=np.float64)
        n_types = len(masses)
        lengths = box_lengths(data.box)
        t_lo, t_hi = np.full(n_types, np.inf), np.full(n_types, -np.inf)
        closest = np.full((n_types, n_types), np.inf)
        largest = []
        frames = 0
        names = data.trajectories(split)
        if not names:
            raise ValueError(f"{dataset}: no {split} trajectories")
        for name in names:
            traj = data.trajectory(split, name)
            x, v = traj["positions"], traj["velocities"]
            t = type_temperatures(v, types, masses, data.units)  # (frames, n_types)
            t_lo, t_hi = np.minimum(t_lo, t.min(axis=0)), np.maximum(t_hi, t.max(axis=0))
            for f in range(len(x)):
                closest = np.minimum(closest, closest_pairs(x[f], types, lengths, n_types, cutoff))
            if len(x) > lag:
                largest.append(np.linalg.norm(x[lag:] - x[:-lag], axis=2).max(axis=1))
            frames += len(x)
        largest = np.concatenate(largest) if largest else np.zeros(0)
        return {"temperature": np.stack([t_lo, t_hi], axis=1), "density": len(types) / float(np.prod(lengths)),
                "min_distance": closest, "displacements": largest, "frames": frames, "units": data.units}


def training_domain(dataset: str | Path, k: int, cutoff: float, margins: dict | None = None) -> dict:
    """metadata.json's "domain" block for a model of stride k trained on `dataset`."""
    margins = dict(MARGINS, **(margins or {}))
    raw = measure(dataset, k, cutoff)
    if not len(raw["displacements"]):
        raise ValueError(f"{dataset}: no trajectory is longer than k = {k} MD steps")
    if not np.all(np.isfinite(raw["min_distance"])):
        a, b = (int(q) + 1 for q in np.argwhere(~np.isfinite(raw["min_distance"]))[0])
        raise ValueError(f"{dataset}: no pair of types {a} and {b} closer than {cutoff}; cannot bound its distance")
    m = margins
    pct = np.percentile(raw["displacements"], PERCENTILES)
    return {
        "temperature": [[float(lo * (1 - m["temperature"])), float(hi * (1 + m["temperature"]))]
                        for lo, hi in raw["temperature"]],
        "density": [raw["density"] * (1 - m["density"]), raw["density"] * (1 + m["density"])],
        "min_distance": (raw["min_distance"] * (1 - m["min_distance"])).tolist(),
        "max_displacement": float(pct[-1] * (1 + m["max_displacement"])),
        "displacement_percentiles": {str(p): float(q) for p, q in zip(PERCENTILES, pct)},
        "margin": m,
        "measured": {"temperature": raw["temperature"].tolist(), "density": raw["density"],
                     "min_distance": raw["min_distance"].tolist(), "frames": raw["frames"],
                     "source": str(Path(dataset))},
    }


def describe(domain: dict, type_names: list[str]) -> str:
    """The block as a few lines for export's log."""
    lines = [f"  temperature {name}: {lo:.4g} to {hi:.4g}" for name, (lo, hi) in zip(type_names, domain["temperature"])]
    lines.append(f"  number density: {domain['density'][0]:.4g} to {domain['density'][1]:.4g}")
    for a, b in itertools.combinations_with_replacement(range(len(type_names)), 2):
        lines.append(f"  closest {type_names[a]}-{type_names[b]}: {domain['min_distance'][a][b]:.4g}")
    lines.append(f"  largest displacement of one inference: {domain['max_displacement']:.4g}")
    return "\n".join(lines)
