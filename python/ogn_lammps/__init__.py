"""ogn-lammps: observation-based graph networks that learn MD and run inside LAMMPS.

Stages, each one command that reads only what the previous one wrote: ground-truth decks in
inputs/ -> dataset -> train -> export (model.pt) -> fix ogn, the LAMMPS plugin that runs
model.pt as the integrator (lammps_plugin/) -> judging against LAMMPS.

The package follows the stages: `data` (LAMMPS files, the dataset, the system registry,
unit constants), `model` (the architectures, the learned step and its rollout loop,
model.pt), `train` (configuration, checkpoint, objectives, calibration, the loop, the
export) and `judge` (rollout, validate, evaluate, contrast, physics, results, loss_vs_k).
`environment` finds and launches LAMMPS; `atomic` writes files atomically.
"""

__version__ = "0.1.0"
