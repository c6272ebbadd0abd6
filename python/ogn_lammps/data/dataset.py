"""One dataset file per system, built from a ground-truth deck's output folder.

    python -m ogn_lammps.dataset data/lj            # writes data/lj/dataset.h5
    python -m ogn_lammps.dataset data/lj -o lj.h5

The file is HDF5 (docs/dataset.md says why and gives the layout): per trajectory, frames of
unwrapped positions and velocities in float64, exactly as the dumps print them, one chunk
per frame so that training reads any (frame t, frame t+k) pair without loading the rest.
The dumps are streamed frame by frame, and the file appears only once it is complete.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .lammps_files import LammpsFileError, read_data_header, read_dump

FORMAT_VERSION = 1
SPLITS = ("train", "test")
_DUMP_NAME = re.compile(r"^(train|test)_(\d+)\.dump(\.gz)?$")


class DatasetError(ValueError):
    """The deck's output folder cannot be turned into a dataset."""


def find_dumps(folder: Path) -> dict[str, list[tuple[str, Path]]]:
    """{'train': [(name, path), ...], 'test': [...]} in trajectory order."""
    found: dict[str, list[tuple[int, str, Path]]] = {s: [] for s in SPLITS}
    for path in sorted(folder.iterdir()):
        match = _DUMP_NAME.match(path.name)
        if match:
            found[match.group(1)].append((int(match.group(2)), path.name.split(".")[0], path))
    return {s: [(name, path) for _, name, path in sorted(v)] for s, v in found.items()}


