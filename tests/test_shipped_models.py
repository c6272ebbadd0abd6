"""The shipped models/<sys>_fast.pt: metadata and provenance of every one, equivariance, and
(LJ) fix ogn against the Python rollout and across 1, 2 and 4 MPI ranks, from a state that
its training never saw."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import REPO
from ogn_lammps.data import systems
from ogn_lammps.model.step import model_inputs
from ogn_lammps.judge.rollout import load_model
from ogn_lammps.model.step import rollout
from test_fix_ogn import frames, run_ogn, spacing

MODEL = REPO / "models" / "lj_fast.pt"
SHIPPED = sorted(p.name[: -len("_fast.pt")] for p in (REPO / "models").glob("*_fast.pt"))
N = 20


def test_every_system_has_a_shipped_model():
    """The project's own systems (PAPER) each ship a model, and every shipped model is of a
    registered system. A user's own system (registered, not in PAPER) needs none
    (docs/systems.md, Adding a system)."""
    from conftest import PAPER

    assert set(PAPER) <= set(SHIPPED), f"no models/<sys>_fast.pt for {sorted(set(PAPER) - set(SHIPPED))}"
    assert set(SHIPPED) <= set(systems.names()), f"shipped models of unregistered systems {set(SHIPPED) - set(systems.names())}"


@pytest.mark.parametrize("system", SHIPPED)
def test_shipped_model_metadata_and_provenance(system):
    _, meta = load_model(REPO / "models" / f"{system}_fast.pt")
    entry = systems.get(system)
    assert meta["architecture"] == "impulse" and meta["system"] == system and meta["dtype"] == "float32"
    # the registry's k (LJ glass 20, the others as the paper's Fast-OGN), dt and units
    assert (meta["k"], meta["dt"], meta["units"]) == (entry.k, entry.dt, entry.units)
    assert meta["type_names"] == list(entry.type_names)
    assert meta["trained_minutes"] <= 61
    # its config, training log and commands sit beside it
    assert (REPO / "models" / f"{system}_fast.toml").is_file() and (REPO / "models" / f"{system}_fast.log.csv").is_file()
    # the config beside it is TOML and holds the model's settings
    from ogn_lammps.train.config import load_config

    config = load_config(REPO / "models" / f"{system}_fast.toml")
    assert {key: config["model"][key] for key in meta["settings"]} == meta["settings"]
    assert config["data"]["k"] == meta["k"] and config["model"]["cutoff"] == meta["cutoff"]
    # the training domain (fix ogn's guard): the paper's temperature inside every type's range
    # and its density inside the density range
    from conftest import MLIP, PAPER

    domain, paper = meta["domain"], {**PAPER, **MLIP}[system]
    assert len(domain["temperature"]) == len(entry.type_names)
    for lo, hi in domain["temperature"]:
        assert lo < paper["T"] < hi
    assert domain["density"][0] < domain["measured"]["density"] < domain["density"][1]
    readme = (REPO / "models" / "README.md").read_text()
    assert f"python -m ogn_lammps.train --config configs/{system}_fast.toml" in readme
    assert f"-o models/{system}_fast.pt" in readme


@pytest.mark.parametrize("system", SHIPPED)
def test_shipped_model_rotates_with_its_input(system):
    """Any state will do for equivariance: random atoms at a liquid-like count per cutoff sphere."""
    model, meta = load_model(REPO / "models" / f"{system}_fast.pt")
    entry = systems.get(system)
    rng = np.random.default_rng(11)
    n, length = 120, 2.5 * meta["cutoff"]
    x = rng.uniform(0, length, size=(n, 3))
    v = rng.normal(size=(n, 3)) * entry.velocity_scale()
    types = torch.as_tensor(rng.integers(1, len(entry.type_names) + 1, size=n))
    inputs = model_inputs(types, x, v, np.full(3, length), meta["cutoff"])
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = torch.as_tensor(q)
    with torch.no_grad():
        a = model(*inputs).double()
        b = model(inputs[0], inputs[1] @ rot.T, inputs[2], inputs[3] @ rot.T).double()
    expected = torch.cat([a[:, :3] @ rot.T, a[:, 3:] @ rot.T], 1)
    scale = a.abs().max(0).values
    assert float(((b - expected).abs().max(0).values / scale).max()) <= 1e-4


@pytest.fixture(scope="module")
def shipped_serial(tiny_lj, tmp_path_factory):
    out = tmp_path_factory.mktemp("shipped") / "serial"
    run_ogn(out, MODEL, tiny_lj / "equilibrated.data", ninf=N)
    return out


def test_fix_agrees_with_the_python_rollout(shipped_serial):
    fix = frames(shipped_serial)
    model, meta = load_model(MODEL)
    first = fix[0]
    xs, vs, _, failure = rollout(model, meta, first.types, first.ids, first.positions, first.velocities,
                                 first.box[:, 1] - first.box[:, 0], 1, progress=False)
    assert failure is None
    for now, py, before in ((fix[1].positions, xs[1], first.positions), (fix[1].velocities, vs[1], first.velocities)):
        change = py - before
        assert np.abs((now - before) - change).max() <= 1e-5 * np.abs(change).max()


@pytest.mark.slow
@pytest.mark.parametrize("ranks, grid", [(2, "* * *"), (4, "2 2 1")])
def test_ranks_agree_after_20_inferences_and_conserve_momentum(shipped_serial, tiny_lj, tmp_path, ranks, grid):
    out = tmp_path / "mpi"
    run_ogn(out, MODEL, tiny_lj / "equilibrated.data", ninf=N, mpi=ranks, procs=grid)
    one, many = frames(shipped_serial), frames(out)
    dx = np.abs(one[-1].positions - many[-1].positions).max() / spacing(one[-1])
    dv = np.abs(one[-1].velocities - many[-1].velocities).max() / np.abs(one[-1].velocities).max()
    report = {"ranks": ranks, "position_difference_per_spacing": dx, "velocity_difference_relative": dv}
    p0 = many[0].velocities.sum(0)
    report["momentum_drift"] = max(float(np.abs(f.velocities.sum(0) - p0).max()) for f in many) / np.abs(many[0].velocities).sum()
    print(json.dumps(report))
    # float32 rounding (6e-8), grown by 100 MD steps of a chaotic liquid (x30, design §4d)
    assert dx <= 1e-4 and dv <= 1e-4
    assert report["momentum_drift"] <= 1e-6


def test_models_folder_holds_only_what_is_documented():
    files = sorted(p.name for p in (REPO / "models").iterdir())
    expected = ["README.md"] + [f"{s}_fast.{ext}" for s in SHIPPED for ext in ("log.csv", "pt", "toml")]
    assert files == sorted(expected), files
    for system in SHIPPED:
        assert (REPO / "models" / f"{system}_fast.pt").stat().st_size < 2_000_000
