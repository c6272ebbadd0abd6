"""`python -m ogn_lammps.export`, kept as the README names it: the tool is ogn_lammps.train.export."""
import sys

from .train.export import main

if __name__ == "__main__":
    sys.exit(main())