def _read_system(folder: Path) -> dict:
    path = folder / "system.json"
    if not path.is_file():
        raise DatasetError(f"{path}: missing; it is written by inputs/<sys>_ground_truth.in next to the dumps")
    try:
        system = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
    for key in ("system", "units", "dt"):
        if key not in system:
            raise DatasetError(f"{path}: missing key '{key}'")
    return system


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(folder: str | Path, output: str | Path | None = None, quiet: bool = False) -> Path:
    """Read every train_NN / test_NN dump of `folder` and write the dataset file atomically."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder (run a ground-truth deck first, e.g. lmp -in inputs/lj_ground_truth.in)")
    output = Path(output) if output else folder / "dataset.h5"
    system = _read_system(folder)
    dumps = find_dumps(folder)
    if not dumps["train"] and not dumps["test"]:
        raise DatasetError(f"{folder}: no train_NN.dump[.gz] or test_NN.dump[.gz] files")
    first_name = (dumps["train"] or dumps["test"])[0][0]
    header = read_data_header(folder / f"{first_name}.data")

    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["source"] = str(folder.resolve())
            h5.attrs["system_json"] = json.dumps(system)
            for key in ("system", "units", "dt"):
                h5.attrs[key] = system[key]
            h5.attrs["type_names"] = json.dumps(header.type_names)
            h5.attrs["masses"] = header.masses
            reference = None
            for split in SPLITS:
                group = h5.create_group(split)
                for name, path in dumps[split]:
                    start = time.monotonic()
                    reference = _write_trajectory(group, name, path, header, reference, system.get("nsteps"))
                    if not quiet:
                        frames = group[name]["positions"].shape[0]
                        _progress(f"dataset: {path.name}: {frames} frames in {time.monotonic() - start:.1f} s")
            h5.attrs["n_atoms"] = header.n_atoms
            h5.attrs["box"] = reference["box"]
            h5.attrs["frame_stride"] = reference["stride"]
            h5.create_dataset("types", data=reference["types"])
            h5.create_dataset("ids", data=reference["ids"])
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    if not quiet:
        _progress(f"dataset: wrote {output}")
    return output


def _write_trajectory(group, name: str, path: Path, header, reference: dict | None, nsteps: int | None) -> dict:
    """Stream one dump into group/name; check it against the data file, earlier dumps and the
    deck's trajectory length (system.json's nsteps)."""
    n = header.n_atoms
    traj = group.create_group(name)
    traj.attrs["source"] = path.name
    chunk = (1, n, 3)
    pos = traj.create_dataset("positions", (0, n, 3), maxshape=(None, n, 3), dtype="f8", chunks=chunk)
    vel = traj.create_dataset("velocities", (0, n, 3), maxshape=(None, n, 3), dtype="f8", chunks=chunk)
    steps = []
    for i, frame in enumerate(read_dump(path)):
        if len(frame.ids) != n:
            raise LammpsFileError(path, frame.line, f"expected {n} atoms (as in the data file), found {len(frame.ids)}")
        if reference is None:
            reference = {"ids": frame.ids, "types": frame.types, "box": frame.box, "stride": None}
            bad = (frame.types < 1) | (frame.types > header.n_types)
            if bad.any():
                raise LammpsFileError(path, frame.line, f"atom type {frame.types[bad][0]} outside 1..{header.n_types}")
        elif not (np.array_equal(frame.ids, reference["ids"]) and np.array_equal(frame.types, reference["types"])):
            raise LammpsFileError(path, frame.line, "atom ids or types differ from the first frame of the first dump")
        if not np.array_equal(frame.box, reference["box"]):
            raise LammpsFileError(path, frame.line, f"box {frame.box.tolist()} differs from {reference['box'].tolist()} (NVE keeps the box)")
        if steps:
            stride = frame.timestep - steps[-1]
            if reference["stride"] is None:
                reference["stride"] = stride
            if stride != reference["stride"] or stride <= 0:
                raise LammpsFileError(
                    path, frame.line, f"timestep {frame.timestep} after {steps[-1]}: expected a stride of {reference['stride']}, found {stride}"
                )
        if i >= pos.shape[0]:  # grow in blocks; trimmed below
            pos.resize(i + 256, axis=0)
            vel.resize(i + 256, axis=0)
        pos[i] = frame.positions
        vel[i] = frame.velocities
        steps.append(frame.timestep)
    if len(steps) < 2:
        raise LammpsFileError(path, None, f"a trajectory needs at least 2 frames, found {len(steps)}")
    # A dump cut exactly at a frame boundary (a deck stopped mid-run, a copy interrupted) reads
    # as a valid shorter trajectory; the deck recorded how long each one is.
    if nsteps is not None and steps[-1] - steps[0] != int(nsteps):
        raise LammpsFileError(
            path, None, f"covers {steps[-1] - steps[0]} MD steps (timesteps {steps[0]} to {steps[-1]}, {len(steps)} "
            f"frames), but system.json gives nsteps = {nsteps}: the dump is cut short (was the ground-truth run "
            "interrupted?); run the deck again"
        )
    pos.resize(len(steps), axis=0)
    vel.resize(len(steps), axis=0)
    traj.create_dataset("timesteps", data=np.array(steps, dtype=np.int64))
    return reference


@dataclass
class Dataset:
    """Read access to a dataset file; frames are read from disk on demand."""

    path: Path

    def __post_init__(self):
        self.path = Path(self.path)
        self._h5 = h5py.File(self.path, "r")
        attrs = self._h5.attrs
        if attrs.get("format_version") != FORMAT_VERSION:
            raise DatasetError(f"{self.path}: dataset format {attrs.get('format_version')}, expected {FORMAT_VERSION}")
        self.system = str(attrs["system"])
        self.units = str(attrs["units"])
        self.dt = float(attrs["dt"])
        self.masses = np.asarray(attrs["masses"])
        self.type_names = json.loads(attrs["type_names"])
        self.box = np.asarray(attrs["box"])
        self.frame_stride = int(attrs["frame_stride"])
        self.info = json.loads(attrs["system_json"])
        self.types = self._h5["types"][()]
        self.ids = self._h5["ids"][()]

    def trajectories(self, split: str) -> list[str]:
        return sorted(self._h5[split].keys())

    def n_frames(self, split: str, name: str) -> int:
        return self._h5[split][name]["positions"].shape[0]

    def frame(self, split: str, name: str, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocities) of one frame, each (N, 3) float64."""
        traj = self._h5[split][name]
        return traj["positions"][index], traj["velocities"][index]

    def trajectory(self, split: str, name: str) -> dict[str, np.ndarray]:
        traj = self._h5[split][name]
        return {key: traj[key][()] for key in ("positions", "velocities", "timesteps")}

    def close(self):
        self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ogn_lammps.dataset",
        description="Turn a ground-truth deck's output folder (dumps, data files, system.json) into one HDF5 dataset file.",
    )
    parser.add_argument("folder", help="output folder of inputs/<sys>_ground_truth.in, e.g. data/lj")
    parser.add_argument("-o", "--output", help="dataset file to write (default: FOLDER/dataset.h5)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    try:
        path = build(args.folder, args.output, quiet=args.quiet)
    except (LammpsFileError, DatasetError) as err:
        print(f"ogn_lammps.dataset: error: {err}", file=sys.stderr)
        return 2
    with Dataset(path) as ds:
        counts = {s: len(ds.trajectories(s)) for s in SPLITS}
        frames = sum(ds.n_frames(s, t) for s in SPLITS for t in ds.trajectories(s))
        print(
            f"{path}: {ds.system}, {len(ds.types)} atoms, {counts['train']} train + {counts['test']} test "
            f"trajectories, {frames} frames, dt {ds.dt} ({ds.units} units)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
