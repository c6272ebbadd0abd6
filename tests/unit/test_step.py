"""The learned step and its one rollout loop (model/step.py) and the periodic graph
(model/graph.py), on hand-made states: no dataset, no LAMMPS, no training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ogn_lammps.model import build
from ogn_lammps.model.graph import box_lengths, build_graph
from ogn_lammps.model.step import advance, check_change, model_inputs, rollout, target
from ogn_lammps.train.calibration import rollout_trend

pytestmark = pytest.mark.unit


class Drift(nn.Module):
    """A stand-in model: every atom moves by `dr` and its velocity changes by `dv` per inference."""

    def __init__(self, dr, dv):
        super().__init__()
        self.register_buffer("change", torch.tensor(list(dr) + list(dv), dtype=torch.float64))

    def forward(self, types, velocities, edge_index, edge_vectors):
        return self.change.expand(len(types), 6)


def test_graph_of_two_atoms_across_the_boundary():
    """Atoms at x = 0.5 and 9.5 in a box of 10 are 1 apart through the boundary."""
    x = np.array([[0.5, 5.0, 5.0], [9.5, 5.0, 5.0]])
    edge_index, vectors = build_graph(x, np.array([10.0, 10.0, 10.0]), 1.5)
    assert edge_index.tolist() == [[0, 1], [1, 0]]
    assert np.allclose(vectors, [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    # unwrapped positions, one box further, give the same graph
    edge_index2, vectors2 = build_graph(x + [10.0, 0.0, -20.0], np.array([10.0, 10.0, 10.0]), 1.5)
    assert np.array_equal(edge_index, edge_index2) and np.allclose(vectors, vectors2)
    assert box_lengths(np.array([[-1.0, 2.0], [0.0, 4.0], [1.0, 6.0]])).tolist() == [3.0, 4.0, 5.0]


def test_graph_errors_are_named():
    with pytest.raises(ValueError, match="non-finite position for atom index 1"):
        build_graph(np.array([[0.0, 0, 0], [np.nan, 0, 0]]), np.ones(3) * 5, 1.0)
    with pytest.raises(ValueError, match="positive cutoff"):
        build_graph(np.zeros((1, 3)), np.ones(3), 0.0)


def test_advance_inverts_target():
    rng = np.random.default_rng(0)
    x0, v0, x1, v1 = (rng.normal(size=(5, 3)) for _ in range(4))
    x, v = advance(x0, v0, target(x0, v0, x1, v1))
    assert np.allclose(x, x1) and np.allclose(v, v1)


def test_rollout_repeats_the_step():
    x0 = np.array([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    v0 = np.zeros((2, 3))
    xs, vs, _, failure = rollout(Drift([0.1, 0, 0], [0, 0.5, 0]), {"cutoff": 2.5, "k": 5}, np.array([1, 2]),
                                 np.array([7, 8]), x0, v0, np.array([8.0, 8.0, 8.0]), 4, progress=False)
    assert failure is None and xs.shape == (5, 2, 3)
    assert np.allclose(xs[4], x0 + [0.4, 0, 0]) and np.allclose(vs[4], [[0, 2.0, 0]] * 2)


def test_rollout_stops_where_an_atom_outruns_the_cutoff():
    """A step of 3 with a cutoff of 2.5: stopped at inference 1, the start kept, the atom named."""
    x0 = np.array([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    xs, _, _, failure = rollout(Drift([3.0, 0, 0], [0, 0, 0]), {"cutoff": 2.5, "k": 5}, np.array([1, 2]),
                                np.array([7, 8]), x0, np.zeros((2, 3)), np.array([8.0, 8.0, 8.0]), 4, progress=False)
    assert len(xs) == 1 and np.array_equal(xs[0], x0)
    assert "atom id 7 moved 3 in one inference (inference 1, MD step 5)" in failure
    assert "non-finite prediction at inference 2 (MD step 10) for atom id 8" in check_change(
        np.array([[0.0] * 6, [np.inf] + [0.0] * 5]), np.array([7, 8]), 2.5, 2, 5)


def test_model_inputs_are_the_graph_and_the_velocities():
    x = np.array([[0.5, 5.0, 5.0], [9.5, 5.0, 5.0]])
    types, v, edge_index, vectors = model_inputs(np.array([1, 2]), x, np.ones((2, 3)), np.ones(3) * 10, 1.5)
    assert types.dtype == torch.int64 and v.dtype == torch.float64 and edge_index.shape == (2, 2)
    assert torch.allclose(vectors[0], torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64))


def test_the_drag_calibration_counts_a_runaway_rollout_as_infinitely_hot():
    """Its own loop used to check only for non-finite numbers: a model whose atoms jump past
    the cutoff gave a finite trend. Through model/step.py's rollout it is +inf."""
    system = {"n_types": 1, "masses": [1.0], "k": 5, "dt": 0.005, "cutoff": 2.5}
    model = build("impulse", {"stages": 1, "width": 8, "n_rbf": 4, "calibration_inferences": 3}, system)
    rng = np.random.default_rng(2)
    start = {"types": np.ones(20, dtype=int), "positions": rng.uniform(0, 6, (20, 3)),
             "velocities": rng.normal(size=(20, 3)), "lengths": np.full(3, 6.0), "reference_ke": 60.0}
    assert np.isfinite(rollout_trend(model, [start], k=5))
    with torch.no_grad():
        model.tau.fill_(10.0)  # dr = tau v: several cutoffs per inference, every number finite
    assert rollout_trend(model, [start], k=5) == float("inf")
