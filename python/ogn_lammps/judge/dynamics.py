"""Time correlation functions of an MD trajectory, for comparing the dynamics of fix ogn with
LAMMPS's beyond the diffusion coefficient (judge/physics.py, docs/physics.md).

A learned integrator can reproduce D (a long-time average) while getting the shorter times
wrong, or hold the structure while slowing the cage escape of a glass. These functions measure
what D alone does not:

- `first_peak_q`: the wavenumber of the first peak of S(q) from the run's g(r), the length
  scale (the cage) at which the self intermediate scattering function is read;
- `self_intermediate_scattering` and `relaxation_time`: F_s(q, t) per type and its alpha
  relaxation time (F_s = 1/e), the standard measure of structural relaxation, which stays
  defined in a glass where D is not;
- `velocity_autocorrelation`, `vibrational_dos` and `dos_overlap`: the normalized VACF, the
  vibrational density of states (its cosine transform) and a scalar similarity of two spectra:
  whether the learned step keeps the vibrational frequencies, which a large timestep shifts.

All averages run over every time origin of a trajectory sampled at a constant interval; numpy
only. Lags are in frames; the caller turns them into times.
"""

from __future__ import annotations

import numpy as np


def _trapezoid(y: np.ndarray, x: np.ndarray, axis: int = 0) -> np.ndarray:
    """The trapezoid rule along `axis` (np.trapezoid is new in numpy 2.0; this works on any)."""
    y = np.moveaxis(np.asarray(y, float), axis, 0)
    dx = np.diff(np.asarray(x, float)).reshape((-1,) + (1,) * (y.ndim - 1))
    return 0.5 * ((y[1:] + y[:-1]) * dx).sum(0)


