"""python -m ogn_lammps.dataset: an exact round trip of real deck output, and clear errors."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ogn_lammps.data.dataset import Dataset, build
from ogn_lammps.data.lammps_files import LammpsFileError, read_dump


def dump_tokens(path):
    """Independent reading: the atom lines of every frame, as the text tokens LAMMPS printed."""
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    frames, i = [], 0
    while i < len(lines):
        n = int(lines[i + 3])
        frames.append([line.split() for line in lines[i + 9 : i + 9 + n]])
        i += 9 + n
    return frames


def test_round_trip_matches_dumps_to_the_last_digit(tiny_lj, tmp_path):
    path = build(tiny_lj, tmp_path / "lj.h5", quiet=True)
    with Dataset(path) as ds:
        assert ds.trajectories("train") == ["train_00", "train_01"]
        assert ds.trajectories("test") == ["test_00"]
        assert (ds.system, ds.units, ds.dt, ds.frame_stride) == ("lj", "lj", 0.005, 1)
        assert ds.type_names == ["A", "B"] and ds.masses.tolist() == [1.0, 1.0]
        for split in ("train", "test"):
            for name in ds.trajectories(split):
                tokens = dump_tokens(tiny_lj / f"{name}.dump.gz")
                traj = ds.trajectory(split, name)
                assert traj["timesteps"].tolist() == list(range(31))
                assert len(tokens) == 31
                for t, atoms in enumerate(tokens):
                    table = np.array(atoms, dtype=float)  # numpy's own parser, not ours
                    assert np.array_equal(ds.ids, table[:, 0]) and np.array_equal(ds.types, table[:, 1])
                    assert np.array_equal(traj["positions"][t], table[:, 2:5])
                    assert np.array_equal(traj["velocities"][t], table[:, 5:8])
                    # the deck prints %.10g: each stored number prints back to the same text
                    printed = [f"{v:.10g}" for v in traj["velocities"][t].ravel()]
                    assert printed == [tok for row in atoms for tok in row[5:8]]
        box = np.array([[float(x) for x in line.split()] for line in gzip.open(tiny_lj / "test_00.dump.gz", "rt").read().splitlines()[5:8]])
        assert np.array_equal(ds.box, box)
        positions, velocities = ds.frame("test", "test_00", 17)
        assert positions.shape == velocities.shape == (265, 3)


def _corrupt(tiny_lj, tmp_path, edit):
    """A copy of the tiny deck output whose train_01 dump is edited as plain text lines."""
    folder = tmp_path / "bad"
    shutil.copytree(tiny_lj, folder)
    dump = folder / "train_01.dump.gz"
    with gzip.open(dump, "rt") as handle:
        lines = handle.read().splitlines(keepends=True)
    lines = edit(lines)
    dump.unlink()
    (folder / "train_01.dump").write_text("".join(lines))
    return folder, folder / "train_01.dump"


FRAME = 9 + 265  # lines per frame


def _truncate(lines):
    return lines[: 3 * FRAME + 100]


def _bad_number(lines):
    fields = lines[FRAME + 9 + 4].split()
    fields[3] = "nan-ish"
    lines[FRAME + 9 + 4] = " ".join(fields) + "\n"
    return lines


def _atom_count(lines):
    lines[2 * FRAME + 3] = "264\n"
    del lines[2 * FRAME + 9]
    return lines


def _missing_column(lines):
    out = []
    for line in lines:
        if line.startswith("ITEM: ATOMS"):
            out.append("ITEM: ATOMS id type xu yu zu vx vy\n")
        elif len(line.split()) == 8:
            out.append(" ".join(line.split()[:7]) + "\n")
        else:
            out.append(line)
    return out


def _unsorted(lines):
    a, b = FRAME + 9 + 10, FRAME + 9 + 11
    lines[a], lines[b] = lines[b], lines[a]
    return lines


@pytest.mark.parametrize(
    "edit, line, words",
    [
        (_truncate, 3 * FRAME + 100, ["truncated dump", "timestep 3", "needs 265 atom lines", "ends after 91"]),
        (_bad_number, FRAME + 14, ["not a number", "nan-ish"]),
        (_atom_count, 2 * FRAME + 4, ["inconsistent atom count", "expected 265", "found 264"]),
        (_missing_column, 9, ["missing column(s) vz", "found id type xu yu zu vx vy"]),
        (_unsorted, FRAME + 21, ["not sorted", "id 11 follows id 12", "dump_modify sort id"]),
    ],
    ids=["truncated", "bad-number", "atom-count", "missing-column", "unsorted-ids"],
)
def test_bad_dump_errors_name_file_and_line(tiny_lj, tmp_path, edit, line, words):
    folder, dump = _corrupt(tiny_lj, tmp_path, edit)
    with pytest.raises(LammpsFileError) as err:
        build(folder, quiet=True)
    message = str(err.value)
    assert message.startswith(f"{dump}:{line}: "), message
    for word in words:
        assert word in message, message
    assert not list(folder.glob("*.h5")) and not list(folder.glob(".*tmp")), "no partial dataset file"


def test_corrupt_gzip_is_reported(tiny_lj, tmp_path):
    folder = tmp_path / "gz"
    shutil.copytree(tiny_lj, folder)
    dump = folder / "test_00.dump.gz"
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])
    with pytest.raises(LammpsFileError) as err:
        build(folder, quiet=True)
    assert str(err.value).startswith(f"{dump}:") and "cannot read past this line" in str(err.value)


def test_reading_streams_frames_before_a_bad_tail(tiny_lj, tmp_path):
    folder, dump = _corrupt(tiny_lj, tmp_path, _truncate)
    frames = read_dump(dump)
    assert next(frames).timestep == 0  # the good head is usable before the bad tail is read
    assert [next(frames).timestep for _ in range(2)] == [1, 2]
    with pytest.raises(LammpsFileError):
        next(frames)


def test_dump_cut_at_a_frame_boundary_is_refused_with_the_expected_length(tiny_lj, tmp_path):
    # 31 frames of 30 MD steps (tiny_lj: nsteps 30, dumped every step); keep the first 16 whole
    folder, dump = _corrupt(tiny_lj, tmp_path, lambda lines: lines[: 16 * FRAME])
    with pytest.raises(LammpsFileError) as err:
        build(folder, quiet=True)
    message = str(err.value)
    assert message.startswith(f"{dump}:"), message
    assert "covers 15 MD steps" in message and "nsteps = 30" in message, message
    assert not list(folder.glob("*.h5")), "no partial dataset file"


def test_failed_build_keeps_the_previous_dataset(tiny_lj, tmp_path):
    good = build(tiny_lj, tmp_path / "keep.h5", quiet=True)
    before = good.read_bytes()
    folder, _ = _corrupt(tiny_lj, tmp_path, _unsorted)
    with pytest.raises(LammpsFileError):
        build(folder, good, quiet=True)
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["keep.h5"]


def test_command_line(tiny_lj, tmp_path):
    out = tmp_path / "cli.h5"
    ok = subprocess.run([sys.executable, "-m", "ogn_lammps.dataset", str(tiny_lj), "-o", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "2 train + 1 test trajectories" in ok.stdout and out.is_file()
    assert "dataset: train_00.dump.gz: 31 frames" in ok.stderr  # progress per file
    folder, dump = _corrupt(tiny_lj, tmp_path, _missing_column)
    bad = subprocess.run([sys.executable, "-m", "ogn_lammps.dataset", str(folder)], capture_output=True, text=True)
    assert bad.returncode == 2
    assert f"ogn_lammps.dataset: error: {dump}:9: missing column(s) vz" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "ogn_lammps.dataset", str(tmp_path / "nothing")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no such folder" in missing.stderr
