"""Streaming readers for the LAMMPS files the ground-truth decks write.

`read_dump` yields one frame at a time from a text dump (plain or gzip), so a trajectory
never has to fit in memory. `read_data_header` reads the masses, type labels and box of a
`write_data` file. `read_thermo` reads the thermo tables of a log by their header line.
Every problem raises `LammpsFileError` naming the file and the line.
"""

from __future__ import annotations

import gzip
import itertools
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

# The columns a ground-truth dump must carry (any order): unwrapped positions so that a
# displacement never jumps across the box (design notes, section 3).
REQUIRED_COLUMNS = ("id", "type", "xu", "yu", "zu", "vx", "vy", "vz")


class LammpsFileError(ValueError):
    """A LAMMPS file that cannot be used, with the place and the reason."""

    def __init__(self, path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


@dataclass
class Frame:
    timestep: int
    box: np.ndarray  # (3, 2): lo, hi per axis
    ids: np.ndarray  # (N,) int64
    types: np.ndarray  # (N,) int32, LAMMPS types from 1
    positions: np.ndarray  # (N, 3) unwrapped
    velocities: np.ndarray  # (N, 3)
    line: int  # line of the frame's "ITEM: TIMESTEP"


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="ascii", newline="")
    return open(path, "rt", encoding="ascii", newline="")


class _Lines:
    """Numbered lines of a file; read errors (corrupt gzip, bad bytes) become LammpsFileError."""

    def __init__(self, path: Path, handle):
        self.path, self.handle, self.number = path, handle, 0

    def _fail(self, err: Exception):
        raise LammpsFileError(
            self.path, self.number + 1, f"cannot read past this line: {type(err).__name__}: {err}"
        ) from err

    def next(self) -> str | None:
        try:
            line = self.handle.readline()
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
            self._fail(err)
        if not line:
            return None
        self.number += 1
        return line

    def take(self, n: int) -> list[str]:
        try:
            lines = list(itertools.islice(self.handle, n))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
            self._fail(err)
        self.number += len(lines)
        return lines


def _value_line(lines: _Lines, what: str, frame_line: int) -> str:
    line = lines.next()
    if line is None:
        raise LammpsFileError(
            lines.path, lines.number, f"file ends inside the frame that starts at line {frame_line}: expected {what}"
        )
    return line


def _expect_item(lines: _Lines, item: str, frame_line: int) -> str:
    line = _value_line(lines, f"'ITEM: {item}'", frame_line)
    if not line.startswith("ITEM: " + item):
        raise LammpsFileError(lines.path, lines.number, f"expected 'ITEM: {item}', found {line.strip()[:60]!r}")
    return line


