"""`python -m ogn_lammps.validate`, kept as the README names it: the tool is ogn_lammps.judge.validate."""
import sys

from .judge.validate import main

if __name__ == "__main__":
    sys.exit(main())
