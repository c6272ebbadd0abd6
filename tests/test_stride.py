"""The stride k has one owner, the model: a model trained at another k than the registry's
(LJ: 5) runs through validate, whose fix ogn deck used to take k from the registry and stop
at the fix's check of its k argument against the model's."""

from __future__ import annotations

import json

import numpy as np

from conftest import impulse_config, run_module
from ogn_lammps.data import systems
from ogn_lammps.data.dataset import Dataset
from ogn_lammps.data.lammps_files import read_dump
from ogn_lammps.model import model_file

K = 25  # the one checkpoint of validate (25 MD steps) that fits in the tiny dataset's 31 frames


def test_a_model_of_another_k_runs_through_validate(tiny_dataset, tmp_path):
    assert systems.get("lj").k != K
    config = impulse_config(tmp_path / "config.toml", tiny_dataset, steps=4, test_every=4,
                            model={"calibration_inferences": 0})
    run_module("train", "--config", config, "--k", K, "--out", tmp_path / "run", "--quiet")
    run_module("export", tmp_path / "run" / "checkpoint.pt", "-o", tmp_path / "model.pt")
    assert model_file.load(tmp_path / "model.pt")[1]["k"] == K
    out = tmp_path / "val"
    run_module("validate", tmp_path / "model.pt", "--data", tiny_dataset, "-o", out, "--starts", 1,
               "--horizon", K, "--long", 0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["k"] == K and list(summary["rmse"]) == [str(K)]
    # one inference of K MD steps: the fix's dump against the dataset's frame K, by hand
    frames = list(read_dump(out / "runs" / "test_00_0" / "ogn" / "trajectory.dump"))
    assert len(frames) == 2
    with Dataset(tiny_dataset) as ds:
        truth = ds.trajectory("test", "test_00")["positions"][K]
    assert abs(np.sqrt(np.mean((frames[1].positions - truth) ** 2)) - summary["rmse"][str(K)]["pos"]) < 1e-9
    log = (out / "runs" / "test_00_0" / "ogn" / "log.lammps").read_text()
    assert f"({K} MD steps each)" in log
