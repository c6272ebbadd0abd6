"""`python -m ogn_lammps.train`: the training loop's command line (ogn_lammps.train.loop)."""
import sys

from .loop import main

sys.exit(main())
