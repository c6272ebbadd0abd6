"""python -m ogn_lammps.check_ground_truth on real deck output."""

from __future__ import annotations

import subprocess
import sys


def test_report_rows_and_exit_status(deck_output, tmp_path):
    folders = [str(deck_output("cuzr")), str(deck_output("lj"))]
    proc = subprocess.run(
        [sys.executable, "-m", "ogn_lammps.check_ground_truth", *folders, "--per-trajectory"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:] if line[:1].isalpha()}
    assert rows["cuzr"][1] == "245" and rows["cuzr"][2] == "0.05932" and float(rows["cuzr"][3]) > 6
    assert rows["lj"][1] == "265" and rows["lj"][2] == "1.20000" and rows["lj"][3] == "-"
    assert rows["cuzr"][-1] == rows["lj"][-1] == "yes"
    assert proc.stdout.count("train_00") == 2 and proc.stdout.count("test_00") == 2

    # A deck run too short to measure drift is flagged, with exit status 1.
    short = tmp_path / "short"
    from conftest import run_deck

    run_deck("lj", short, seed=3, ntrain=1, ntest=0, nsteps=40, neq=100, npre=100)
    flagged = subprocess.run([sys.executable, "-m", "ogn_lammps.check_ground_truth", str(short)], capture_output=True, text=True)
    assert flagged.returncode == 1 and flagged.stdout.splitlines()[1].endswith("NO")
    missing = subprocess.run([sys.executable, "-m", "ogn_lammps.check_ground_truth", str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 2 and "error" in missing.stderr
