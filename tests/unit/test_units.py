"""The unit constants, against SI and CODATA rather than against LAMMPS's own table: a kinetic
energy of 1 g/mol moving at 1 A/fs is 10^7 J/mol = 10^4 / 4.184 kcal/mol (real units), at
1 A/ps 10 J/mol = 10 / (N_A e) eV (metal units)."""

from __future__ import annotations

import numpy as np
import pytest

from ogn_lammps.data import systems, units
from ogn_lammps.judge import evaluate, validate

pytestmark = pytest.mark.unit

AVOGADRO = 6.02214076e23  # 1/mol, exact (SI 2019)
ELEMENTARY_CHARGE = 1.602176634e-19  # C, exact
BOLTZMANN = 1.380649e-23  # J/K, exact
CALORIE = 4.184  # J, thermochemical
# m v^2 of 1 g/mol at 1 length unit per time unit, in each style's energy unit
MVV = {"real": 1e-3 * (1e-10 / 1e-15) ** 2 / CALORIE / 1e3,           # kcal/mol
       "metal": 1e-3 * (1e-10 / 1e-12) ** 2 / AVOGADRO / ELEMENTARY_CHARGE,  # eV
       "lj": 1.0}
KB = {"real": BOLTZMANN * AVOGADRO / CALORIE / 1e3, "metal": BOLTZMANN / ELEMENTARY_CHARGE, "lj": 1.0}


@pytest.mark.parametrize("style", ["real", "metal", "lj"])
def test_kinetic_energy_of_a_mole_at_unit_speed(style):
    """Two atoms of 1 and 3 g/mol at 1 and 2 length units per time unit (3 components each)."""
    masses = np.array([1.0, 3.0])
    v = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    expected = 0.5 * (1.0 * 1.0 + 3.0 * 4.0) * MVV[style]
    assert units.kinetic_energy(style, masses, v) == pytest.approx(expected, rel=1e-6)
    # evaluate's per-atom kinetic energy of one frame (types 1, 2 with those masses)
    per_atom = evaluate.kinetic_energies(style, np.array([1, 2]), masses, v[None])
    assert per_atom[0] == pytest.approx(expected / 2, rel=1e-6)


@pytest.mark.parametrize("style", ["real", "metal", "lj"])
def test_temperature_and_thermal_velocity(style):
    """T = sum m v^2 / ((3N - 3) k_B); sqrt(k_B T / m) is the speed per component at T."""
    masses = np.full(10, 28.0855)
    v = np.random.default_rng(1).normal(size=(10, 3))
    expected = (masses[:, None] * v ** 2).sum() * MVV[style] / (27 * KB[style])
    assert validate.temperature(style, masses, v[None])[0] == pytest.approx(expected, rel=1e-5)
    assert units.thermal_velocity(style, 300.0, 28.0855) == pytest.approx(
        np.sqrt(KB[style] * 300.0 / (28.0855 * MVV[style])), rel=1e-5)


def test_the_registry_velocity_scale_of_silicon():
    """silicon (metal) at 2000 K: sqrt(k_B T / m) = 7.70 A/ps for m = 28.0855 g/mol, by hand."""
    si = systems.get("si")
    by_hand = np.sqrt(BOLTZMANN * 2000.0 / (28.0855e-3 / AVOGADRO)) * 1e10 / 1e12
    assert si.velocity_scales()[0] == pytest.approx(by_hand, rel=1e-5)
    assert by_hand == pytest.approx(7.70, abs=0.01)


def test_an_unknown_style_is_named():
    with pytest.raises(ValueError, match="units 'cgs' not supported"):
        units.kinetic_energy("cgs", [1.0], [[1.0, 0.0, 0.0]])
