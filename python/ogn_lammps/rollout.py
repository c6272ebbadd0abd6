"""`python -m ogn_lammps.rollout`, kept as the README names it: the tool is ogn_lammps.judge.rollout."""
import sys

from .judge.rollout import main

if __name__ == "__main__":
    sys.exit(main())
