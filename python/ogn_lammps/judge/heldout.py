"""Held-out ground truth: a system's own deck run with seeds no training used.

The one place that knows the held-out seed and the deck arguments that make held-out data,
for `ogn_lammps.results` (paper size) and its studies (replicated boxes, other temperatures
and densities). The training data of every shipped model used the decks' default seed 12345.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..data.dataset import build as build_dataset
from ..environment import deck_arguments, inputs_dir, lmp_command, run_lmp

HELDOUT_SEED = 2026


class HeldoutError(RuntimeError):
    pass


def heldout_arguments(system: str, folder: Path, rep: int = 1, ntest: int = 2, nsteps: int = 2000,
                      variables: dict | None = None) -> list[str]:
    """The ground-truth deck's arguments for held-out data: `ntest` trajectories of `nsteps`
    MD steps on a `rep`^3 replicated box, seed HELDOUT_SEED + rep - 1; `variables` are the
    deck's other -var settings (a state point: temperature, rho, density)."""
    settings = {"inputs": inputs_dir(), "out": folder, "seed": HELDOUT_SEED + rep - 1, "ntrain": 0, "ntest": ntest,
                "nsteps": nsteps} | ({"rep": rep} if rep > 1 else {}) | dict(variables or {})
    return deck_arguments(inputs_dir() / f"{system}_ground_truth.in", settings)


def heldout_command(system: str, folder: Path, rep: int = 1, ntest: int = 2, nsteps: int = 2000,
                    variables: dict | None = None) -> list[str]:
    """The whole `lmp` command line of `heldout_arguments`, as printed for the reader."""
    return lmp_command() + heldout_arguments(system, folder, rep, ntest, nsteps, variables)


def make_heldout(system: str, folder: Path, rep: int = 1, ntest: int = 2, nsteps: int = 2000,
                 variables: dict | None = None, say=None) -> Path:
    """`folder/dataset.h5`, made by the deck and ogn_lammps.dataset when missing (a finished
    dataset is reused: it is only written once the deck has succeeded)."""
    data = folder / "dataset.h5"
    if data.is_file():
        return data
    where = ", ".join(f"{k} {v}" for k, v in (variables or {}).items())
    (say or _say)(f"{system}: held-out ground truth, {'x' + str(rep ** 3) + ' box, ' if rep > 1 else ''}"
                  f"{ntest} trajectories of {nsteps} MD steps{' at ' + where if where else ''} -> {folder}")
    run = run_lmp(heldout_arguments(system, folder, rep, ntest, nsteps, variables))
    if run.error:
        raise HeldoutError(f"{system}: held-out ground truth in {folder} failed: {run.error}")
    build_dataset(folder, quiet=True)
    return data


def _say(message: str) -> None:
    print(f"results: {message}", file=sys.stderr, flush=True)
