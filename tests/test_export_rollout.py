"""Export to TorchScript, Python rollout and evaluation, with real models and real LAMMPS."""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest
import torch

from conftest import run_module
from ogn_lammps.data.dataset import Dataset
from ogn_lammps.train import checkpoint
from ogn_lammps.train.export import load_checkpoint, model_from_checkpoint
from ogn_lammps.model.graph import box_lengths, build_graph
from ogn_lammps.judge.rollout import ModelError, check_compatible, load_model


def test_metadata_holds_the_contract(exported_model, tiny_dataset):
    _, meta = load_model(exported_model)
    with Dataset(tiny_dataset) as ds:
        assert meta["units"] == ds.units == "lj"
        assert meta["dt"] == ds.dt and meta["k"] == 5 and meta["timestep"] == pytest.approx(5 * ds.dt)
        assert meta["type_names"] == ds.type_names and meta["masses"] == list(ds.masses)
        assert meta["cutoff"] == ds.info["cutoff"]
    assert meta["settings"]["n_layers"] == 2 and meta["n_types"] == 2 and meta["dtype"] == "float32"
    assert meta["format_version"] == 2 and meta["system"] == "lj" and meta["trained_steps"] == 8
    assert meta["architecture"] == "ogn"
    # encoder + 2 layers; velocities first, then the [n, n0] rows of width 2 x 64
    assert meta["program"] == {"stages": 3, "exchange": [3, 128, 128], "node_input": "velocities"}


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_torchscript_and_eager_agree(trained_run, tiny_dataset, tmp_path, dtype, tol):
    path = tmp_path / f"model_{dtype}.pt"
    run_module("export", trained_run / "checkpoint.pt", "-o", path, "--dtype", dtype)
    scripted, meta = load_model(path)
    assert meta["dtype"] == dtype
    eager = model_from_checkpoint(load_checkpoint(trained_run / "checkpoint.pt")).to(getattr(torch, dtype))
    with Dataset(tiny_dataset) as ds:  # a frame the export's own check did not use
        x, v = ds.frame("train", "train_01", 17)
        edge_index, vectors = build_graph(x, box_lengths(ds.box), meta["cutoff"])
        inputs = (torch.as_tensor(ds.types), torch.as_tensor(v), torch.as_tensor(edge_index), torch.as_tensor(vectors))
    with torch.no_grad():
        a, b = eager(*inputs), scripted(*inputs)
    assert a.dtype == b.dtype == getattr(torch, dtype) and a.shape == (len(x), 6)
    assert float(a.abs().max()) > 0
    torch.testing.assert_close(b, a, rtol=tol, atol=tol * float(a.abs().max()))
    # The stages compose to forward (for fix ogn's exchange with ghost owners between them).
    with torch.no_grad():
        nodes, edges = inputs[1], torch.zeros(0)
        for index in range(meta["program"]["stages"]):
            assert nodes.shape[1] == meta["program"]["exchange"][index]
            nodes, edges = scripted.stage(index, inputs[0], nodes, edges, inputs[2], inputs[3])
        torch.testing.assert_close(scripted.finish(nodes), b, rtol=tol, atol=tol * float(b.abs().max()))


@pytest.mark.slow
def test_export_refuses_a_bad_checkpoint(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "model.pt"
    proc = run_module("export", bad, "-o", out, check=False)
    assert proc.returncode == 2 and "not a readable training checkpoint" in proc.stderr
    assert not out.exists()
    proc = run_module("export", tmp_path / "missing.pt", "-o", out, check=False)
    assert proc.returncode == 2 and "checkpoint not found" in proc.stderr


def test_wrong_model_files_are_named(tmp_path, trained_run):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a TorchScript model"):
        load_model(garbage)
    bare = tmp_path / "bare.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(bare))
    with pytest.raises(ModelError, match="without metadata.json"):
        load_model(bare)
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "nothing.pt")


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(units="metal"), "model expects units lj, dataset x has metal"),
        (dict(dt=0.001), "model expects MD timestep 0.005, dataset x has 0.001"),
        (dict(type_names=["A"]), "model expects 2 atom types ['A', 'B'], dataset x has 1 ['A']"),
        (dict(type_names=["Cu", "Zr"]), "model expects types ['A', 'B'], dataset x has ['Cu', 'Zr']"),
        (dict(masses=[1.0, 2.0]), "model expects masses [1.0, 1.0], dataset x has [1.0, 2.0]"),
    ],
)
def test_incompatible_systems_name_expected_and_actual(exported_model, change, message):
    _, meta = load_model(exported_model)
    actual = dict(units="lj", dt=0.005, type_names=["A", "B"], masses=[1.0, 1.0])
    check_compatible(meta, source="dataset x", **actual)  # the matching system passes
    actual.update(change)
    with pytest.raises(ModelError) as err:
        check_compatible(meta, source="dataset x", **actual)
    assert message in str(err.value)


