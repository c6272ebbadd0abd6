"""The learned-step architectures, chosen by name in a training config (`[model] architecture`).

Adding one is one new module here plus a config: an `nn.Module` class with

- `name`, a `Config` dataclass (its fields besides `n_types` are the [model] keys, with
  defaults) and `wants_augmentation` (cubic symmetries during training, for models that are
  not rotation-equivariant by construction);
- `from_settings(settings, system)`: the model for a system (n_types, masses, dt, k, cutoff);
- scripted `forward(types, velocities, edge_index, edge_vectors) -> (N, 6) [dr, dv]` (the
  step of `step.py`), and `stage(index, types, nodes, edges, edge_index, edge_vectors)` and
  `finish(nodes)`, with `program()` saying how many stages there are and how wide the node
  rows are that fix ogn exchanges with the ghost atoms' owners before each (docs/model.md);
- `flops(n_nodes, n_edges)`, and the buffers of the scales its function uses.

A model keeps only its function and those scales: how training fits the scales, the loss
and any calibration after training are its objective, one line in
train/objectives.py `OBJECTIVES`. The export, the rollout and fix ogn know nothing else
about an architecture.
"""

from __future__ import annotations

import importlib

# name -> (module, class)
ARCHITECTURES = {
    "ogn": ("ogn_lammps.model.ogn", "OGN"),
    "impulse": ("ogn_lammps.model.impulse", "PairImpulseOGN"),
}


def architecture(name: str):
    """The model class registered under `name`; a clear error for an unknown one."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}, expected one of {sorted(ARCHITECTURES)}")
    module, cls = ARCHITECTURES[name]
    return getattr(importlib.import_module(module), cls)


def build(name: str, settings: dict, system: dict):
    """A fresh model of architecture `name` for `system` with the [model] `settings`."""
    return architecture(name).from_settings(settings, system)
