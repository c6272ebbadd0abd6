"""Shared fixtures: real ground-truth decks run once per session with the wheel's `lmp`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INPUTS = REPO / "inputs"
BIN = Path(sys.executable).parent

# Reduced runs of every deck: one train and one test trajectory, shorter equilibration.
# The LJ liquid runs 3000 NVE steps so that its energy-drift slope is not lost in the
# per-step fluctuations of dt = 0.005 at T = 3.0 (about 2e-3 eps per atom).
SMALL = {
    "lj": dict(nsteps=3000, neq=3000, npre=500),
    "lj_glass": dict(nsteps=1000, neq=2000, npre=500, nglass=1000),
    "sio2": dict(nsteps=1000, neq=2000, npre=2000),
    "si": dict(nsteps=1000, neq=3000, npre=1000),
    "cuzr": dict(nsteps=1000, neq=3000, npre=1000),
    # an MLIP at 40 ms per step for 128 atoms: the SNAP part (neq + nconv x nwin + nsteps) is short
    "si_snap": dict(nsteps=300, neq=200, npre=500, nsw=1000, nwin=100, nconv=2),
    # SNAP + ZBL relaxes its own random start (no cheap W-Be potential): 1 000 MLIP steps in all
    "wbe_snap": dict(nsteps=300, neq=300, npre=200, nwin=100, nconv=2),
}


# The paper's systems (Methods 4.1, ESI S1-S2; design notes section 3): the independent oracle
# of the registry inputs/systems/ and of the ground-truth decks. Composition, density,
# temperature, timestep, k, the cage length (ESI S2; the glass's is measured, not given) and
# the energy-drift bound of the acceptance criteria (per atom per 1000 MD steps).
PAPER = {
    "lj": dict(counts={"A": 212, "B": 53}, number_density=1.2, T=3.0, drift=2e-3, dt=0.005, units="lj", k=5, cage=0.4),
    "lj_glass": dict(counts={"A": 212, "B": 53}, number_density=1.2, T=0.5, drift=2e-3, dt=0.005, units="lj", k=20,
                     cage=None),
    "sio2": dict(counts={"Si": 121, "O": 242}, mass_density=2.2, T=3600.0, drift=2e-4, dt=0.001, units="metal", k=10,
                 cage=1.4),
    "si": dict(counts={"Si": 128}, mass_density=2.53, T=2000.0, drift=2e-4, dt=0.001, units="metal", k=10, cage=2.0),
    "cuzr": dict(counts={"Cu": 158, "Zr": 87}, number_density=0.05932, T=1500.0, drift=2e-4, dt=0.001, units="metal",
                 k=10, cage=1.0, judge=400),
}
# Systems beyond the paper, with a machine-learned potential (issue: fix ogn where a learned
# stride pays): the paper's silicon state under the quadratic SNAP of Zuo et al. 2020, and a
# two-species one, the Be-rich W-Be liquid under the SNAP + ZBL of Wood et al. 2019 at the
# potential's own zero-pressure density at 2500 K (measured, docs/mlip.md).
MLIP = {
    "si_snap": dict(counts={"Si": 128}, mass_density=2.53, T=2000.0, drift=2e-4, dt=0.001, units="metal", k=10,
                    cage=2.0),
    "wbe_snap": dict(counts={"W": 13, "Be": 115}, mass_density=4.67, T=2500.0, drift=2e-4, dt=0.001, units="metal",
                     k=10, cage=0.9),
}
ATOMIC_MASS = {"A": 1.0, "B": 1.0, "Si": 28.0855, "O": 15.9994, "Cu": 63.546, "Zr": 91.224, "W": 183.84, "Be": 9.012}


# Fixtures that run every system's ground-truth deck: a test that uses one is in the slow tier.
SLOW_FIXTURES = {"deck_output"}


def pytest_collection_modifyitems(config, items):
    """The slow tier: tests marked @pytest.mark.slow (MPI, long runs) and those using a slow fixture."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


def deck_env() -> dict:
    """The environment of a user's shell: no LAMMPS_POTENTIALS or OGN_LAMMPS_INPUTS, one OpenMP thread."""
    env = dict(os.environ)
    env.pop("LAMMPS_POTENTIALS", None)
    env.pop("OGN_LAMMPS_INPUTS", None)
    env["OMP_NUM_THREADS"] = "1"
    return env