@pytest.fixture(scope="module")
def rollout_file(exported_model, tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("rollout") / "rollout.h5"
    run_module("rollout", exported_model, "--data", tiny_dataset, "-n", 6, "-o", out, "--quiet")
    return out


def test_rollout_steps_with_the_exported_function(rollout_file, exported_model, tiny_dataset):
    with h5py.File(rollout_file) as h5:
        xs, vs, steps = h5["positions"][()], h5["velocities"][()], h5["md_steps"][()]
        assert h5.attrs["failure"] == ""
    model, meta = load_model(exported_model)
    with Dataset(tiny_dataset) as ds:
        x0, v0 = ds.frame("test", "test_00", 0)
        lengths, types = box_lengths(ds.box), ds.types
    assert xs.shape == (7, len(types), 3) and list(steps - steps[0]) == [0, 5, 10, 15, 20, 25, 30]
    np.testing.assert_array_equal(xs[0], x0)
    np.testing.assert_array_equal(vs[0], v0)
    # every step is x + dr, v + dv from the scripted forward on that state's graph
    for i in (0, 5):
        edge_index, vectors = build_graph(xs[i], lengths, meta["cutoff"])
        with torch.no_grad():
            out = model(torch.as_tensor(types), torch.as_tensor(vs[i]), torch.as_tensor(edge_index),
                        torch.as_tensor(vectors)).double().numpy()
        np.testing.assert_allclose(xs[i + 1], xs[i] + out[:, :3], rtol=0, atol=1e-12)
        np.testing.assert_allclose(vs[i + 1], vs[i] + out[:, 3:], rtol=0, atol=1e-12)


def test_evaluate_against_ground_truth(rollout_file, tiny_lj, tiny_dataset, tmp_path):
    proc = run_module("evaluate", rollout_file, "-o", tmp_path)
    assert "pos RMSE" in proc.stdout
    with open(tmp_path / "rmse.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["md_step"]) for r in rows] == [0, 5, 10, 15, 20, 25, 30]
    assert float(rows[0]["position_rmse"]) == 0 and float(rows[1]["position_rmse"]) > 0
    # RMSE recomputed by hand from the two files
    with h5py.File(rollout_file) as h5, Dataset(tiny_dataset) as ds:
        pred = h5["positions"][3]
        true = ds.frame("test", "test_00", 15)[0]
        static = ds.frame("test", "test_00", 0)[0]
    assert float(rows[3]["position_rmse"]) == pytest.approx(np.sqrt(np.mean((pred - true) ** 2)), rel=1e-12)
    assert float(rows[3]["static_position_rmse"]) == pytest.approx(np.sqrt(np.mean((static - true) ** 2)), rel=1e-12)
    # The true frames' total energy, from the real force field, equals LAMMPS's own thermo output.
    log = (tiny_lj / "test_00.log").read_text().splitlines()
    head = next(i for i, line in enumerate(log) if line.split()[:2] == ["Step", "Temp"])
    thermo = {}
    for line in log[head + 1:]:
        fields = line.split()
        if not fields or not fields[0].isdigit():
            break
        thermo[int(fields[0])] = float(fields[4])
    first = min(thermo)
    n_atoms = 265
    for row in rows:
        step = first + int(row["md_step"])
        if step in thermo:
            assert float(row["true_total_energy"]) == pytest.approx(thermo[step] / n_atoms, rel=1e-6, abs=1e-6)
    assert sum(first + int(r["md_step"]) in thermo for r in rows) >= 2
    for name in ("trajectories.png", "scatter.png", "energy.png"):
        assert (tmp_path / name).stat().st_size > 5000


@pytest.mark.slow
def test_diverging_rollout_stops_and_keeps_the_good_steps(trained_run, tiny_dataset, tmp_path):
    state = load_checkpoint(trained_run / "checkpoint.pt")
    # A model that predicts a 10 sigma jump for every atom: the rollout must stop at once.
    state.model["target_norm.mean"][0] = 10.0
    checkpoint.save(tmp_path / "broken.pt", state)
    run_module("export", tmp_path / "broken.pt", "-o", tmp_path / "broken_model.pt")
    out = tmp_path / "rollout.h5"
    proc = run_module("rollout", tmp_path / "broken_model.pt", "--data", tiny_dataset, "-n", 4, "-o", out, check=False)
    assert proc.returncode == 2
    assert "moved" in proc.stderr and "inference 1" in proc.stderr and "atom id" in proc.stderr
    assert "more than the cutoff 3.0" in proc.stderr
    with h5py.File(out) as h5:
        assert h5["positions"].shape[0] == 1 and "inference 1" in h5.attrs["failure"]


def test_rollout_refuses_a_model_for_another_system(exported_model, tmp_path, tiny_dataset):
    with h5py.File(tiny_dataset) as src, h5py.File(tmp_path / "other.h5", "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for key in src:
            src.copy(key, dst)
        dst.attrs["dt"] = 0.002
    proc = run_module("rollout", exported_model, "--data", tmp_path / "other.h5", "-o", tmp_path / "r.h5", check=False)
    assert proc.returncode == 2
    assert "model expects MD timestep 0.005, dataset" in proc.stderr and "has 0.002" in proc.stderr
    assert not (tmp_path / "r.h5").exists()


def test_non_finite_metadata_is_written_as_strict_json(exported_model, tmp_path):
    """A calibration whose first rollouts blew up records +inf; Python's json would write
    `Infinity`, which fix ogn's JSON parser rejects (the model would not load in LAMMPS)."""
    import json
    import math
    import zipfile

    from ogn_lammps.model import model_file

    module, meta = load_model(exported_model)
    meta["calibration"] = {"rollout_temperature_before": math.inf, "drag": 0.002, "nested": [-math.inf, math.nan]}
    model_file.save(module, meta, tmp_path / "m.pt")
    with zipfile.ZipFile(tmp_path / "m.pt") as z:
        text = z.read(next(n for n in z.namelist() if n.endswith("extra/metadata.json"))).decode()

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    strict = json.loads(text, parse_constant=refuse)
    assert strict["calibration"] == {"rollout_temperature_before": None, "drag": 0.002, "nested": [None, None]}
    assert load_model(tmp_path / "m.pt")[1]["calibration"]["drag"] == 0.002


def test_export_records_a_training_domain_that_holds_its_data(exported_model, tiny_dataset):
    _, meta = load_model(exported_model)
    domain = meta["domain"]
    assert set(domain["margin"]) == {"temperature", "density", "min_distance", "max_displacement"}
    with Dataset(tiny_dataset) as ds:
        lengths = box_lengths(ds.box)
        types = np.asarray(ds.types)
        assert domain["density"][0] < len(types) / np.prod(lengths) < domain["density"][1]
        for name in ds.trajectories("train"):
            traj = ds.trajectory("train", name)
            for f in range(0, len(traj["positions"]), 10):
                x, v = traj["positions"][f], traj["velocities"][f]
                for t in (1, 2):  # LJ units: T = sum m v^2 / (3 N_t), masses 1
                    temperature = np.sum(v[types == t] ** 2) / (3 * np.sum(types == t))
                    assert domain["temperature"][t - 1][0] < temperature < domain["temperature"][t - 1][1]
                edges, vectors = build_graph(x, lengths, meta["cutoff"])
                distance = np.linalg.norm(vectors, axis=1)
                for a, b in ((1, 1), (1, 2), (2, 2)):
                    pair = ((types[edges[0]] == a) & (types[edges[1]] == b))
                    if pair.any():
                        assert distance[pair].min() > domain["min_distance"][a - 1][b - 1]
            lag = meta["k"] // ds.frame_stride
            moved = np.linalg.norm(traj["positions"][lag:] - traj["positions"][:-lag], axis=2).max()
            assert moved < domain["max_displacement"]


def test_add_domain_writes_it_into_a_model_and_refuses_another_systems_data(exported_model, tiny_dataset, tmp_path):
    from ogn_lammps.model import model_file

    module, meta = model_file.load(exported_model)
    bare = tmp_path / "bare.pt"
    model_file.save(module, {k: v for k, v in meta.items() if k != "domain"}, bare)
    run_module("export", "--add-domain", tiny_dataset, bare)
    assert model_file.load(bare)[1]["domain"] == meta["domain"]

    other = tmp_path / "other.pt"
    model_file.save(module, dict(meta, system="sio2", units="metal"), other)
    proc = run_module("export", "--add-domain", tiny_dataset, other, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "holds lj (lj units" in proc.stderr and "the model is sio2 (metal units" in proc.stderr, proc.stderr


def test_export_without_the_training_data_names_the_options(trained_run, tmp_path):
    proc = run_module("export", trained_run / "checkpoint.pt", "-o", tmp_path / "m.pt", "--domain-data",
                      tmp_path / "gone.h5", check=False)
    assert proc.returncode == 2 and "--no-domain" in proc.stderr and "gone.h5" in proc.stderr, proc.stderr
    assert not (tmp_path / "m.pt").exists()
    run_module("export", trained_run / "checkpoint.pt", "-o", tmp_path / "m.pt", "--no-domain")
    assert "domain" not in load_model(tmp_path / "m.pt")[1]
