"""`python -m ogn_lammps.contrast`, kept as the README names it: the tool is ogn_lammps.judge.contrast."""
import sys

from .judge.contrast import main

if __name__ == "__main__":
    sys.exit(main())
