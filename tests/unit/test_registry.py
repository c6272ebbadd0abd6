"""The two registries: systems (inputs/systems/<name>.in, data/systems.py) and architectures
(model/__init__.py with their objectives in train/objectives.py), read without a deck."""

from __future__ import annotations

from dataclasses import fields

import pytest

from ogn_lammps.data import systems
from ogn_lammps.environment import inputs_dir
from ogn_lammps.model import ARCHITECTURES, architecture, build
from ogn_lammps.train.config import TrainingError, load_config, model_defaults
from ogn_lammps.train.objectives import OBJECTIVES, objective

pytestmark = pytest.mark.unit

ENTRY = """# a made-up system
variable        system      string toy
variable        title       string "a toy liquid"
variable        units       string metal
variable        atom_style  string atomic
variable        forcefield  string lj
variable        type_names  string "Ar Kr"
variable        masses      string "39.948 83.798"
variable        T           equal 120.0
variable        dt          equal 0.002
variable        k           index 7
variable        cutoff      equal 8.0
variable        cage        equal 0.0
variable        judge       equal 100
"""


def test_an_entry_is_read_as_lammps_would(tmp_path):
    (tmp_path / "toy.in").write_text(ENTRY)
    toy = systems.registry(str(tmp_path))["toy"]
    assert (toy.units, toy.type_names, toy.masses, toy.k, toy.dt, toy.cutoff) == (
        "metal", ("Ar", "Kr"), (39.948, 83.798), 7, 0.002, 8.0)
    assert toy.length_unit == "A" and toy.velocity_unit == "A/ps" and toy.judge_steps == 100


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("string toy", "string other"), "variable system is 'other', expected the file name 'toy'"),
    (lambda text: text.replace('"39.948 83.798"', "39.948"), "1 masses for 2 types"),
    (lambda text: text.replace("string metal", "string cgs"), "units 'cgs' not supported"),
    (lambda text: text.replace("variable        cage        equal 0.0\n", ""), "missing variables ['cage']"),
    (lambda text: text + "fix 1 all nve\n", "expected 'variable NAME string|equal|index VALUE'"),
])
def test_a_broken_entry_is_named(tmp_path, edit, message):
    (tmp_path / "toy.in").write_text(edit(ENTRY))
    with pytest.raises(systems.RegistryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        systems.registry(str(tmp_path))


def test_the_shipped_registry():
    assert systems.names()[:5] == ("lj", "lj_glass", "sio2", "si", "cuzr")
    for name in systems.names():
        entry = systems.get(name)
        assert entry.k >= 1 and (inputs_dir() / f"{name}_ground_truth.in").is_file()
        assert (inputs_dir() / "forcefields" / f"{entry.forcefield}.in").is_file()
    with pytest.raises(systems.RegistryError, match="unknown system 'argon'"):
        systems.get("argon")


def test_every_architecture_has_an_objective_and_its_config_keys():
    assert set(ARCHITECTURES) == set(OBJECTIVES)
    facts = {"n_types": 2, "masses": [1.0, 2.0], "k": 5, "dt": 0.005, "cutoff": 2.5}
    for name in ARCHITECTURES:
        keys = {f.name for f in fields(architecture(name).Config)} - {"n_types"}
        assert set(model_defaults(name)) == keys | {"architecture", "cutoff"}
        model = build(name, {}, facts)
        assert model.name == name and objective(model, facts).__class__ is OBJECTIVES[name]
        assert model.program()["exchange"][0] == 3  # the velocities, all fix ogn supplies
    with pytest.raises(ValueError, match="unknown architecture 'gnn'"):
        architecture("gnn")


def test_a_config_key_of_another_architecture_is_named(tmp_path):
    (tmp_path / "c.toml").write_text('[model]\narchitecture = "ogn"\nstages = 3\n')
    with pytest.raises(TrainingError, match="unknown key 'stages' in \\[model\\] for architecture 'ogn'"):
        load_config(tmp_path / "c.toml")
