"""judge/dynamics.py on trajectories and spectra whose answers are known analytically, and the
dynamics entries of judge/physics.py's summaries and judge/physics_report.py's rows."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ogn_lammps.judge import dynamics
from ogn_lammps.judge.dynamics import (dos_overlap, first_peak_q, relaxation_time, self_intermediate_scattering,
                                       structure_factor, velocity_autocorrelation, vibrational_dos)
from ogn_lammps.judge.physics import Trajectory, dynamics_summary, mean_summary
from ogn_lammps.judge.physics_report import NOT_MEASURED, dynamics_rows


def _brownian(rng, atoms=400, frames=160, dt=0.05, d=0.1):
    """A random walk with Gaussian steps of variance 2 D dt per axis: displacements over t are
    Gaussian with variance 2 D t per axis, so F_s(q, t) = exp(-q^2 D t) exactly in expectation."""
    steps = rng.normal(0.0, math.sqrt(2 * d * dt), (frames - 1, atoms, 3))
    return np.concatenate([np.zeros((1, atoms, 3)), np.cumsum(steps, 0)]) + rng.uniform(0, 10, (atoms, 3))


def test_fs_of_brownian_motion_decays_as_exp_minus_q2_d_t():
    rng = np.random.default_rng(7)
    dt, d, tau = 0.05, 0.1, 1.5
    q = 1.0 / math.sqrt(tau * d)               # chosen so that 1/(q^2 D) = tau, 30 frames
    x = _brownian(rng, dt=dt, d=d)
    types = np.repeat([1, 2], 200)
    lags, fs = self_intermediate_scattering(x, types, q, 2, 60)
    assert lags.tolist() == list(range(61)) and fs.shape == (61, 2)
    t = lags * dt
    assert np.allclose(fs, np.exp(-q * q * d * t)[:, None], atol=0.03)
    for i in range(2):
        assert relaxation_time(t, fs[:, i]) == pytest.approx(tau, rel=0.05)


def test_fs_of_ballistic_motion_is_sinc_exactly():
    # every atom at the same speed u in its own direction: |dr| = u t for every atom and origin,
    # so the orientational average sin(q r)/(q r) is F_s itself, with no sampling noise
    rng = np.random.default_rng(3)
    u, q, dt = 0.8, 2.0, 0.1
    n = rng.normal(size=(50, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    t = np.arange(40) * dt
    x = rng.uniform(0, 5, (50, 3)) + u * t[:, None, None] * n
    lags, fs = self_intermediate_scattering(x, np.ones(50, int), q, 1, 100)   # capped at 39
    assert len(lags) == 40
    assert np.allclose(fs[:, 0], np.sinc(q * u * t / np.pi), atol=1e-12)


def test_relaxation_time_interpolates_a_coarse_exponential():
    tau = 2.0
    t = np.arange(8) * 0.7 * tau               # samples 0.7 tau apart: 1/e falls between two
    assert relaxation_time(t, np.exp(-t / tau)) == pytest.approx(tau, rel=1e-12)
    assert relaxation_time(t, np.exp(-t / tau), level=0.5) == pytest.approx(tau * math.log(2), rel=1e-12)
    # across zero: linear, here 1 - t/2 reaches 1/e at 2 (1 - 1/e)
    t = np.array([0.0, 1.0, 2.0, 3.0])
    assert relaxation_time(t, np.array([1.0, 0.5, 0.0, -0.5])) == pytest.approx(2 * (1 - 1 / math.e))
    # a glass: F_s never reaches 1/e within the lags
    assert math.isnan(relaxation_time(t, np.array([1.0, 0.9, 0.85, 0.8])))


def test_vacf_and_vdos_of_harmonic_oscillators():
    # v(t) = cos(w t + phi) per atom and axis, random phases: <v(0) v(t)> / <v^2> = cos(w t)
    rng = np.random.default_rng(11)
    dt, frames, f0 = 0.1, 400, 0.33
    w = 2 * math.pi * f0
    t = np.arange(frames) * dt
    v = np.cos(w * t[:, None, None] + rng.uniform(0, 2 * math.pi, (1, 300, 3)))
    lags, z = velocity_autocorrelation(v, np.repeat([1, 2], 150), 2, 200)
    assert z.shape == (201, 2) and np.allclose(z[0], 1.0)
    lag_t = lags * dt
    assert np.allclose(z, np.cos(w * lag_t)[:, None], atol=0.03)
    freq, dos = vibrational_dos(lag_t, z)
    assert freq[1] - freq[0] == pytest.approx(1 / (2 * lag_t[-1]))
    assert freq[-1] == pytest.approx(1 / (2 * dt))                       # up to Nyquist
    assert np.allclose(dynamics._trapezoid(dos, freq), 1.0)
    for i in range(2):
        assert abs(freq[np.argmax(dos[:, i])] - f0) <= freq[1] - freq[0]
    assert dos_overlap(freq, dos[:, 0], dos[:, 1]) > 0.95


def test_dos_overlap():
    f = np.linspace(0, 20, 4001)
    a = np.exp(-0.5 * (f - 8) ** 2) / math.sqrt(2 * math.pi)
    b = np.exp(-0.5 * (f - 9) ** 2) / math.sqrt(2 * math.pi)
    assert dos_overlap(f, a, a) == 1.0
    # two unit normals 1 sigma apart share the area erfc(1 / (2 sqrt 2))
    assert dos_overlap(f, a, b) == pytest.approx(math.erfc(1 / (2 * math.sqrt(2))), rel=1e-4)


def _fcc_rdf(a=1.0, outer=6.0, dr=0.01, width=0.04):
    """g(r) of an fcc lattice (cube edge a), each shell of neighbours broadened to a Gaussian."""
    basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    n = int(outer / a) + 2
    cells = np.array(list(itertools.product(range(-n, n + 1), repeat=3)))
    d = np.linalg.norm((cells[:, None, :] + basis[None]).reshape(-1, 3) * a, axis=1)
    d = d[(d > 1e-9) & (d < outer + 6 * width)]
    r = np.arange(dr / 2, outer, dr)
    rho = 4 / a ** 3
    shells = np.exp(-0.5 * ((r[:, None] - d[None]) / width) ** 2).sum(1) / math.sqrt(2 * math.pi * width ** 2)
    return r, shells / (4 * math.pi * r ** 2 * rho), rho


def test_first_peak_q_of_fcc_is_the_111_reflection():
    # the first Bragg peak of fcc is (111) at 2 pi sqrt(3) / a; (200) follows at 4 pi / a,
    # 15% higher and weaker (multiplicity 6 against 8): a g(r) to 6 a resolves them to about
    # 2 pi / (6 a), a tenth of the gap, so the merged peak stays on (111) within a few %
    for a in (1.0, 3.6):
        r, g, rho = _fcc_rdf(a=a, outer=6 * a, dr=0.01 * a, width=0.04 * a)
        assert first_peak_q(r, g, rho) == pytest.approx(2 * math.pi * math.sqrt(3) / a, rel=0.03)


def test_structure_factor_of_an_ideal_gas_is_one():
    r = np.arange(0.025, 5, 0.05)
    assert np.allclose(structure_factor(r, np.ones_like(r), 0.8, np.linspace(0.5, 20, 50)), 1.0)


def _run_summary(trajectory, q, lag_times):
    base = {"T": 1.0, "equipartition": 0.0, "seconds": 1.0, "T_types": [1.0, 1.0], "D": [0.1, 0.1],
            "lost": 0, "failure": None}
    return {**base, **dynamics_summary(trajectory, None, 2, lag_times, q)}


def test_summaries_carry_the_dynamics_and_old_ones_still_average_and_report():
    rng = np.random.default_rng(5)
    dt, q = 0.05, 1.0 / math.sqrt(1.5 * 0.1)
    runs = []
    for _ in range(2):
        x = _brownian(rng, atoms=100, frames=120)
        v = rng.normal(size=x.shape)
        trajectory = Trajectory(np.arange(120), np.repeat([1, 2], 50), x, v, np.array([[0, 10]] * 3, float))
        runs.append(_run_summary(trajectory, q, np.arange(60) * dt))
    one = runs[0]
    assert one["fs"]["q"] == q and len(one["fs"]["lag"]) == 60 and len(one["fs"]["fs"]) == 2
    assert len(one["tau_alpha"]) == 2 and len(one["fs_last"]) == 2
    assert len(one["vacf"]["z"][0]) == 60 and len(one["vdos"]["freq"]) == len(one["vdos"]["dos"][1])
    mean = mean_summary(runs, 1.0)
    for key in ("tau_alpha", "tau_alpha_spread", "fs_last", "fs_last_spread"):
        assert len(mean[key]) == 2, key
    assert mean["tau_alpha"][0] == pytest.approx(np.mean([r["tau_alpha"][0] for r in runs]))
    assert mean["tau_alpha"][0] == pytest.approx(1.5, rel=0.1)
    assert mean["fs"]["q"] == q and mean["vdos"]["dos"]
    # summaries from before the dynamics were measured: no such keys, and the report says so
    old = [{k: x[k] for k in ("T", "equipartition", "seconds", "T_types", "D", "lost", "failure")} for x in runs]
    assert not {"fs", "tau_alpha", "vacf", "vdos"} & set(mean_summary(old, 1.0))
    result = {"units": "lj", "type_names": ["A", "B"], "comparison": {"variants": {"ogn": {}, "ogn_energy": {}}},
              "nvt": {"nvt_ogn": mean_summary(old, 1.0), "nvt_ogn_energy": mean_summary(old, 1.0)}}
    rows = dynamics_rows(result)
    assert len(rows) == 4 and all(cells == [NOT_MEASURED] * 2 and md == NOT_MEASURED for _, cells, md, _ in rows)
