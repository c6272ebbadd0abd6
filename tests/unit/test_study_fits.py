"""The supplement's studies (judge/studies/): their fits, verdicts and the report's block,
on numbers made by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ogn_lammps.judge.studies import fictive, report, state_points
from ogn_lammps.judge.studies.context import Context, power_law

pytestmark = pytest.mark.unit


def test_two_lines_cross_at_the_fictive_temperature():
    # a glass of slope 1.5 below 0.6 and a liquid of slope 2.5 above it, continuous at 0.6
    t = np.linspace(0.05, 1.6, 400)
    pe = np.where(t < 0.6, -7.5 + 1.5 * t, -7.5 + 1.5 * 0.6 + 2.5 * (t - 0.6))
    t_f, glass, liquid = fictive.crossing(t, pe)
    assert t_f == pytest.approx(0.6, abs=1e-9)
    assert glass[0] == pytest.approx(1.5) and liquid[0] == pytest.approx(2.5)


def test_a_quench_that_misses_a_fit_range_is_named():
    t = np.linspace(0.5, 1.6, 50)
    with pytest.raises(fictive.StudyError, match=r"T in \(0.05, 0.3\)"):
        fictive.crossing(t, t)


def test_blocks_average_consecutive_rows_and_drop_the_rest():
    assert fictive.blocks(np.arange(7.0), 3).tolist() == [1.0, 4.0]


def test_power_law_exponent():
    x = np.array([1.0, 2.0, 4.0, 5.0])
    assert power_law(x, 3 * x ** 2) == pytest.approx(2.0)
    assert power_law(x, 0.1 * x ** -1.5) == pytest.approx(-1.5)
    assert math.isnan(power_law([1.0], [2.0]))  # one point has no slope
    assert power_law([1.0, 2.0, 3.0], [2.0, float("nan"), 18.0]) == pytest.approx(2.0)  # NaN skipped


def test_the_holding_range_runs_out_from_the_training_point():
    rows = [dict(value=v, holds=h) for v, h in ((1.0, False), (2.0, True), (3.0, True), (4.0, True), (5.0, False))]
    assert state_points.holding_range(rows, 3.0) == (2.0, 4.0)
    rows[3]["holds"] = False
    assert state_points.holding_range(rows, 3.0) == (2.0, 3.0)
    rows[2]["holds"] = False  # not even at the training point
    assert state_points.holding_range(rows, 3.0) is None
    rows[1] = dict(value=2.0, failed="diverged")  # a failed point has no 'holds' and ends the range
    rows[2]["holds"] = True
    assert state_points.holding_range(rows, 3.0) == (3.0, 3.0)


def summary(pos: float, vel: float, t_model: float, t_ref: float, stopped: str = "", v_scale: float = 1.7320508) -> dict:
    """The parts of a validate summary.json that a state point reads (v_scale: at the registry's T)."""
    long = dict(stopped=stopped) if stopped else dict(stopped="", temperature_mean=t_model,
                                                         temperature_reference=t_ref)
    return {"rmse": {"100": dict(pos=pos, vel=vel, pos_static=0.3, vel_static=2.4)}, "velocity_scale": v_scale,
            "long": [long]}


def test_accuracy_targets_are_the_reports():
    from ogn_lammps.data import systems
    si, lj = systems.get("si"), systems.get("lj")
    assert si.accuracy_targets(2.0, 7.7) == pytest.approx((0.2, 0.77))
    assert lj.accuracy_targets(0.4, 1.73) == pytest.approx((0.04, 0.4))  # the paper's LJ numbers (section 2.2)
    assert lj.accuracy_targets(0.4, 2.24, 5.0) == pytest.approx((0.04, 0.4 * math.sqrt(5 / 3)))


def test_a_state_point_is_judged_at_its_own_temperature():
    # silicon, trained at 2000 K where sqrt(kT/m) = 7.69 A/ps: at 1200 K it is 7.69 sqrt(0.6) = 5.96
    row = state_points.point_row("si", "temperature", 1200.0, summary(0.1, 0.55, 1220.0, 1200.0, v_scale=7.69))
    assert row["velocity_scale"] == pytest.approx(7.69 * math.sqrt(0.6), rel=1e-6)
    assert row["pos_target"] == pytest.approx(0.2) and row["vel_target"] == pytest.approx(0.596, rel=1e-3)
    assert row["long_temperature_deviation"] == pytest.approx(1220 / 1200 - 1)
    assert row["holds"]
    # 0.65 A/ps is within 0.1 x 7.69 at 2000 K, not within 0.596 at 1200 K
    assert not state_points.point_row("si", "temperature", 1200.0, summary(0.1, 0.65, 1200, 1200, v_scale=7.69))["holds"]
    assert state_points.point_row("si", "temperature", 2000.0, summary(0.1, 0.65, 2000, 2000, v_scale=7.69))["holds"]
    # LJ: the paper's 0.04 / 0.4, the velocity's scaled by sqrt(T / 3)
    assert state_points.point_row("lj", "temperature", 5.0, summary(0.03, 0.5, 5.0, 5.0))["holds"]
    assert not state_points.point_row("lj", "temperature", 3.0, summary(0.03, 0.5, 3.0, 3.0))["holds"]
    assert not state_points.point_row("lj", "temperature", 3.0, summary(0.041, 0.1, 3.0, 3.0))["holds"]  # > 0.04
    assert not state_points.point_row("lj", "temperature", 3.0, summary(0.01, 0.1, 3.2, 3.0))["holds"]  # T +6.7%
    stopped = state_points.point_row("lj", "rho", 0.96, summary(0.01, 0.1, 0, 0, "fix ogn: ... (MD step 1234) ..."))
    assert not stopped["holds"] and stopped["diverged_md_step"] == 1234


def test_the_block_replaces_its_old_self_and_nothing_else(tmp_path):
    ctx = Context(work=tmp_path / "none", doc=tmp_path / "docs" / "results.md")
    block = report.render(ctx)
    assert block[0] == report.BEGIN and block[-1] == report.END
    assert sum("Not measured yet" in line for line in block) == len(report.STUDIES)
    head, tail = "# Results\n\nabove\n", "\n\n## below\n"
    text = report.splice(head + "\n".join([report.BEGIN, "old", report.END]) + tail, ["NEW BLOCK"])
    assert text == head + "NEW BLOCK" + tail
    assert report.splice("# Results\n", ["B"]) == "# Results\n\nB\n"  # appended where there is none
    ctx.doc.parent.mkdir()
    ctx.doc.write_text(head + "\n".join(block) + tail)
    assert report.existing_block(ctx.doc) == block
    ctx.doc.write_text(head)
    assert report.existing_block(ctx.doc) == []
