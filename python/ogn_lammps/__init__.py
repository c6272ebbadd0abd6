"""ogn-lammps: observation-based graph networks that learn MD and run inside LAMMPS.

Stages (each one command, each reading only what the previous one wrote):
ground-truth decks in inputs/ -> dataset -> train -> export (model.pt) -> rollout -> evaluate;
fix ogn (the LAMMPS plugin) is to come.
"""

__version__ = "0.1.0"
