"""The 48 symmetries of the cube (paper 4.4 vii): axis permutations times sign flips.

A training configuration in a cubic box gets one of them at random each epoch. The box
maps onto itself, so the graph does not change: only edge vectors, velocities and targets
are rotated, each as x -> x @ R.T.
"""

from __future__ import annotations

import itertools

import numpy as np


def cubic_symmetries() -> np.ndarray:
    """(48, 3, 3) orthogonal matrices; index 0 is the identity."""
    ops = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[np.arange(3), perm] = signs
            ops.append(m)
    return np.stack(ops)


CUBIC_SYMMETRIES = cubic_symmetries()


def apply(op: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rotate row vectors (..., 3) by the 3 x 3 matrix `op`."""
    return vectors @ op.T
