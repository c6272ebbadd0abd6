"""Where validate judges a model: the multiples of k nearest the paper's 25, 50, 100, 200 and
400 MD steps; and velocity-Verlet at m x dt against it (the equal-accuracy timestep m*)."""

from __future__ import annotations

import pytest

from ogn_lammps.judge.validate import checkpoints
from ogn_lammps.judge.verlet_ladder import equal_accuracy, rung_steps

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("k, horizon, expected", [
    (5, 400, {25: 25, 50: 50, 100: 100, 200: 200, 400: 400}),
    (10, 200, {30: 25, 50: 50, 100: 100, 200: 200}),  # 25 lies between 20 and 30: a tie goes up
    (20, 200, {20: 25, 60: 50, 100: 100, 200: 200}),
    (25, 25, {25: 25}),
    (100, 400, {100: 100, 200: 200, 400: 400}),  # 25 and 50 round to 0 and 100: k at least, once
])
def test_validate_judges_the_multiples_of_k_nearest_the_papers_steps(k, horizon, expected):
    assert checkpoints(k, horizon) == expected


# rows as verlet_ladder.ladder writes them: m, md_steps, pos, vel, blew_up
def rung(m, pos, vel, blew_up=False):
    return dict(m=m, md_steps=100, pos=pos, vel=vel, blew_up=blew_up)


@pytest.mark.parametrize("rows, expected", [
    ([rung(2, 0.1, 0.1), rung(3, 0.2, 0.5), rung(4, 0.3, 0.2)], 2),   # 3: velocity worse; 4: position worse
    ([rung(2, 0.1, 0.1), rung(3, 0.2, 0.2), rung(4, 0.25, 0.3)], 4),  # "no worse": equal counts
    ([rung(2, 0.5, 0.5)], 1),                                          # none: velocity-Verlet at dt
    ([rung(2, 0.1, 0.1), rung(3, float("nan"), float("nan"), True)], 2),
    ([rung(2, 0.3, 0.1), rung(5, 0.1, 0.1)], 5),                       # the largest, not the first run of good ones
])
def test_the_equal_accuracy_timestep_is_the_largest_m_as_accurate_as_the_model(rows, expected):
    assert equal_accuracy(rows, 0.25, 0.3) == expected


@pytest.mark.parametrize("m, horizon, steps", [(2, 25, 24), (3, 25, 24), (5, 100, 100), (15, 100, 90), (30, 25, 0)])
def test_velocity_verlet_is_judged_at_the_last_multiple_of_m_not_after_the_horizon(m, horizon, steps):
    assert rung_steps(m, horizon) == steps
