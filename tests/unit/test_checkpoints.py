"""The steps at which validate judges a model: the multiples of k nearest the paper's 25, 50,
100, 200 and 400 MD steps."""

from __future__ import annotations

import pytest

from ogn_lammps.judge.validate import checkpoints

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
