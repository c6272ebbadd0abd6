"""`python -m ogn_lammps.results`, kept as the README names it: the tool is ogn_lammps.judge.results."""
import sys

from .judge.results import main

if __name__ == "__main__":
    sys.exit(main())
