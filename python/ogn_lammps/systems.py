"""`python -m ogn_lammps.systems`, kept as the README names it: the tool is ogn_lammps.data.systems."""
import sys

from .data.systems import main

if __name__ == "__main__":
    sys.exit(main())
