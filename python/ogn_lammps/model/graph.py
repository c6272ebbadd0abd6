"""Graphs for the OGN: every ordered pair of atoms within the cutoff, in a periodic box.

vesin finds the pairs; `benchmarks/neighbours.py` measured it faster than scipy's cKDTree
and matscipy on the paper's systems. Positions may be unwrapped: edge vectors are the
minimum-image-free r_j - r_i of the periodic images within the cutoff.
"""

from __future__ import annotations

import numpy as np
from vesin import NeighborList


def box_lengths(box: np.ndarray) -> np.ndarray:
    """Edge lengths (3,) of an orthogonal box given as [[lo, hi]] x 3."""
    box = np.asarray(box, dtype=np.float64)
    return box[:, 1] - box[:, 0]


def build_graph(positions: np.ndarray, lengths: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(edge_index (2, E) int64 with rows i and j, edge_vectors (E, 3) float64 = r_j - r_i).

    Edges are sorted by i, then j, so the same configuration always gives the same graph.
    """
    positions = np.asarray(positions, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    if cutoff <= 0 or not np.all(lengths > 0):
        raise ValueError(f"graph: need a positive cutoff and box, got cutoff {cutoff}, box {lengths}")
    if not np.all(np.isfinite(positions)):
        bad = int(np.argwhere(~np.isfinite(positions))[0, 0])
        raise ValueError(f"graph: non-finite position for atom index {bad}")
    wrapped = np.mod(positions, lengths)
    i, j, vectors = NeighborList(cutoff=cutoff, full_list=True).compute(
        points=wrapped, box=np.diag(lengths), periodic=True, quantities="ijD"
    )
    order = np.lexsort((j, i))
    edge_index = np.stack([i[order], j[order]]).astype(np.int64)
    return edge_index, np.ascontiguousarray(vectors[order])