def lmp(deck: Path | str, cwd: Path, mpi: int = 0, check: bool = True, timeout: int = 900, **variables):
    """The wheel's `lmp` (optionally under mpirun) on a deck file, with -var overrides."""
    cmd = [str(BIN / "lmp"), "-in", str(deck), "-nocite", "-log", "none", "-var", "inputs", str(INPUTS)]
    if mpi:
        cmd = [str(BIN / "mpirun"), "-np", str(mpi)] + cmd
    for key, value in variables.items():
        cmd += ["-var", key, str(value)]
    proc = subprocess.run(cmd, cwd=cwd, env=deck_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_deck(system: str, out: Path, cwd: Path | None = None, mpi: int = 0, **variables) -> subprocess.CompletedProcess:
    """Run inputs/<system>_ground_truth.in with -var overrides; fail the test on error."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return lmp(INPUTS / f"{system}_ground_truth.in", cwd or out.parent, mpi=mpi, timeout=1200, out=out, **variables)


@pytest.fixture(scope="session")
def deck_output(tmp_path_factory):
    """deck_output(system) -> folder of a reduced real run of that system's deck (cached)."""
    cache: dict[str, Path] = {}

    def get(system: str) -> Path:
        if system not in cache:
            out = tmp_path_factory.mktemp(system) / "out"
            # Run from an unrelated folder: the deck must not depend on the working directory.
            run_deck(system, out, cwd=out.parent, seed=4242, ntrain=1, ntest=1, **SMALL[system])
            cache[system] = out
        return cache[system]

    return get


@pytest.fixture(scope="session")
def tiny_lj(tmp_path_factory) -> Path:
    """A very short LJ run with two train and one test trajectory, for dataset tests."""
    out = tmp_path_factory.mktemp("tiny") / "lj"
    run_deck("lj", out, seed=777, ntrain=2, ntest=1, nsteps=30, neq=200, npre=100)
    return out


def run_module(module: str, *args, timeout: int = 900, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """python -m ogn_lammps.<module> ARGS in a user's environment; fail the test on error when check."""
    cmd = [sys.executable, "-m", f"ogn_lammps.{module}", *map(str, args)]
    proc = subprocess.run(cmd, env=deck_env(), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_dataset(tiny_lj) -> Path:
    """dataset.h5 of the tiny LJ run: 2 x 31 training frames, 31 test frames."""
    run_module("dataset", tiny_lj)
    return tiny_lj / "dataset.h5"


def write_config(path: Path, dataset: Path, **train) -> Path:
    """A small Fast-OGN training config (L = 2, k = 5) for tests."""
    settings = dict(steps=8, test_every=4, test_configs=3, log_every=2, checkpoint_minutes=100.0)
    settings.update(train)
    layers = settings.pop("n_layers", 2)
    width = settings.pop("width", 64)
    lines = ["[data]", f'dataset = "{dataset}"', "k = 5", "[model]", f"n_layers = {layers}", f"width = {width}", "[train]"]
    lines += [f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def trained_run(tiny_dataset, tmp_path_factory) -> Path:
    """A real 8-step training run on the tiny dataset: its output folder."""
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder / "config_in.toml", tiny_dataset)
    run_module("train", "--config", config, "--out", folder / "run", "--quiet")
    return folder / "run"


@pytest.fixture(scope="session")
def exported_model(trained_run) -> Path:
    """model.pt exported from `trained_run` with the real export command."""
    path = trained_run / "model.pt"
    run_module("export", trained_run / "checkpoint.pt", "-o", path)
    return path


def impulse_config(path, dataset, **settings) -> object:
    """A small training config of the structured OGN on the tiny dataset."""
    model = dict(architecture="impulse", cutoff=2.5, stages=3, width=16, n_rbf=8, calibration_inferences=3)
    model.update(settings.pop("model", {}))
    train = dict(steps=12, test_every=6, test_configs=3, log_every=3, batch_size=2, lr_start=3e-3, lr_end=1e-3,
                 checkpoint_minutes=100.0, calibration_configs=8)
    train.update(settings)

    def value(v):
        return str(v).lower() if isinstance(v, bool) else repr(v)

    lines = ["[data]", f'dataset = "{dataset}"', "k = 5", "[model]"]
    lines += [f"{k} = {value(v)}" for k, v in model.items()]
    lines += ["[train]"] + [f"{k} = {value(v)}" for k, v in train.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def impulse_run(tiny_dataset, tmp_path_factory):
    """A real 12-step training of the structured OGN on the tiny dataset, exported: (folder, process)."""
    folder = tmp_path_factory.mktemp("impulse")
    config = impulse_config(folder / "config.toml", tiny_dataset)
    proc = run_module("train", "--config", config, "--out", folder / "run", "--quiet")
    run_module("export", folder / "run" / "checkpoint.pt", "-o", folder / "model.pt")
    return folder, proc
