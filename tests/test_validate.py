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
    assert (out / "trajectories.png").stat().st_size > 1000
    # the curve after every inference, recomputed from the dump at inference 3 (15 MD steps)
    series = json.loads((out / "series.json").read_text())
    assert [c["md_steps"] for c in series["curve"]] == [0, 5, 10, 15, 20, 25]
    assert series["curve"][0]["pos"] == 0.0 and series["curve"][0]["pos_static"] == 0.0
    mine3 = np.sqrt(np.mean((frames[3].positions - traj["positions"][15]) ** 2))
    other = list(read_dump(out / "runs" / "test_00_5" / "ogn" / "trajectory.dump"))
    theirs3 = np.sqrt(np.mean((other[3].positions - traj["positions"][5 + 15]) ** 2))
    assert series["curve"][3]["pos"] == pytest.approx((mine3 + theirs3) / 2, rel=1e-9)
    # the traced paths are the dump's own positions
    traced = series["traced"]
    row = list(frames[0].ids).index(traced["ids"][0])
    np.testing.assert_allclose(np.asarray(traced["model"])[:, 0], [f.positions[row] for f in frames[:len(traced["model"])]])
    # velocity-Verlet from the same state: at dt it conserves energy far better than at k x dt
    vv = long["verlet"]
    assert vv["dt"]["timestep"] == 0.005 and vv["k_dt"]["timestep"] == pytest.approx(0.025)
    assert vv["dt"]["steps"] == 30 and vv["k_dt"]["steps"] == 6
    assert abs(vv["dt"]["max_energy_deviation"]) < 0.05
    assert long["speed"]["ogn_atom_steps_per_s"] > 0 and long["speed"]["verlet_atom_steps_per_s"] > 0
    assert long["speed"]["ratio"] == pytest.approx(
        long["speed"]["ogn_atom_steps_per_s"] / long["speed"]["verlet_atom_steps_per_s"])
    assert "velocity-Verlet at dt (0.005)" in proc.stdout and "MD-equivalent atom-steps/s" in proc.stdout
    assert summary["judge_steps"] == 100 and summary["cage_length"] == 0.4
    assert summary["velocity_scale"] == pytest.approx(3.0 ** 0.5)


def test_results_writes_the_report_and_names_what_is_missing(impulse_run, tiny_dataset, tmp_path):
    models, data = tmp_path / "models", tmp_path / "data"
    models.mkdir()
    (data / "lj_heldout").mkdir(parents=True)
    (models / "lj_fast.pt").write_bytes((impulse_run[0] / "model.pt").read_bytes())
    (data / "lj_heldout" / "dataset.h5").write_bytes(tiny_dataset.read_bytes())
    doc = tmp_path / "docs" / "results.md"
    args = ["--systems", "lj", "si", "--models", models, "--data", data, "--work", tmp_path / "work", "--doc", doc,
            "--starts", 1, "--long-runs", 1, "--long", 20, "--horizon", 25, "--size-systems", "--no-loss-vs-k"]
    run_module("results", *args)
    text = doc.read_text()
    assert "## Loss against k for the liquid and the glass (paper Fig. 5C, S9-S10)\n\nNot measured in this run" in text
    assert "## Kob-Andersen LJ A80B20 liquid (`lj`)" in text
    assert "No RMSE at 100 MD steps" in text  # the tiny trajectory is 30 MD steps long
    assert f"no `{models / 'si_fast.pt'}` yet" in text
    summary = json.loads((tmp_path / "work" / "lj" / "summary.json").read_text())
    assert f"| 25 | {summary['rmse']['25']['pos']:.3g} |" in text
    for plot in ("rmse", "trajectories", "long"):
        assert f"(img/results/lj_{plot}.png)" in text
        assert (doc.parent / "img" / "results" / f"lj_{plot}.png").stat().st_size > 1000
    # a second run reuses the validation (newer than the model and the data)
    stamp = (tmp_path / "work" / "lj" / "summary.json").stat().st_mtime
    run_module("results", *args)
    assert (tmp_path / "work" / "lj" / "summary.json").stat().st_mtime == stamp


def test_validate_refuses_a_model_for_another_system(impulse_run, tmp_path, tiny_dataset):
    import h5py

    other = tmp_path / "other.h5"
    other.write_bytes(tiny_dataset.read_bytes())
    with h5py.File(other, "r+") as h5:
        h5.attrs["dt"] = 0.002
    proc = run_module("validate", impulse_run[0] / "model.pt", "--data", other, "-o", tmp_path / "v", check=False)
    assert proc.returncode == 2 and "model expects MD timestep 0.005, dataset" in proc.stderr


def test_validate_names_a_missing_dataset(impulse_run, tmp_path):
    proc = run_module("validate", impulse_run[0] / "model.pt", "--data", tmp_path / "nope.h5", "-o", tmp_path / "v",
                      check=False)
    assert proc.returncode == 2 and f"held-out dataset {tmp_path / 'nope.h5'} not found" in proc.stderr
    assert "Traceback" not in proc.stderr