def _int(lines: _Lines, text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise LammpsFileError(lines.path, lines.number, f"expected {what} (an integer), found {text.strip()[:60]!r}") from None


def _parse_atoms(lines: _Lines, atom_lines: list[str], first: int, ncol: int) -> np.ndarray:
    """(N, ncol) float64 from the atom lines; on a bad line, name it."""
    try:
        values = np.array(" ".join(atom_lines).split(), dtype=np.float64)
        if values.size == len(atom_lines) * ncol:
            return values.reshape(len(atom_lines), ncol)
    except ValueError:
        pass
    for offset, line in enumerate(atom_lines):
        fields = line.split()
        if len(fields) != ncol:
            raise LammpsFileError(
                lines.path, first + offset, f"expected {ncol} columns, found {len(fields)}: {line.strip()[:80]!r}"
            )
        for field in fields:
            try:
                float(field)
            except ValueError:
                raise LammpsFileError(lines.path, first + offset, f"not a number: {field[:40]!r}") from None
    raise AssertionError("unreachable: atom lines parsed line by line but not together")


def read_dump(path: str | Path) -> Iterator[Frame]:
    """Yield the frames of a LAMMPS text dump `id type xu yu zu vx vy vz`, one at a time.

    Checks each frame: the header items, an orthogonal periodic box, the required columns,
    the atom count (equal in every frame), and ids sorted ascending (`dump_modify sort id`).
    """
    path = Path(path)
    if not path.is_file():
        raise LammpsFileError(path, None, "no such dump file")
    with _open_text(path) as handle:
        lines = _Lines(path, handle)
        natoms = None
        while True:
            line = lines.next()
            if line is None:
                if natoms is None:
                    raise LammpsFileError(path, None, "empty dump file: no frame")
                return
            frame_line = lines.number
            if not line.startswith("ITEM: TIMESTEP"):
                raise LammpsFileError(path, frame_line, f"expected 'ITEM: TIMESTEP', found {line.strip()[:60]!r}")
            timestep = _int(lines, _value_line(lines, "the timestep", frame_line), "the timestep")
            _expect_item(lines, "NUMBER OF ATOMS", frame_line)
            n = _int(lines, _value_line(lines, "the number of atoms", frame_line), "the number of atoms")
            if natoms is None:
                natoms = n
            elif n != natoms:
                raise LammpsFileError(
                    path, lines.number, f"inconsistent atom count: expected {natoms} (as in the first frame), found {n}"
                )
            header = _expect_item(lines, "BOX BOUNDS", frame_line).split()[3:]
            if len(header) != 3:
                raise LammpsFileError(
                    path, lines.number, f"only orthogonal boxes are supported, found box header {' '.join(header)!r}"
                )
            if header != ["pp", "pp", "pp"]:
                raise LammpsFileError(path, lines.number, f"expected a periodic box 'pp pp pp', found {' '.join(header)!r}")
            box = np.empty((3, 2))
            for axis in range(3):
                fields = _value_line(lines, "the box bounds", frame_line).split()
                try:
                    box[axis] = [float(fields[0]), float(fields[1])]
                except (ValueError, IndexError):
                    raise LammpsFileError(path, lines.number, f"expected 'lo hi' box bounds, found {' '.join(fields)!r}") from None
            columns = _expect_item(lines, "ATOMS", frame_line).split()[2:]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise LammpsFileError(
                    path,
                    lines.number,
                    f"missing column(s) {' '.join(missing)}: expected {' '.join(REQUIRED_COLUMNS)}, found {' '.join(columns)}",
                )
            first = lines.number + 1
            atom_lines = lines.take(n)
            if len(atom_lines) < n:
                raise LammpsFileError(
                    path,
                    lines.number,
                    f"truncated dump: the frame at timestep {timestep} (line {frame_line}) needs {n} atom lines, "
                    f"the file ends after {len(atom_lines)}",
                )
            table = _parse_atoms(lines, atom_lines, first, len(columns))
            col = {name: table[:, i] for i, name in enumerate(columns)}
            ids = col["id"].astype(np.int64)
            unsorted = np.flatnonzero(np.diff(ids) <= 0)
            if unsorted.size:
                bad = int(unsorted[0]) + 1
                raise LammpsFileError(
                    path,
                    first + bad,
                    f"atom ids not sorted: id {ids[bad]} follows id {ids[bad - 1]} (write the dump with 'dump_modify sort id')",
                )
            yield Frame(
                timestep=timestep,
                box=box,
                ids=ids,
                types=col["type"].astype(np.int32),
                positions=np.stack([col["xu"], col["yu"], col["zu"]], axis=1),
                velocities=np.stack([col["vx"], col["vy"], col["vz"]], axis=1),
                line=frame_line,
            )


@dataclass
class DataHeader:
    n_atoms: int
    n_types: int
    masses: np.ndarray  # (n_types,) per type, type 1 first
    type_names: list[str]
    box: np.ndarray  # (3, 2)
    units: str | None


def read_data_header(path: str | Path) -> DataHeader:
    """Counts, box, masses and type labels of a LAMMPS data file (the Atoms are not read)."""
    path = Path(path)
    if not path.is_file():
        raise LammpsFileError(path, None, "no such data file")
    n_atoms = n_types = None
    units = None
    box = np.zeros((3, 2))
    masses: dict[int, float] = {}
    labels: dict[int, str] = {}
    section = None
    with open(path, "rt", encoding="ascii", errors="replace") as handle:
        first = handle.readline()
        if "units = " in first:
            units = first.split("units = ")[1].split()[0].strip(",")
        for number, line in enumerate(handle, start=2):
            text = line.split("#")[0].strip()
            if not text:
                continue
            fields = text.split()
            try:
                if fields[-1] == "atoms" and len(fields) == 2:
                    n_atoms = int(fields[0])
                elif fields[-2:] == ["atom", "types"]:
                    n_types = int(fields[0])
                elif len(fields) == 4 and fields[2].endswith("lo") and fields[3].endswith("hi"):
                    box["xyz".index(fields[2][0])] = [float(fields[0]), float(fields[1])]
                elif fields[0][0].isalpha():
                    section = text
                    if section == "Atoms":
                        break
                elif section == "Masses":
                    masses[int(fields[0])] = float(fields[1])
                elif section == "Atom Type Labels":
                    labels[int(fields[0])] = fields[1]
            except (ValueError, IndexError):
                raise LammpsFileError(path, number, f"cannot read {text[:60]!r}") from None
    if n_atoms is None or n_types is None:
        raise LammpsFileError(path, None, "not a LAMMPS data file: no 'atoms' and 'atom types' counts")
    if sorted(masses) != list(range(1, n_types + 1)):
        raise LammpsFileError(path, None, f"Masses section: expected types 1..{n_types}, found {sorted(masses)}")
    names = [labels.get(t, str(t)) for t in range(1, n_types + 1)]
    return DataHeader(
        n_atoms=n_atoms,
        n_types=n_types,
        masses=np.array([masses[t] for t in range(1, n_types + 1)]),
        type_names=names,
        box=box,
        units=units,
    )


# LAMMPS's thermo header names of the keywords the decks print (Thermo::header), back to the
# keywords; v_NAME and c_ID lose their prefix, other names are lower-cased
THERMO_NAMES = {"Step": "step", "Time": "time", "Atoms": "atoms", "Temp": "temp", "Press": "press",
                "PotEng": "pe", "KinEng": "ke", "TotEng": "etotal", "E_pair": "epair", "Volume": "vol",
                "Density": "density", "Elapsed": "elapsed", "CPU": "cpu", "Dt": "dt"}


def _numbers(fields: list[str]) -> list[float] | None:
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def thermo_name(header: str) -> str:
    """The keyword (step, temp, pe, ...) or variable or compute name of a thermo column."""
    if header.startswith(("v_", "c_")):
        return header[2:]
    return THERMO_NAMES.get(header, header.lower())


def read_thermo_blocks(text: str) -> list[dict[str, np.ndarray]]:
    """Every thermo table of a LAMMPS log, one per run, keyed by `thermo_name` of its header.

    A table starts at a header line of names followed by a row of as many numbers, and ends
    at "Loop time of"; lines between its rows that are not rows (warnings, a fix's own
    output) are skipped.
    """
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines) - 1:
        names = lines[i].split()
        first = lines[i + 1].split()
        if not names or _numbers(names) is not None or any(_numbers([n]) is not None for n in names) \
                or len(first) != len(names) or _numbers(first) is None:
            i += 1
            continue
        rows, i = [], i + 1
        while i < len(lines) and not lines[i].startswith("Loop time of"):
            fields = lines[i].split()
            values = _numbers(fields) if len(fields) == len(names) else None
            if values is not None:
                rows.append(values)
            i += 1
        table = np.array(rows, dtype=float).reshape(-1, len(names))
        blocks.append({thermo_name(n): table[:, c] for c, n in enumerate(names)})
    return blocks


def read_thermo(text: str, columns: tuple[str, ...] | list[str] | None = None) -> dict[str, np.ndarray]:
    """The thermo rows of a log: every table with the columns of the last one (or of
    `columns`), concatenated in order; `columns`, when given, are the keys of an empty table
    for a log without rows (a run that stopped early)."""
    blocks = read_thermo_blocks(text)
    names = list(columns) if columns is not None else (list(blocks[-1]) if blocks else [])
    chosen = [b for b in blocks if list(b) == names]
    return {name: np.concatenate([b[name] for b in chosen]) if chosen else np.zeros(0) for name in names}
