"""validate's speed line when velocity-Verlet at m* x dt does not hold over the timed run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ogn_lammps.judge import speed, validate


def fake_runs(monkeypatch, holds: int):
    """fix ogn at 1000 MD-equivalent atom-steps per second; VV at m x dt at 10 m, lost above `holds`."""
    asked = []

    def verlet(entry, data, multiple, ranks, folder=None):
        asked.append(multiple)
        if multiple > holds:
            raise speed.SpeedError("timed run lost atoms: 128 at the start of the timed run, 114 at its end")
        return speed.Timed(1.0, 10, 1, multiple, "")

    monkeypatch.setattr(speed, "fix_ogn", lambda *a, **k: speed.Timed(1.0, 100, 1, 10, ""))
    monkeypatch.setattr(speed, "verlet", verlet)
    return asked


def measure(tmp_path, m_star):
    return validate.measure_speed(tmp_path / "m.pt", {"k": 10}, SimpleNamespace(), tmp_path / "s.data", 1,
                                  tmp_path, lambda *a: None, 10, m_star)


def test_the_largest_rung_below_m_star_that_holds_is_timed(monkeypatch, tmp_path):
    asked = fake_runs(monkeypatch, holds=8)
    s = measure(tmp_path, 15)
    assert asked == [1, 15, 10, 8]
    assert (s["m_star"], s["m_timed"]) == (15, 8)
    assert s["equal_accuracy_ratio"] == pytest.approx(1000 / 80)
    assert "did not hold over the timed run: the equal-accuracy speed is against 8 x dt" in s["note"]


def test_m_star_that_holds_is_timed_once(monkeypatch, tmp_path):
    asked = fake_runs(monkeypatch, holds=400)
    s = measure(tmp_path, 15)
    assert asked == [1, 15] and s["m_timed"] == 15 and s["note"] == ""
    assert s["equal_accuracy_ratio"] == pytest.approx(1000 / 150)