def _per_type(values: np.ndarray, types: np.ndarray, ntypes: int) -> np.ndarray:
    """The mean of per-atom `values` over the atoms of each LAMMPS type 1..ntypes (nan for a
    type without atoms)."""
    index = np.asarray(types) - 1
    counts = np.bincount(index, minlength=ntypes)[:ntypes]
    sums = np.bincount(index, weights=values, minlength=ntypes)[:ntypes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def structure_factor(rdf_r, rdf_g, number_density: float, q) -> np.ndarray:
    """S(q) = 1 + 4 pi rho sum_r r^2 (g(r) - 1) L(r) sin(q r) / (q r) dr from a g(r) on equal
    bins (r at the bin centres, so the sum is the midpoint rule).

    L(r) = sin(pi r / R) / (pi r / R), R the outer edge of the last bin, is the Lorch window:
    g(r) stops at the cutoff of compute rdf, and the abrupt end would ring through S(q) with a
    period 2 pi / R as large as the peak itself; the window trades that ringing for a slightly
    broader peak."""
    r = np.asarray(rdf_r, float)
    g = np.asarray(rdf_g, float)
    dr = r[1] - r[0]
    outer = r[-1] + 0.5 * dr
    lorch = np.sinc(r / outer)              # np.sinc(x) = sin(pi x) / (pi x)
    q = np.atleast_1d(np.asarray(q, float))
    kernel = np.sinc(np.outer(q, r) / np.pi)  # sin(q r) / (q r), 1 at q r = 0
    return 1.0 + 4.0 * np.pi * number_density * dr * kernel @ (r ** 2 * (g - 1.0) * lorch)


# The first peak of S(q) is sought between these multiples of 2 pi / r1, r1 the first peak of
# g(r). In units of 2 pi / r1 the first peak of S sits at about 1.05 in liquid silicon
# (2.75/A, r1 = 2.45 A), 1.1-1.25 in simple liquids (LJ near the triple point: 7.1/sigma with
# r1 = 1.1 sigma), 1.22-1.41 in fcc (the (111) and (200) reflections); the second peak of S
# comes at 1.8-2.1, so the upper bound leaves it out, and the lower bound leaves out the small-q
# region where a finite-range g(r) says little.
PEAK_BRACKET = (0.7, 1.6)


def first_peak_q(rdf_r, rdf_g, number_density: float, bracket: tuple[float, float] = PEAK_BRACKET,
                 points: int = 2001) -> float:
    """The wavenumber of the first peak of the static structure factor S(q), computed from the
    total g(r) (`structure_factor`) on a grid of `points` q between bracket x 2 pi / r1 (r1 the
    position of the highest bin of g) and above the resolution 2 pi / R of a g(r) that ends at R.

    It fixes the length scale at which F_s(q, t) is read: the first peak of S(q) is the
    nearest-neighbour cage, whose escape is the structural (alpha) relaxation."""
    r = np.asarray(rdf_r, float)
    g = np.asarray(rdf_g, float)
    if r.ndim != 1 or r.shape != g.shape or len(r) < 3:
        raise ValueError("first_peak_q needs g(r) on at least three equal bins")
    outer = r[-1] + 0.5 * (r[1] - r[0])
    r1 = r[int(np.argmax(g))]
    low = max(2.0 * np.pi / outer, bracket[0] * 2.0 * np.pi / r1)
    high = bracket[1] * 2.0 * np.pi / r1
    q = np.linspace(low, high, points)
    return float(q[int(np.argmax(structure_factor(r, g, number_density, q)))])


def self_intermediate_scattering(frames_positions, types, q: float, ntypes: int,
                                 max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """F_s(q, t) = < sin(q |dr|) / (q |dr|) > per type, dr the displacement of an atom over a
    lag of t frames, averaged over the atoms of the type and over every time origin.

    sin(qr)/(qr) is the exact average of exp(i q.dr) over the directions of q, so no set of q
    vectors is needed and the result holds for any box. frames_positions: (frames, atoms, 3),
    unwrapped; types: (atoms,) LAMMPS types from 1. Returns (lags 0..max_lag in frames,
    F_s of shape (lags, ntypes)); max_lag is capped at frames - 1. One lag at a time, so the
    memory is that of one displacement array (frames x atoms x 3)."""
    x = np.asarray(frames_positions, float)
    max_lag = int(min(max_lag, len(x) - 1))
    fs = np.empty((max_lag + 1, ntypes))
    fs[0] = _per_type(np.ones(x.shape[1]), types, ntypes)  # 1 (nan for an empty type)
    for lag in range(1, max_lag + 1):
        distance = np.linalg.norm(x[lag:] - x[:-lag], axis=-1)        # (origins, atoms)
        fs[lag] = _per_type(np.sinc(q * distance / np.pi).mean(0), types, ntypes)
    return np.arange(max_lag + 1), fs


def relaxation_time(t, fs, level: float = 1.0 / np.e) -> float:
    """The first time at which F_s falls to `level` (1/e: the alpha relaxation time tau_alpha),
    interpolated between the two samples around it in log F_s (exact for an exponential decay,
    and so good for a coarse sampling of a smooth one; linear where F_s <= 0). nan if F_s stays
    above the level over every lag: a glass, or a run too short; the caller then reports F_s at
    the longest lag instead."""
    t = np.asarray(t, float)
    fs = np.asarray(fs, float)
    below = np.flatnonzero(fs <= level)
    if not below.size:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(t[0])
    a, b = fs[i - 1], fs[i]
    if b > 0:
        fraction = (np.log(a) - np.log(level)) / (np.log(a) - np.log(b))
    else:
        fraction = (a - level) / (a - b)
    return float(t[i - 1] + fraction * (t[i] - t[i - 1]))


def velocity_autocorrelation(velocities, types, ntypes: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The normalized velocity autocorrelation Z(t) = <v(0).v(t)> / <v(0).v(0)> per type,
    averaged over the atoms of the type and every time origin (so Z(0) = 1).

    It holds the short-time dynamics (collisions, cage rattling, vibrations) that the MSD
    integrates away; its cosine transform is the vibrational density of states. velocities:
    (frames, atoms, 3); returns (lags 0..max_lag in frames, Z of shape (lags, ntypes))."""
    v = np.asarray(velocities, float)
    max_lag = int(min(max_lag, len(v) - 1))
    c = np.empty((max_lag + 1, ntypes))
    for lag in range(max_lag + 1):
        dot = (v[lag:] * v[:len(v) - lag]).sum(-1).mean(0)            # per atom
        c[lag] = _per_type(dot, types, ntypes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.arange(max_lag + 1), c / c[0]


def vibrational_dos(t, z) -> tuple[np.ndarray, np.ndarray]:
    """The vibrational density of states, the cosine transform of the normalized VACF:
    D(f) proportional to integral_0^T Z(t) w(t) cos(2 pi f t) dt, normalized to unit area.

    w(t) = (1 + cos(pi t / T)) / 2 is half a Hann window, 1 at t = 0 and 0 at the longest lag T:
    cutting the VACF off at T unwindowed would give sinc ripples (and negative densities) of
    width 1 / T; the window trades them for a peak broadened to about 1 / T. t: equally spaced
    lag times from 0; z: (lags,) or (lags, types). Returns (frequencies f = 0, 1/(2T), ... up to
    the Nyquist frequency 1 / (2 dt), in 1 / the time unit of t; the DOS, shaped like z)."""
    t = np.asarray(t, float)
    z = np.asarray(z, float)
    if len(t) < 3 or t[0] != 0 or not np.allclose(np.diff(t), t[1] - t[0]):
        raise ValueError("vibrational_dos needs at least three equally spaced lag times from 0")
    span = t[-1]
    window = 0.5 * (1.0 + np.cos(np.pi * t / span))
    weights = np.full(len(t), t[1] - t[0])                             # the trapezoid rule
    weights[[0, -1]] *= 0.5
    freq = np.arange(len(t)) / (2.0 * span)
    kernel = np.cos(2.0 * np.pi * np.outer(freq, t)) * (weights * window)
    dos = kernel @ z
    with np.errstate(invalid="ignore", divide="ignore"):
        return freq, dos / _trapezoid(dos, freq)


def dos_overlap(f, a, b) -> float:
    """1 - (1/2) integral |a - b| df for two spectra of unit area on the same frequencies f:
    1 for identical spectra, 0 for spectra with no common support. One number per pair that
    says how much of the vibrational weight sits at the same frequencies."""
    return float(1.0 - 0.5 * _trapezoid(np.abs(np.asarray(a, float) - np.asarray(b, float)), f))
