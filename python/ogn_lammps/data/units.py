"""The constants of LAMMPS's unit styles, once for the whole package (LAMMPS src/update.cpp,
`Update::set_units`: force->boltz and force->mvv2e).

Every kinetic energy, temperature and thermal velocity in Python goes through the functions
here, so no other module holds a unit constant: a second table once made the `real`
mass-velocity factor 10^6 too small.
"""

from __future__ import annotations

import math

import numpy as np

# Boltzmann's constant in each style's energy per kelvin (lj: reduced units, T in eps / k_B)
BOLTZ = {"lj": 1.0, "metal": 8.617343e-5, "real": 0.0019872067}
# mass x velocity^2 -> energy: metal g/mol (A/ps)^2 -> eV, real g/mol (A/fs)^2 -> kcal/mol
# (LAMMPS writes the real one as 48.88821291^2)
MVV2E = {"lj": 1.0, "metal": 1.0364269e-4, "real": 48.88821291 * 48.88821291}
LENGTH_UNIT = {"lj": "sigma", "metal": "A", "real": "A"}
VELOCITY_UNIT = {"lj": "sigma/tau", "metal": "A/ps", "real": "A/fs"}
STYLES = tuple(BOLTZ)


def _style(units: str) -> str:
    if units not in BOLTZ:
        raise ValueError(f"units {units!r} not supported, expected one of {sorted(BOLTZ)}")
    return units


def kinetic_energy(units: str, masses, velocities) -> np.ndarray:
    """sum over atoms of m v^2 / 2, in the style's energy unit. velocities (..., N, 3);
    masses (N,) per atom."""
    v = np.asarray(velocities, dtype=np.float64)
    m = np.asarray(masses, dtype=np.float64)[..., :, None]
    return 0.5 * MVV2E[_style(units)] * np.sum(m * v * v, axis=(-2, -1))


def temperature(units: str, masses, velocities) -> np.ndarray:
    """2 KE / ((3N - 3) k_B), as LAMMPS's compute temp (the centre of mass's 3 degrees left out)."""
    n = np.shape(velocities)[-2]
    return 2.0 * kinetic_energy(units, masses, velocities) / ((3 * n - 3) * BOLTZ[units])


def thermal_velocity(units: str, temperature: float, mass: float) -> float:
    """sqrt(k_B T / m), per Cartesian component, in the style's velocity unit."""
    return math.sqrt(BOLTZ[_style(units)] * temperature / (mass * MVV2E[units]))
