"""`python -m ogn_lammps.evaluate`, kept as the README names it: the tool is ogn_lammps.judge.evaluate."""
import sys

from .judge.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
