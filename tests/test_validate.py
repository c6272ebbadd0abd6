"""python -m ogn_lammps.validate: a real model through the real fix ogn on held-out states."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_module
from ogn_lammps.dataset import Dataset
from ogn_lammps.lammps_files import read_dump

# each test runs fix ogn several times: the slow tier
pytestmark = pytest.mark.slow


def test_validate_reports_rmse_baselines_and_a_long_run(impulse_run, tiny_dataset, tmp_path):
    out = tmp_path / "val"
    proc = run_module("validate", impulse_run[0] / "model.pt", "--data", tiny_dataset, "-o", out,
                      "--starts", 2, "--horizon", 25, "--long", 30)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["architecture"] == "impulse" and summary["starts"] == 2
    r = summary["rmse"]["25"]
    assert set(r) == {"pos", "vel", "pos_static", "vel_static", "pos_free", "vel_free"}
    assert all(np.isfinite(v) and v > 0 for v in r.values())
    assert "static" in proc.stdout and "free" in proc.stdout
    # the RMSEs are recomputed here from the fix's own dump and the dataset
    with Dataset(tiny_dataset) as ds:
        traj = ds.trajectory("test", "test_00")
    run = out / "runs" / "test_00_0" / "ogn" / "trajectory.dump"
    frames = list(read_dump(run))
    # the written start state reaches LAMMPS unchanged (unwrapped positions, velocities)
    np.testing.assert_allclose(frames[0].positions, traj["positions"][0], atol=1e-9)
    np.testing.assert_allclose(frames[0].velocities, traj["velocities"][0], atol=1e-12)
    mine = np.sqrt(np.mean((frames[5].positions - traj["positions"][25]) ** 2))
    rows = [line.split(",") for line in (out / "rmse.csv").read_text().splitlines()[1:]]
    logged = [float(row[3]) for row in rows if row[0] == "test_00" and row[1] == "0" and row[2] == "25"]
    assert len(logged) == 1 and abs(logged[0] - mine) < 1e-12
    long = summary["long"][0]
    assert long["stopped"] == "" and long["md_steps"] == 30
    assert long["momentum_drift"] < 1e-6
    assert long["temperature_reference"] > 0 and long["temperature_mean"] > 0
    assert (out / "rmse.png").stat().st_size > 1000 and (out / "long.png").stat().st_size > 1000


def test_validate_refuses_a_model_for_another_system(impulse_run, tmp_path, tiny_dataset):
    import h5py

    other = tmp_path / "other.h5"
    other.write_bytes(tiny_dataset.read_bytes())
    with h5py.File(other, "r+") as h5:
        h5.attrs["dt"] = 0.002
    proc = run_module("validate", impulse_run[0] / "model.pt", "--data", other, "-o", tmp_path / "v", check=False)
    assert proc.returncode == 2 and "model expects MD timestep 0.005, dataset" in proc.stderr
