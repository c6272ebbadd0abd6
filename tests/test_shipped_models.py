"""The shipped models/lj_fast.pt: its metadata, and fix ogn against the Python rollout and
across 1, 2 and 4 MPI ranks, from an LJ state that its training never saw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from ogn_lammps.architectures.step import model_inputs
from ogn_lammps.rollout import load_model, rollout
from test_fix_ogn import frames, run_ogn, spacing

MODEL = REPO / "models" / "lj_fast.pt"
N = 20


def test_shipped_model_metadata_and_provenance():
    _, meta = load_model(MODEL)
    assert meta["architecture"] == "impulse" and meta["system"] == "lj"
    assert meta["k"] == 5 and meta["dt"] == 0.005 and meta["units"] == "lj" and meta["dtype"] == "float32"
    assert meta["trained_minutes"] <= 61
    assert abs(meta["calibration"]["rollout_trend"]) < 1e-3
    # its config, training log and command sit beside it
    assert (REPO / "models" / "lj_fast.toml").is_file() and (REPO / "models" / "lj_fast.log.csv").is_file()
    assert "python -m ogn_lammps.train --config configs/lj_fast.toml" in (REPO / "models" / "README.md").read_text()


def test_shipped_model_rotates_with_its_input(tiny_dataset):
    from ogn_lammps.dataset import Dataset
    from ogn_lammps.graph import box_lengths

    model, meta = load_model(MODEL)
    with Dataset(tiny_dataset) as ds:
        x, v = ds.frame("test", "test_00", 7)
        inputs = model_inputs(ds.types, x, v, box_lengths(ds.box), meta["cutoff"])
    q, _ = np.linalg.qr(np.random.default_rng(11).normal(size=(3, 3)))
    rot = torch.as_tensor(q)
    with torch.no_grad():
        a = model(*inputs).double()
        b = model(inputs[0], inputs[1] @ rot.T, inputs[2], inputs[3] @ rot.T).double()
    expected = torch.cat([a[:, :3] @ rot.T, a[:, 3:] @ rot.T], 1)
    scale = a.abs().max(0).values
    assert float(((b - expected).abs().max(0).values / scale).max()) <= 1e-5


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
    assert files == ["README.md", "lj_fast.log.csv", "lj_fast.pt", "lj_fast.toml"], files
    assert Path(MODEL).stat().st_size < 2_000_000
