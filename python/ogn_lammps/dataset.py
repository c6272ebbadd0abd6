"""`python -m ogn_lammps.dataset`, kept as the README names it: the tool is ogn_lammps.data.dataset."""
import sys

from .data.dataset import main

if __name__ == "__main__":
    sys.exit(main())
