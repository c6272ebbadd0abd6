"""The paper's supplementary studies, ours against the paper, for docs/results.md.

    python -m ogn_lammps.results studies                 # S5, S6, S7, S8, S11
    python -m ogn_lammps.results studies --only s6 s11   # some of them
    python -m ogn_lammps.results studies --rerun s8      # redo one even where its runs are newer

| study | paper | module |
|---|---|---|
| s5 | ESI S5: a model trained at paper size on 8x and 27x boxes | size.py |
| s6 | ESI S6: held-out states at other temperatures | state_points.py |
| s7 | ESI S7: held-out states at other densities | state_points.py |
| s8 | ESI S8: depth (MPNN layers, structured stages) at equal minutes | depth.py |
| s11 | ESI S11: the glass's fictive temperature from its quench | fictive.py |

Each study writes `results/studies/<name>/summary.json` (and its runs beside it) and renders
its section from that file alone; `report.py` (the command and the registry STUDIES) puts the sections between two markers of
docs/results.md, so the rest of the report is left as `python -m ogn_lammps.results` wrote it.
Runs, held-out data and trainings are reused while their outputs exist and are newer than
their inputs; `--rerun` redoes a study's summary from them.
"""

