"""`python -m ogn_lammps.loss_vs_k`, kept as the README names it: the tool is ogn_lammps.judge.loss_vs_k."""
import sys

from .judge.loss_vs_k import main

if __name__ == "__main__":
    sys.exit(main())
