"""Training pairs: (frame t, frame t + k) of one split of a dataset, with cached graphs, as
tensors (`Sample`); several configurations batched as one disjoint graph (`collate`).

The target of a pair is the inverse of the learned step (model/step.py's `target`); a cubic
symmetry rotates velocities, edge vectors and targets alike (model/symmetry.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.dataset import Dataset
from ..model.graph import box_lengths, build_graph
from ..model.step import target
from ..model.symmetry import CUBIC_SYMMETRIES
from .config import TrainingError

@dataclass
class Sample:
    """One training pair in tensors: graph of frame t and the target change over k steps."""

    types: torch.Tensor
    velocities: torch.Tensor  # float64 (N, 3)
    edge_index: torch.Tensor  # int64 (2, E)
    edge_vectors: torch.Tensor  # float64 (E, 3)
    targets: torch.Tensor  # float64 (N, 6)
    batch: torch.Tensor | None = None  # configuration of each atom, in a batch of several


class Pairs:
    """(frame t, frame t + k) pairs of one split, held in memory, with cached graphs."""

    def __init__(self, dataset: Dataset, split: str, k: int, cutoff: float, cache_mb: float):
        if k < 1:
            raise TrainingError(f"k must be a positive number of MD steps, got {k}")
        if k % dataset.frame_stride:
            raise TrainingError(
                f"k = {k} MD steps is not a multiple of the dataset's frame stride {dataset.frame_stride}"
            )
        self.k_frames = k // dataset.frame_stride
        self.cutoff = cutoff
        self.lengths = box_lengths(dataset.box)
        self.types = torch.as_tensor(dataset.types, dtype=torch.int64)
        self.positions, self.velocities, self.index = [], [], []
        for t, name in enumerate(dataset.trajectories(split)):
            traj = dataset.trajectory(split, name)
            n_frames = traj["positions"].shape[0]
            if n_frames <= self.k_frames:
                raise TrainingError(
                    f"{dataset.path}: {split}/{name} has {n_frames} frames, fewer than k + 1 = {self.k_frames + 1}"
                )
            self.positions.append(traj["positions"])
            self.velocities.append(traj["velocities"])
            self.index += [(t, f) for f in range(n_frames - self.k_frames)]
        if not self.index:
            raise TrainingError(f"{dataset.path}: no {split} trajectories")
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cache_bytes = 0
        self._cache_limit = cache_mb * 2**20

    def __len__(self) -> int:
        return len(self.index)

    def graph(self, pair: int) -> tuple[np.ndarray, np.ndarray]:
        """Edges of frame t, built once: (edge_index int32, shifts int8) are cached."""
        t, f = self.index[pair]
        positions = self.positions[t][f]
        wrapped = np.mod(positions, self.lengths)
        cached = self._cache.get(pair)
        if cached is None:
            edge_index, vectors = build_graph(positions, self.lengths, self.cutoff)
            shifts = np.rint((vectors - (wrapped[edge_index[1]] - wrapped[edge_index[0]])) / self.lengths)
            cached = (edge_index.astype(np.int32), shifts.astype(np.int8))
            size = cached[0].nbytes + cached[1].nbytes
            if self._cache_bytes + size <= self._cache_limit:
                self._cache[pair] = cached
                self._cache_bytes += size
        edge_index, shifts = cached
        i, j = edge_index
        vectors = wrapped[j] - wrapped[i] + shifts * self.lengths
        return edge_index.astype(np.int64), vectors

    def frame(self, pair: int, steps: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions, velocities) `steps` inferences after the pair's first frame, or None
        when its trajectory ends before."""
        t, f = self.index[pair]
        later = f + steps * self.k_frames
        if later >= len(self.positions[t]):
            return None
        return np.asarray(self.positions[t][later]), np.asarray(self.velocities[t][later])

    def sample(self, pair: int, symmetry: int = 0) -> Sample:
        t, f = self.index[pair]
        edge_index, vectors = self.graph(pair)
        x0, v0 = self.positions[t][f], self.velocities[t][f]
        x1, v1 = self.positions[t][f + self.k_frames], self.velocities[t][f + self.k_frames]
        return self._sample(edge_index, vectors, x0, v0, x1, v1, symmetry)

    def sample_from(self, x0: np.ndarray, v0: np.ndarray, x1: np.ndarray, v1: np.ndarray,
                    symmetry: int = 0) -> Sample:
        """A training sample from any state (x0, v0) to (x1, v1): its graph is built afresh."""
        edge_index, vectors = build_graph(x0, self.lengths, self.cutoff)
        return self._sample(edge_index, vectors, x0, v0, x1, v1, symmetry)

    def _sample(self, edge_index, vectors, x0, v0, x1, v1, symmetry: int) -> Sample:
        targets = target(x0, v0, x1, v1)
        op = CUBIC_SYMMETRIES[symmetry]
        targets = np.concatenate([targets[:, :3] @ op.T, targets[:, 3:] @ op.T], 1)
        return Sample(
            types=self.types,
            velocities=torch.from_numpy(v0 @ op.T),
            edge_index=torch.from_numpy(edge_index),
            edge_vectors=torch.from_numpy(vectors @ op.T),
            targets=torch.from_numpy(targets),
        )


def collate(samples: list[Sample]) -> Sample:
    """Several configurations as one disjoint graph (torch_geometric's batching)."""
    if len(samples) == 1:
        return samples[0]
    from torch_geometric.data import Batch, Data

    batch = Batch.from_data_list(
        [Data(types=s.types, v=s.velocities, edge_index=s.edge_index, edge_attr=s.edge_vectors, y=s.targets,
              num_nodes=len(s.types)) for s in samples]
    )
    return Sample(batch.types, batch.v, batch.edge_index, batch.edge_attr, batch.y, batch.batch)
