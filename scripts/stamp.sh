#!/usr/bin/env bash
# Prints the hash of everything `scripts/setup.sh` installs or builds from: the requirements
# and the fix ogn plugin's sources. scripts/test.sh sets up again when it changes.
cd "$(dirname "$0")/.."
cat pyproject.toml scripts/setup.sh CMakeLists.txt lammps_plugin/*.{h,cpp,cu,py} | sha256sum
