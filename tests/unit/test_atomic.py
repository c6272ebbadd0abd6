"""atomic.save_figure, the one way the package saves a plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ogn_lammps.atomic import save_figure  # noqa: E402

pytestmark = pytest.mark.unit


def test_a_figure_is_written_whole_and_closed(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = tmp_path / "new" / "plot.png"
    save_figure(fig, path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in path.parent.iterdir()] == ["plot.png"]  # no temporary file left


def test_the_format_follows_the_suffix(tmp_path):
    fig, _ = plt.subplots()
    save_figure(fig, tmp_path / "plot.pdf")
    assert (tmp_path / "plot.pdf").read_bytes()[:5] == b"%PDF-"
