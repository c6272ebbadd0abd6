#!/usr/bin/env bash
# Prints the hash of everything `scripts/setup.sh` installs or builds from: the requirements,
# every file under lammps_plugin/ (whatever its extension: impulse_kernel.cpp includes
# impulse_pairs.inc), and the list of the package's Python files, since the editable install
# maps module names to files when it is made. scripts/test.sh sets up again when it changes.
set -euo pipefail
cd "$(dirname "$0")/.."
{
    cat pyproject.toml scripts/setup.sh CMakeLists.txt
    find lammps_plugin -type f ! -path '*/__pycache__/*' | LC_ALL=C sort | while read -r file; do
        echo "== $file"
        cat "$file"
    done
    find python -name '*.py' ! -path '*/__pycache__/*' | LC_ALL=C sort
} | sha256sum
