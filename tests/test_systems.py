"""The system registry inputs/systems/ against the paper, its parser's errors, and the one
fix ogn deck that reads it."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ATOMIC_MASS, INPUTS, PAPER, deck_env, lmp

from ogn_lammps.data import systems

# SI constants, for a velocity scale computed without LAMMPS's unit factors
K_B = 1.380649e-23  # J/K
AMU = 1.66053906660e-27  # kg


def test_the_registry_holds_the_papers_systems():
    # first, in the paper's order; a user's own entries may follow
    assert systems.names()[: len(PAPER)] == tuple(PAPER)
    for name, paper in PAPER.items():
        entry = systems.get(name)
        assert (entry.units, entry.temperature, entry.dt, entry.k) == (paper["units"], paper["T"], paper["dt"], paper["k"])
        assert list(entry.type_names) == list(paper["counts"])
        assert list(entry.masses) == pytest.approx([ATOMIC_MASS[t] for t in entry.type_names], rel=1e-6)
        assert entry.judge_steps == paper.get("judge", 100)
        if paper["cage"] is not None:
            assert entry.cage_length == paper["cage"]


def test_velocity_scale_is_sqrt_kT_over_m():
    # LJ: the paper's sqrt(3.0) for m = 1 (section 2.2)
    assert systems.get("lj").velocity_scales() == pytest.approx((math.sqrt(3.0), math.sqrt(3.0)))
    # metal: m/s from SI constants, 1 A/ps = 100 m/s
    si = math.sqrt(K_B * 2000.0 / (28.0855 * AMU)) / 100.0
    assert systems.get("si").velocity_scales()[0] == pytest.approx(si, rel=1e-5)
    cu, zr = (math.sqrt(K_B * 1500.0 / (m * AMU)) / 100.0 for m in (63.546, 91.224))
    entry = systems.get("cuzr")
    assert entry.velocity_scales() == pytest.approx((cu, zr), rel=1e-5)
    assert entry.velocity_scale([158, 87]) == pytest.approx(math.sqrt((158 * cu**2 + 87 * zr**2) / 245), rel=1e-5)


@pytest.mark.parametrize("text, message", [
    ("variable system index bad\nvariable units string lj\n", "missing variables"),
    ("variable system index bad\nunits lj\n", "expected 'variable NAME string|equal|index VALUE'"),
])
def test_a_malformed_entry_is_named(tmp_path, text, message):
    (tmp_path / "bad.in").write_text(text)
    with pytest.raises(systems.RegistryError, match=message):
        systems.registry(str(tmp_path))


def test_an_entry_must_be_named_for_its_system(tmp_path):
    text = (INPUTS / "systems" / "lj.in").read_text()
    (tmp_path / "other.in").write_text(text)
    with pytest.raises(systems.RegistryError, match="variable system is 'lj', expected the file name 'other'"):
        systems.registry(str(tmp_path))


def test_an_unknown_system_is_named():
    with pytest.raises(systems.RegistryError, match="unknown system 'argon'; registered: lj, lj_glass, sio2, si, cuzr"):
        systems.get("argon")


def test_the_ogn_deck_refuses_an_unknown_system(tmp_path):
    proc = lmp(INPUTS / "ogn.in", tmp_path, check=False, system="argon", model=tmp_path / "model.pt")
    assert proc.returncode != 0
    assert "ERROR: -var system argon: no registry entry" in proc.stdout + proc.stderr


def test_the_table_prints_every_system():
    proc = subprocess.run([sys.executable, "-m", "ogn_lammps.systems"], env=deck_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows][: len(PAPER)] == list(PAPER)
    assert "7.69 A/ps" in rows[3]  # silicon at 2000 K
    # where each entry came from, and which registry the tool read
    assert rows[3].split()[-1] == str(INPUTS.resolve() / "systems" / "si.in")
    assert f"system registry {INPUTS.resolve() / 'systems'} (" in proc.stderr


def test_results_makes_held_out_data_with_each_systems_own_deck(tmp_path):
    """python -m ogn_lammps.results --make-heldout runs inputs/<sys>_ground_truth.in with the
    held-out seed (it once pointed one folder above inputs/)."""
    from ogn_lammps.judge.results import heldout_command

    for name in systems.names():
        cmd = heldout_command(name, tmp_path / name, rep=2)
        deck = Path(cmd[cmd.index("-in") + 1])
        assert deck.is_file(), deck
        assert deck.name == f"{name}_ground_truth.in"
        assert cmd[cmd.index("seed") + 1] == "2027" and cmd[cmd.index("rep") + 1] == "2"
