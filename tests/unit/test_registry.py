"""The two registries: systems (inputs/systems/<name>.in, data/systems.py) and architectures
(model/__init__.py with their objectives in train/objectives.py), read without a deck."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from ogn_lammps.data import systems
from ogn_lammps.data.ground_truth_cost import Plan, Probe, deck_defaults
from ogn_lammps.environment import INPUTS_VARIABLE, inputs_dir, inputs_location
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


# --- where the registry is read from (issue: a user's own system stayed invisible) ------------

# the inputs/ of the source tree the package is imported from (an editable install), which is
# not this file's tree when the tests run in a user's copy (tests/test_add_system.py)
REPO_INPUTS = (Path(systems.__file__).resolve().parents[3] / "inputs").resolve()


def user_project(root: Path, name: str = "toy") -> Path:
    """A folder with inputs/systems/<name>.in, as a user's own project has."""
    (root / "inputs" / "systems").mkdir(parents=True)
    (root / "inputs" / "systems" / f"{name}.in").write_text(ENTRY.replace("toy", name))
    return root / "inputs"


def test_the_current_directorys_inputs_come_first(tmp_path, monkeypatch, capsys):
    inputs = user_project(tmp_path / "project")
    other = user_project(tmp_path / "elsewhere", "other")
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setenv(INPUTS_VARIABLE, str(other))
    assert inputs_location() == (inputs.resolve(), "the current directory's inputs/")
    assert systems.names() == ("toy",) and systems.get("toy").source == str(inputs.resolve() / "systems" / "toy.in")
    # said once per process, on stderr
    systems.names()
    err = capsys.readouterr().err
    assert err.count(f"system registry {inputs.resolve() / 'systems'} (the current directory's inputs/)") == 1


def test_then_the_environment_variable_then_the_package(tmp_path, monkeypatch):
    other = user_project(tmp_path / "elsewhere", "other")
    monkeypatch.chdir(tmp_path)  # no inputs/ here
    monkeypatch.setenv(INPUTS_VARIABLE, str(other))
    assert inputs_location() == (other.resolve(), f"${INPUTS_VARIABLE}")
    assert systems.names() == ("other",)
    monkeypatch.delenv(INPUTS_VARIABLE)
    assert inputs_location() == (REPO_INPUTS, "the source tree of the installed package")
    assert systems.names()[:5] == ("lj", "lj_glass", "sio2", "si", "cuzr")


def test_a_wrong_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(INPUTS_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=f"OGN_LAMMPS_INPUTS is {tmp_path / 'nowhere'}, which has no systems/"):
        inputs_location()


# --- the ground-truth cost planner's arithmetic -------------------------------------------------


def test_the_deck_defaults_are_its_index_variables():
    defaults = deck_defaults(REPO_INPUTS / "si_ground_truth.in")
    assert (defaults["ntrain"], defaults["ntest"], defaults["nsteps"], defaults["neq"], defaults["nwin"]) == \
        ("10", "2", "1000", "10000", "500")
    assert "N" not in defaults  # an equal-style variable is not a setting
    # `temperature index ${T}` derives from the registry: passed back as -var it would read "${T}"
    assert "temperature" not in defaults and defaults["density"] == "2.53"


def test_a_plan_scales_the_probe_and_fits_a_budget():
    # a probe with run lengths / 10: two runs of 0.5 s (10 steps of 100 atoms each) in a 3 s process
    probe = Probe(scale=10, wall=3.0, loops=[(0.5, 10, 100), (0.5, 10, 100)])
    p = Plan("si", {"ntrain": "10", "ntest": "2"}, ranks=2, probe=probe, trajectories=12)
    assert p.trajectory_seconds == 10.0 and p.recording_seconds == 5.0 and p.overhead_seconds == 2.0
    assert p.seconds == 2.0 + 12 * 10.0
    assert p.atom_steps == 12 * 10 * 2000
    assert p.us_per_atom_step == pytest.approx(1e6 * 1.0 * 2 / 2000)  # core-microseconds on 2 ranks
    # 1 minute: (60 - 2) // 10 = 5 trajectories, 2 of them the test ones
    assert p.fit(1.0) == {"ntrain": 3, "ntest": 2}
    assert p.fit(0.5) is None  # (30 - 2) // 10 = 2: no room for a training trajectory
