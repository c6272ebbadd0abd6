"""data/lammps_files.py's read_thermo: the one reader of thermo tables, by their header line,
on logs written out here in LAMMPS's own layout."""

from __future__ import annotations

import numpy as np
import pytest

from ogn_lammps.data.lammps_files import read_thermo, read_thermo_blocks
from ogn_lammps.judge.physics import COLUMNS, parse_log

pytestmark = pytest.mark.unit

OGN_LOG = """LAMMPS (22 Jul 2025)
thermo_style    custom step time temp ke pe etotal v_px v_py v_pz v_pnorm
Per MPI rank memory allocation (min/avg/max) = 3.896 | 3.896 | 3.896 Mbytes
   Step          Time           Temp          KinEng         PotEng         TotEng          v_px           v_py           v_pz         v_pnorm
         0               0      3.0682385      4.5849903     -3.6566897     0.92830059 -2.2248869e-13 -8.0824236e-14  4.6095072e-14   2.411608e-13
WARNING: fix ogn: 3 atoms outside the training domain (src/fix_ogn.cpp:1)
         1           0.025     0.63021363      0.9417532     -1.6093582    -0.66760502 -2.0872193e-13 -7.6494366e-14  5.1875171e-14  2.2827016e-13
fix ogn: 1 inferences, per inference (slowest rank): graph 0.149 ms
Loop time of 0.0882625 on 1 procs for 1 steps with 265 atoms

Performance: 97889.813 tau/day, 45.319 timesteps/s, 12.010 katom-step/s
"""

LONG_RUN = """   v_md_step         Time          Atoms          Temp           c_T1           c_T2          PotEng         KinEng         TotEng         v_msd1         v_msd2        v_pnorm
         0               0            265            3.0            3.1            2.9           -3.6            4.5            0.9              0              0          1e-13
        20             0.1            265            3.1            3.2            2.8           -3.7            4.7            1.0           0.01           0.02          2e-13
Loop time of 1.0 on 1 procs for 2 steps with 265 atoms
   v_md_step         Time          Atoms          Temp           c_T1           c_T2          PotEng         KinEng         TotEng         v_msd1         v_msd2        v_pnorm
        40             0.2            264            3.2            3.3            2.7           -3.8            4.9            1.1           0.03           0.04          3e-13
Loop time of 1.0 on 1 procs for 1 steps with 264 atoms
"""


def test_the_ogn_deck_by_its_header():
    table = read_thermo(OGN_LOG)
    assert list(table) == ["step", "time", "temp", "ke", "pe", "etotal", "px", "py", "pz", "pnorm"]
    assert table["step"].tolist() == [0.0, 1.0] and table["time"].tolist() == [0.0, 0.025]
    assert table["etotal"].tolist() == [0.92830059, -0.66760502] and table["pz"][1] == 5.1875171e-14


def test_every_block_of_the_long_run_deck_in_order():
    assert len(read_thermo_blocks(LONG_RUN)) == 2
    table = parse_log(LONG_RUN)
    assert list(table) == list(COLUMNS)
    assert table["md_step"].tolist() == [0.0, 20.0, 40.0] and table["atoms"].tolist() == [265.0, 265.0, 264.0]
    assert table["T1"].tolist() == [3.1, 3.2, 3.3] and table["etotal"].tolist() == [0.9, 1.0, 1.1]


def test_a_log_without_rows_gives_empty_columns():
    table = parse_log("LAMMPS (22 Jul 2025)\nERROR: fix ogn: no model\n")
    assert list(table) == list(COLUMNS) and all(len(v) == 0 for v in table.values())
    assert read_thermo("") == {}
    assert np.array_equal(read_thermo(OGN_LOG, ["step"])["step"], np.zeros(0))  # no table has just these
