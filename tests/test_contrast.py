"""python -m ogn_lammps.contrast: velocity-Verlet at dt against k x dt, with real LAMMPS."""

from __future__ import annotations

import subprocess
import sys

from ogn_lammps.judge.contrast import contrast


def test_long_timestep_breaks_energy_conservation(deck_output, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    for system in ("lj", "sio2"):
        (root / system).symlink_to(deck_output(system))
    pairs = contrast(root, ["lj", "sio2"], md_steps=300)
    for ref, long in pairs:
        assert ref.failure is None and ref.lost == 0
        assert ref.time[-1] == long.time[-1] or long.failure or long.lost
        # at dt: the energy only fluctuates (LJ at T = 3: about 2e-3 eps per atom);
        # at k x dt: far worse, or lost atoms
        assert ref.max_deviation < (2e-2 if ref.system == "lj" else 2e-3)
        assert long.failure or long.lost > 0 or long.max_deviation > 20 * ref.max_deviation, (ref, long)


def test_command_line_prints_table_and_saves_plot(deck_output, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "si").symlink_to(deck_output("si"))
    png = tmp_path / "contrast.png"
    proc = subprocess.run(
        [sys.executable, "-m", "ogn_lammps.contrast", "--data-root", str(root), "--md-steps", "200", "-o", str(png)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("si ")]
    assert [r[1] for r in rows] == ["dt", "10"] and rows[1][4] == "0.01"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = subprocess.run([sys.executable, "-m", "ogn_lammps.contrast", "--data-root", str(tmp_path / "none")], capture_output=True, text=True)
    assert empty.returncode == 2 and "run a ground-truth deck first" in empty.stderr
