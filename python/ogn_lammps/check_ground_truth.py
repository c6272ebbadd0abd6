"""`python -m ogn_lammps.check_ground_truth`, kept as the README names it: the tool is ogn_lammps.data.check_ground_truth."""
import sys

from .data.check_ground_truth import main

if __name__ == "__main__":
    sys.exit(main())
