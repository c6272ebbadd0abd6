"""`python -m ogn_lammps.physics`, kept as the README names it: the tool is ogn_lammps.judge.physics."""
import sys

from .judge.physics import main

if __name__ == "__main__":
    sys.exit(main())
