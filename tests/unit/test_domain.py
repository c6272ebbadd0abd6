"""train/domain.py's measures, on states whose answer is known by hand: the per-type kinetic
temperature with 3 N_t degrees of freedom and the closest pair through the periodic boundary."""

from __future__ import annotations

import numpy as np
import pytest

from ogn_lammps.train.domain import closest_pairs, type_temperatures

pytestmark = pytest.mark.unit


def test_type_temperature_counts_three_degrees_of_freedom_per_atom():
    # LJ units (m v^2 = 2 KE, k_B = 1): type 1 two atoms of mass 2 at |v| = 1, type 2 one of
    # mass 1 at |v| = 3; T_t = sum m v^2 / (3 N_t)
    v = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, 3.0]])
    t = type_temperatures(v, np.array([1, 1, 2]), np.array([2.0, 1.0]), "lj")
    assert t == pytest.approx([2 * 2 * 1 / 6, 9 / 3])


def test_type_temperature_in_metal_units_matches_equipartition():
    # 1000 atoms of 28.0855 g/mol drawn at 2000 K: (1/2) m <v^2> = (3/2) k_B T within sampling noise
    rng = np.random.default_rng(3)
    kb, mvv2e = 8.617343e-5, 1.0364269e-4
    sigma = np.sqrt(kb * 2000 / (28.0855 * mvv2e))
    t = type_temperatures(rng.normal(0, sigma, (1000, 3)), np.ones(1000, dtype=int), np.array([28.0855]), "metal")
    assert t[0] == pytest.approx(2000, rel=0.05)


def test_closest_pair_sees_the_periodic_image_and_is_symmetric():
    lengths = np.array([10.0, 10.0, 10.0])
    x = np.array([[0.1, 5, 5], [9.8, 5, 5], [5, 5, 5], [5, 6.5, 5]])  # 1-2 apart 0.3 through x = 0
    closest = closest_pairs(x, np.array([1, 2, 2, 1]), lengths, 2, cutoff=6.0)
    assert closest[0, 1] == closest[1, 0] == pytest.approx(0.3)
    assert closest[0, 0] == pytest.approx(np.hypot(4.9, 1.5))   # atoms 1 and 4
    assert closest[1, 1] == pytest.approx(4.8)                   # atoms 2 and 3
    far = closest_pairs(x, np.array([1, 2, 2, 1]), lengths, 2, cutoff=1.0)
    assert far[0, 1] == pytest.approx(0.3) and np.isinf(far[0, 0]) and np.isinf(far[1, 1])
