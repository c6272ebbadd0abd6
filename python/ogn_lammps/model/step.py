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
update; nothing else about a step lives elsewhere. `rollout` is the one loop that repeats
it, with `check_change` after every inference: the Python rollout (judge/rollout.py), the
drag calibration (train/calibration.py), the tests and the benchmarks all use it.
"""

from __future__ import annotations

import sys
import time

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


def step(model, types: torch.Tensor, positions: np.ndarray, velocities: np.ndarray, lengths: np.ndarray,
         cutoff: float, device: str = "cpu") -> np.ndarray:
    """One inference: (N, 6) float64 [dr, dv] over the model's k MD steps."""
    _, v, edge_index, vectors = model_inputs(types.cpu().numpy(), positions, velocities, lengths, cutoff, device)
    with torch.no_grad():
        out = model(types, v, edge_index, vectors)
    return out.to("cpu", torch.float64).numpy()


def rollout(model, metadata: dict, types: np.ndarray, ids: np.ndarray, positions: np.ndarray,
            velocities: np.ndarray, lengths: np.ndarray, n: int, device: str = "cpu",
            progress: bool = True) -> tuple[np.ndarray, np.ndarray, float, str | None]:
    """(positions (m+1, N, 3), velocities (m+1, N, 3), seconds per inference, failure).

    m = n unless the rollout diverged: then the states up to the last good one are returned
    with `failure` naming the inference and the atom.
    """
    cutoff = float(metadata["cutoff"])
    types_t = torch.as_tensor(types, dtype=torch.int64, device=device)
    xs = np.empty((n + 1,) + positions.shape)
    vs = np.empty_like(xs)
    xs[0], vs[0] = positions, velocities
    start = time.perf_counter()
    report = max(n // 10, 1)
    for i in range(1, n + 1):
        change = step(model, types_t, xs[i - 1], vs[i - 1], lengths, cutoff, device)
        failure = check_change(change, ids, cutoff, i, int(metadata["k"]))
        if failure:
            elapsed = (time.perf_counter() - start) / i
            return xs[:i], vs[:i], elapsed, failure
        xs[i], vs[i] = advance(xs[i - 1], vs[i - 1], change)
        if progress and (i % report == 0 or i == n):
            elapsed = time.perf_counter() - start
            print(f"rollout: {i}/{n} inferences, {elapsed / i * 1e3:.1f} ms each, ETA {elapsed / i * (n - i):.0f} s",
                  file=sys.stderr, flush=True)
    return xs, vs, (time.perf_counter() - start) / max(n, 1), None
