"""Roll an exported model forward in Python from a dataset's test trajectory start.

    python -m ogn_lammps.rollout model.pt --data data/lj/dataset.h5 -o rollout.h5
    python -m ogn_lammps.rollout model.pt --data data/lj/dataset.h5 --trajectory test_01 \\
        --start 100 -n 40 -o rollout.h5

Each inference builds the graph of the current positions (every ordered pair within the
model's cutoff, in the periodic box) and calls the model's scripted `forward`, the same
function `fix ogn` calls on one rank, then advances the state as model/step.py
defines it (x + dr, v + dv in float64), in its `rollout` loop, which stops at a non-finite
prediction or an atom that moves more than the cutoff. The output file holds every
inference's positions and velocities, for `python -m ogn_lammps.evaluate`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

from ..model import model_file
from ..model.step import rollout
from ..data.dataset import Dataset
from ..model.graph import box_lengths
from ..model.model_file import ModelError, check_compatible  # noqa: F401  (re-exported for callers)

ROLLOUT_FORMAT = 1


class DivergedError(RuntimeError):
    """A rollout state that no longer makes sense; the message names the inference and atom."""


def load_model(path: str | Path, device: str = "cpu") -> tuple[torch.jit.ScriptModule, dict]:
    """(scripted model, metadata) from model.pt (ogn_lammps.model_file)."""
    return model_file.load(path, device)


def write_rollout(path: Path, attrs: dict, arrays: dict) -> None:
    """HDF5 written to a temporary name and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as h5:
            for key, value in attrs.items():
                h5.attrs[key] = value
            for key, value in arrays.items():
                h5.create_dataset(key, data=value)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ogn_lammps.rollout", description=__doc__.splitlines()[0])
    p.add_argument("model", help="model.pt from python -m ogn_lammps.export")
    p.add_argument("--data", required=True, help="dataset file (python -m ogn_lammps.dataset)")
    p.add_argument("--trajectory", default="test_00", help="test trajectory to start from (default test_00)")
    p.add_argument("--start", type=int, default=0, help="frame of the trajectory to start from")
    p.add_argument("-n", "--inferences", type=int, help="number of inferences (default: 100 MD steps' worth)")
    p.add_argument("-o", "--output", default="rollout.h5")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        model, meta = load_model(args.model, args.device)
        if not Path(args.data).is_file():
            raise ModelError(f"{args.data}: dataset file not found")
        with Dataset(args.data) as ds:
            check_compatible(meta, ds.units, ds.dt, ds.type_names, ds.masses, f"dataset {args.data}")
            if args.trajectory not in ds.trajectories("test"):
                raise ModelError(f"{args.data}: no test trajectory {args.trajectory!r}; it has {ds.trajectories('test')}")
            n_frames = ds.n_frames("test", args.trajectory)
            if not 0 <= args.start < n_frames:
                raise ModelError(f"--start {args.start}: {args.trajectory} has frames 0..{n_frames - 1}")
            x0, v0 = ds.frame("test", args.trajectory, args.start)
            start_step = int(ds.trajectory("test", args.trajectory)["timesteps"][args.start])
            types, ids, masses, box = ds.types, ds.ids, ds.masses, ds.box
            frame_stride = ds.frame_stride
        k = int(meta["k"])
        n = args.inferences or max(1, -(-100 // k))
        xs, vs, per_inference, failure = rollout(model, meta, types, ids, x0, v0, box_lengths(box), n, args.device,
                                        progress=not args.quiet)
        write_rollout(
            Path(args.output),
            {
                "format_version": ROLLOUT_FORMAT,
                "model": str(args.model),
                "model_metadata": json.dumps(meta),
                "dataset": str(args.data),
                "trajectory": args.trajectory,
                "start_frame": args.start,
                "frame_stride": frame_stride,
                "k": k,
                "dt": meta["dt"],
                "seconds_per_inference": per_inference,
                "failure": failure or "",
            },
            {
                "positions": xs,
                "velocities": vs,
                "md_steps": start_step + k * np.arange(len(xs)),
                "types": types,
                "ids": ids,
                "masses": masses,
                "box": box,
            },
        )
        if failure:
            raise DivergedError(f"{failure}; the {len(xs) - 1} good inferences are in {args.output}")
        if not args.quiet:
            print(f"rollout: {n} inferences ({n * k} MD steps) in {per_inference * 1e3:.1f} ms each -> {args.output}",
                  file=sys.stderr)
    except (ModelError, DivergedError) as err:
        print(f"rollout: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
