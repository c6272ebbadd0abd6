"""One learned step, defined once (design §5): state -> model inputs, prediction -> new state,
and its inverse, the training target.

Every architecture maps the same inputs to the same kind of prediction, so training, the
Python rollout and `fix ogn` all use these functions (the fix mirrors `advance` and
`check_change` in `FixOGN::check_and_apply`):

- inputs: LAMMPS types (1..n_types), velocities (N, 3), and the periodic graph of every
  ordered pair (i, j) within the cutoff with its vector r_j - r_i (`model_inputs`);
- prediction: (N, 6) = [dr, dv], the change of position and velocity over k MD steps, in the
  data's units (the model applies its own kinematic prior or standardization inside);
- advance: x + dr, v + dv in float64 (`advance`); the target is its inverse (`target`).

As in DeepMind's GNS `learned_simulator.py`, the model sees the state and returns the
update; nothing else about a step lives elsewhere.
"""

from __future__ import annotations

import numpy as np
import torch

from .graph import build_graph


def model_inputs(types: np.ndarray, positions: np.ndarray, velocities: np.ndarray, lengths: np.ndarray,
                 cutoff: float, device: str | torch.device = "cpu") -> tuple[torch.Tensor, ...]:
    """(types int64 (N,), velocities (N, 3) float64, edge_index int64 (2, E), edge_vectors (E, 3))."""
    edge_index, vectors = build_graph(positions, lengths, cutoff)
    return (
        torch.as_tensor(np.asarray(types), dtype=torch.int64, device=device),
        torch.as_tensor(np.asarray(velocities, dtype=np.float64), device=device),
        torch.from_numpy(edge_index).to(device),
        torch.from_numpy(vectors).to(device),
    )


def target(x0: np.ndarray, v0: np.ndarray, x1: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """The prediction that `advance` would turn (x0, v0) into (x1, v1) with: [x1 - x0, v1 - v0]."""
    return np.concatenate([x1 - x0, v1 - v0], axis=-1)


def advance(positions: np.ndarray, velocities: np.ndarray, change: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The state after one inference: x + dr, v + dv, in float64."""
    change = np.asarray(change, dtype=np.float64)
    return positions + change[:, :3], velocities + change[:, 3:6]


def check_change(change: np.ndarray, ids: np.ndarray, cutoff: float, inference: int, k: int) -> str | None:
    """None, or why the run must stop: a non-finite prediction, or a move beyond the cutoff."""
    bad = ~np.isfinite(change).all(1)
    if bad.any():
        return (f"non-finite prediction at inference {inference} (MD step {inference * k}) "
                f"for atom id {int(ids[np.argmax(bad)])}")
    moved = np.linalg.norm(change[:, :3], axis=1)
    if moved.max() > cutoff:
        return (f"atom id {int(ids[np.argmax(moved)])} moved {moved.max():.3g} in one inference "
                f"(inference {inference}, MD step {inference * k}), more than the cutoff {cutoff}: "
                "the rollout has diverged")
    return None
